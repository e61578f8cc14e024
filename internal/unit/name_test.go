package unit

import (
	"os/exec"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	good := []string{"a.service", "getty@tty1.service", "getty@.service", "foo-bar_baz:x.target",
		`sys-devices-x\x2dy.device`, "a.b.c.mount", strings.Repeat("a", 247) + ".service"}
	bad := []string{"", "a", "a.", ".service", "a.nosuchtype", "a/b.service", "../x.service", "a..b.service",
		"a@b@c.service", "a b.service", "a$.service", "@x.service", "a@x y.service",
		strings.Repeat("a", 248) + ".service"}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v; want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidName(n); err == nil {
			t.Errorf("ValidName(%q) = nil; want error", n)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		in, prefix, inst string
		kind             Kind
		tmpl             string
	}{
		{"getty@tty1.service", "getty", "tty1", KindService, "getty@.service"},
		{"getty@.service", "getty", "", KindService, ""},
		{"web.service", "web", "", KindService, ""},
		{"a.b.socket", "a.b", "", KindSocket, ""},
		{"x@a.b.timer", "x", "a.b", KindTimer, "x@.timer"},
	}
	for _, tt := range tests {
		p, i, k := SplitName(tt.in)
		if p != tt.prefix || i != tt.inst || k != tt.kind || TemplateOf(tt.in) != tt.tmpl {
			t.Errorf("SplitName(%q) = %q %q %q tmpl %q", tt.in, p, i, k, TemplateOf(tt.in))
		}
	}
	if got := Instantiate("getty@.service", "tty2"); got != "getty@tty2.service" {
		t.Errorf("Instantiate = %q", got)
	}
	if !IsTemplate("a@.service") || IsTemplate("a@b.service") || IsTemplate("a.service") || !IsInstance("a@b.service") {
		t.Error("IsTemplate/IsInstance wrong")
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, esc, path string }{
		{"foo/bar", `foo-bar`, "foo-bar"},
		{"/dev/sda1", `-dev-sda1`, "dev-sda1"},
		{"a-b c", `a\x2db\x20c`, `a\x2db\x20c`},
		{".hidden", `\x2ehidden`, `\x2ehidden`},
		{"/", "-", "-"},
		{"//a//b/", "--a--b-", "a-b"},
		{"é", `\xc3\xa9`, `\xc3\xa9`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.esc {
			t.Errorf("Escape(%q) = %q; want %q", tt.in, got, tt.esc)
		}
		if got := EscapePath(tt.in); got != tt.path {
			t.Errorf("EscapePath(%q) = %q; want %q", tt.in, got, tt.path)
		}
	}
	if got, err := Unescape(`a\x2db-c`); got != "a-b/c" || err != nil {
		t.Errorf("Unescape = %q, %v", got, err)
	}
	if got, err := UnescapePath(`dev-sda1`); got != "/dev/sda1" || err != nil {
		t.Errorf("UnescapePath = %q, %v", got, err)
	}
	for _, in := range []string{`\x4`, `\y41`, `\xzz`, `\`} {
		if _, err := Unescape(in); err == nil {
			t.Errorf("Unescape(%q) succeeded", in)
		}
	}
}

// TestEscapeOracle compares with systemd-escape.
func TestEscapeOracle(t *testing.T) {
	se, err := exec.LookPath("systemd-escape")
	if err != nil {
		t.Skip("systemd-escape not installed: no oracle")
	}
	for _, in := range []string{"foo/bar", "a-b c", ".x", "tty1", "weird:_.name\\", "ä/ö", "/srv//www/"} {
		out, err := exec.Command(se, "--", in).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Escape(in), strings.TrimSpace(string(out)); got != want {
			t.Errorf("Escape(%q) = %q; systemd-escape says %q", in, got, want)
		}
		out, err = exec.Command(se, "--path", "--", in).Output()
		if err != nil {
			continue // systemd refuses some paths
		}
		if got, want := EscapePath(in), strings.TrimSpace(string(out)); got != want {
			t.Errorf("EscapePath(%q) = %q; systemd-escape --path says %q", in, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"foo/bar", "-", ".", "a\\x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		esc := Escape(in)
		back, err := Unescape(esc)
		if err != nil || back != in {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", in, back, err)
		}
		for i := 0; i < len(esc); i++ {
			if !validNameChar(esc[i]) {
				t.Fatalf("Escape(%q) = %q has invalid byte %q", in, esc, esc[i])
			}
		}
	})
}
