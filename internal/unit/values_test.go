package unit

import (
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTimespan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{"100ms", 100 * time.Millisecond, true},
		{"5min 20s", 320 * time.Second, true},
		{"5min20s", 320 * time.Second, true},
		{"1h", time.Hour, true},
		{"1.5h", 90 * time.Minute, true},
		{" 2 d ", 48 * time.Hour, true},
		{"1w", 7 * 24 * time.Hour, true},
		{"1M", 2629800 * time.Second, true},
		{"1y", 31557600 * time.Second, true},
		{"10us", 10 * time.Microsecond, true},
		{"1h 30", time.Hour + 30*time.Second, true},
		{"infinity", Infinity, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"5.", 0, false},
		{"1e3", 0, false},
		{"5 parsecs", 0, false},
		{"s", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTimespan(tt.in, time.Second)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTimespan(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got, _ := ParseTimespan("500", time.Microsecond); got != 500*time.Microsecond {
		t.Errorf("bare number with µs default = %v", got)
	}
}

// TestTimespanOracle compares with systemd-analyze timespan.
func TestTimespanOracle(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: no oracle")
	}
	re := regexp.MustCompile(`μs: (\d+)`)
	for _, in := range []string{"5", "1.5h", "5min20s", "1 h 30 min", "2weeks", "3months", "1y 2M 3w 4d 5h 6m 7s 8ms 9us",
		"0.25s", "12 hours", "7 sec", "1minute", "5 10", ".5s", "5.", "1e3", "bogus", "3 msec", "1hr"} {
		out, aerr := exec.Command(sa, "timespan", in).CombinedOutput()
		got, err := ParseTimespan(in, time.Second)
		m := re.FindSubmatch(out)
		if aerr != nil || m == nil {
			if err == nil {
				t.Errorf("%q: systemd rejects it, we parse %v", in, got)
			}
			continue
		}
		us, _ := strconv.ParseInt(string(m[1]), 10, 64)
		if err != nil || got.Microseconds() != us {
			t.Errorf("%q: systemd says %dµs, we say %v (%v)", in, us, got, err)
		}
	}
}

func FuzzTimespan(f *testing.F) {
	for _, s := range []string{"5min 20s", "1.5h", "infinity", "1 2 3", "µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseTimespan(in, time.Second)
		if err == nil && d < 0 {
			t.Fatalf("negative span %v from %q", d, in)
		}
		if err == nil && d != Infinity && d%time.Microsecond == 0 && d < 1000*time.Hour {
			back, err := ParseTimespan(FormatTimespan(d), time.Second)
			if err != nil || back != d {
				t.Fatalf("round trip of %v via %q = %v, %v", d, FormatTimespan(d), back, err)
			}
		}
	})
}

func TestFormatTimespan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Second: "1min 30s", 100 * time.Millisecond: "100ms", Infinity: "infinity", 0: "0",
		25 * time.Hour: "1d 1h",
	} {
		if got := FormatTimespan(d); got != want {
			t.Errorf("FormatTimespan(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"1", "yes", "Y", "true", "t", "on", "ON"} {
		if b, err := ParseBool(s); !b || err != nil {
			t.Errorf("ParseBool(%q) = %v, %v; want true", s, b, err)
		}
	}
	for _, s := range []string{"0", "no", "n", "false", "F", "off"} {
		if b, err := ParseBool(s); b || err != nil {
			t.Errorf("ParseBool(%q) = %v, %v; want false", s, b, err)
		}
	}
	for _, s := range []string{"", "2", "yess", "enable"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) succeeded", s)
		}
	}
}

func TestParseRlimit(t *testing.T) {
	inf := RlimInfinity
	tests := []struct {
		name, in string
		want     Rlimit
		ok       bool
	}{
		{"NOFILE", "1024", Rlimit{1024, 1024}, true},
		{"NOFILE", "1024:4096", Rlimit{1024, 4096}, true},
		{"NOFILE", "infinity", Rlimit{inf, inf}, true},
		{"NOFILE", "1024:infinity", Rlimit{1024, inf}, true},
		{"NOFILE", "4096:1024", Rlimit{}, false},
		{"NOFILE", "1K", Rlimit{}, false},
		{"AS", "1G", Rlimit{1 << 30, 1 << 30}, true},
		{"AS", "512K:1M", Rlimit{512 << 10, 1 << 20}, true},
		{"MEMLOCK", "64M", Rlimit{64 << 20, 64 << 20}, true},
		{"CORE", "0", Rlimit{0, 0}, true},
		{"CPU", "1h", Rlimit{3600, 3600}, true},
		{"CPU", "30", Rlimit{30, 30}, true},
		{"CPU", "500ms", Rlimit{1, 1}, true},
		{"RTTIME", "1s", Rlimit{1000000, 1000000}, true},
		{"RTTIME", "200", Rlimit{200, 200}, true},
		{"NICE", "-5", Rlimit{25, 25}, true},
		{"NICE", "30", Rlimit{30, 30}, true},
		{"NICE", "+25", Rlimit{}, false},
		{"BOGUS", "1", Rlimit{}, false},
		{"NPROC", "x", Rlimit{}, false},
	}
	for _, tt := range tests {
		got, err := ParseRlimit(tt.name, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRlimit(%s, %q) = %+v, %v; want %+v ok=%v", tt.name, tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSignalAndExitStatus(t *testing.T) {
	for in, want := range map[string]int{"SIGTERM": 15, "TERM": 15, "sigkill": 9, "1": 1, "SIGRTMIN+2": 36, "SIGRTMAX-1": 63} {
		if got, err := ParseSignal(in); got != want || err != nil {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGFOO", "0", "65", "-1"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", in)
		}
	}
	set, err := ParseExitStatusSet("0 2 SIGHUP TEMPFAIL 255")
	want := ExitStatusSet{Codes: []int{0, 2, 75, 255}, Signals: []int{1}}
	if err != nil || !reflect.DeepEqual(set, want) {
		t.Errorf("ParseExitStatusSet = %+v, %v; want %+v", set, err, want)
	}
	for _, in := range []string{"256", "-1", "FOO", "SIGFOO"} {
		if _, err := ParseExitStatusSet(in); err == nil {
			t.Errorf("ParseExitStatusSet(%q) succeeded", in)
		}
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		invalid []string
	}{
		{`A=b C="d e"`, []string{"A=b", "C=d e"}, nil},
		{`"A=b c" D='x y'`, []string{"A=b c", "D=x y"}, nil},
		{`A=\x41 B=`, []string{"A=A", "B="}, nil},
		{`A=1 noequals 1B=2 _ok=3`, []string{"A=1", "_ok=3"}, []string{"noequals", "1B=2"}},
		{`A=$OTHER`, []string{"A=$OTHER"}, nil},
	}
	for _, tt := range tests {
		got, inv, err := ParseEnvironment(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(inv, tt.invalid) {
			t.Errorf("ParseEnvironment(%q) = %q, %q, %v; want %q, %q", tt.in, got, inv, err, tt.want, tt.invalid)
		}
	}
	if _, _, err := ParseEnvironment(`A="open`); err == nil {
		t.Error("unbalanced quote accepted")
	}
}

func TestParseModeAndSize(t *testing.T) {
	if m, err := ParseMode("0027"); m != 0o027 || err != nil {
		t.Errorf("ParseMode(0027) = %o, %v", m, err)
	}
	for _, in := range []string{"", "8", "0x1", "77777"} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) succeeded", in)
		}
	}
	for in, want := range map[string]uint64{"10": 10, "1K": 1024, "1.5M": 3 << 19, "2G": 2 << 30, "3B": 3} {
		if got, err := ParseSize(in); got != want || err != nil {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize(strings.Repeat("9", 30) + "E"); err == nil {
		t.Error("huge size accepted")
	}
}
