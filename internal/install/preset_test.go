package install

import (
	"strings"
	"testing"
)

func TestParsePresets(t *testing.T) {
	rules, err := parsePresets(strings.NewReader("# c\n\nenable a.service\ndisable  b*.service extra\nignore c.service\n; c\n"), "p")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.service": StateEnabled, "bx.service": StateDisabled, "c.service": "ignored", "z.service": StateEnabled} {
		if got := rules.state(name); got != want {
			t.Errorf("state(%s) = %q; want %q", name, got, want)
		}
	}
	for _, bad := range []string{"frobnicate x.service\n", "enable\n"} {
		if _, err := parsePresets(strings.NewReader(bad), "p"); err == nil || !strings.HasPrefix(err.Error(), "p:1:") {
			t.Errorf("parsePresets(%q) err = %v; want p:1: error", bad, err)
		}
	}
}

func FuzzParsePresets(f *testing.F) {
	f.Add("enable a.service\ndisable *\n")
	f.Fuzz(func(t *testing.T, in string) {
		rules, err := parsePresets(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.pattern == "" || r.verb != "enable" && r.verb != "disable" && r.verb != "ignore" {
				t.Fatalf("bad rule %+v from %q", r, in)
			}
		}
		_ = rules.state("x.service")
	})
}
