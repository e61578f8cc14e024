package condition

import (
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tendproject/tend/internal/unit"
)

// versionPairs and their order as systemd orders them.
var versionPairs = []struct {
	a, b string
	want int
}{
	{"1.0", "2.0", -1},
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0a", "1.0", 1},
	{"1.0", "1.0.1", -1},
	{"5.10.0-21-amd64", "5.10.0-9-amd64", 1},
	{"6.18.44-fc-v769", "6.18", 1},
	{"1.0.a", "1.0.1", -1},
	{"a", "b", -1},
	{"1_0", "1.0", 1},
	{"1.0-1", "1.0.1", -1},
	{"1..0", "1.0", -1},
	{"2.0", "10", -1},
	{"01", "1", 0},
	{"1.0^", "1.0", 1},
	{"1.0^1", "1.0.1", -1},
	{"1-", "1-.1", 1},
	{"abc", "abcde", -1},
	{"", "1", -1},
	{"", "", 0},
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range versionPairs {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareVersions(%q, %q) = %d; want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// TestCompareVersionsOracle checks the table against systemd-analyze
// where it is installed, so the table itself cannot drift from systemd.
func TestCompareVersionsOracle(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	for _, tc := range versionPairs {
		if tc.a == "" || tc.b == "" {
			continue
		}
		out, err := exec.Command(tool, "compare-versions", tc.a, tc.b).Output()
		if err != nil && len(out) == 0 {
			t.Skipf("systemd-analyze compare-versions unsupported: %v", err)
		}
		f := strings.Fields(string(out))
		if len(f) != 3 {
			t.Fatalf("unexpected output %q", out)
		}
		want := map[string]int{"<": -1, "==": 0, ">": 1}[f[1]]
		if got := compareVersions(tc.a, tc.b); got != want {
			t.Errorf("compareVersions(%q, %q) = %d; systemd says %s", tc.a, tc.b, got, f[1])
		}
	}
}

func TestCutOp(t *testing.T) {
	tests := []struct {
		in   string
		op   op
		rest string
	}{
		{">=5", opGE, "5"}, {"<=5", opLE, "5"}, {"<5", opLT, "5"}, {">5", opGT, "5"},
		{"=5", opEQ, "5"}, {"==5", opVerEQ, "5"}, {"!=5", opNE, "5"}, {"<>5", opVerNE, "5"},
		{"$=5*", opGlob, "5*"}, {"!$=5*", opNotGlob, "5*"}, {"5", opNone, "5"}, {">= 5", opGE, "5"},
	}
	for _, tc := range tests {
		if o, rest := cutOp(tc.in); o != tc.op || rest != tc.rest {
			t.Errorf("cutOp(%q) = %v, %q; want %v, %q", tc.in, o, rest, tc.op, tc.rest)
		}
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"a b  c", "a|b|c"},
		{`"a b" c`, "a b|c"},
		{`x="a b"`, "x=a b"},
		{`'it"s' ok`, `it"s|ok`},
		{"", ""},
		{`""`, ""},
	}
	for _, tc := range tests {
		if got := strings.Join(words(tc.in), "|"); got != tc.want {
			t.Errorf("words(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, tc := range versionPairs {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := compareVersions(a, b), compareVersions(b, a)
		if ab != -ba {
			t.Fatalf("not antisymmetric: (%q, %q) = %d, reverse %d", a, b, ab, ba)
		}
		if compareVersions(a, a) != 0 {
			t.Fatalf("%q differs from itself", a)
		}
	})
}

func FuzzWords(f *testing.F) {
	for _, s := range []string{`a "b c" d`, `'x`, `"`, "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range words(s) {
			if !utf8.ValidString(s) {
				return
			}
			if !strings.ContainsAny(s, `"'`) && (w == "" || strings.ContainsAny(w, " \t\n")) {
				t.Fatalf("words(%q) gave %q without quotes", s, w)
			}
		}
	})
}

// FuzzEval checks that any condition either fails to evaluate or that
// negating it flips the result, against a fixed fixture tree.
func FuzzEval(f *testing.F) {
	env := fixtureEnv(f, map[string]string{
		"root/etc/file":             "x",
		"root/etc/os-release":       "ID=debian\nVERSION_ID=12\n",
		"proc/cmdline":              "quiet a=b",
		"proc/sys/kernel/osrelease": "6.1.0",
		"proc/self/status":          "CapBnd:\t00000000000000ff\n",
		"proc/meminfo":              "MemTotal: 1000 kB\n",
		"proc/pressure/io":          "some avg10=1.00 avg60=1.00 avg300=1.00 total=1\n",
	})
	env.CPUs = 2
	env.Virtualization = func() Virt { return Virt{VM: "kvm", Container: "none"} }
	kinds := []string{}
	for k := range newEvaluator(env).tests() {
		kinds = append(kinds, k)
	}
	for i, arg := range []string{"/etc/file", "6.1.*", ">=1", "ID=debian", "quiet", "CAP_KILL", "10%", "yes", "kvm"} {
		f.Add(uint8(i), arg)
	}
	f.Fuzz(func(t *testing.T, k uint8, arg string) {
		kind := kinds[int(k)%len(kinds)]
		if kind == "PathExistsGlob" && strings.Count(arg, "*") > 8 {
			return // glob matching is exponential in stars; not what is tested here
		}
		c := unit.Condition{Kind: kind, Arg: arg}
		r := Eval([]unit.Condition{c}, env)
		c.Negate = true
		n := Eval([]unit.Condition{c}, env)
		if (r.Err == nil) != (n.Err == nil) {
			t.Fatalf("%s=%q: error only one way: %v / %v", kind, arg, r.Err, n.Err)
		}
		if r.Err == nil && r.OK == n.OK {
			t.Fatalf("%s=%q: negation did not flip the result (%v)", kind, arg, r.OK)
		}
	})
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/with\040space`: "/mnt/with space",
		`/a\011b\134c`:       "/a\tb\\c",
		`/plain`:             "/plain",
		`/short\04`:          `/short\04`,
		`/bad\089`:           `/bad\089`,
		`\`:                  `\`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzUnescapeOctal(f *testing.F) {
	for _, s := range []string{`/a\040b`, `\`, `\1`, `\777`, "/plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := unescapeOctal(s)
		if !strings.Contains(s, `\`) && got != s {
			t.Fatalf("changed %q without escapes to %q", s, got)
		}
		if len(got) > len(s) {
			t.Fatalf("unescaping %q grew it to %q", s, got)
		}
	})
}
