package syslogconf

import (
	"testing"
)

// sel lists "fac.pri" pairs a selector matches, as facility and priority
// numbers, for compact expectations.
func matches(s Selector) map[[2]int]bool {
	m := map[[2]int]bool{}
	for f := range NumFacilities {
		for p := range 8 {
			if s.Match(f, p) {
				m[[2]int{f, p}] = true
			}
		}
	}
	return m
}

func TestParseSelector(t *testing.T) {
	const kern, user, mail, daemon, auth, authpriv, cron, local7 = 0, 1, 2, 3, 4, 10, 9, 23
	tests := []struct {
		sel       string
		yes, no   [][2]int // [facility, priority] pairs
		wantCount int      // number of pairs selected; -1 to skip
	}{
		{"*.*", [][2]int{{kern, 0}, {local7, 7}}, nil, 24 * 8},
		{"mail.*", [][2]int{{mail, 7}, {mail, 0}}, [][2]int{{user, 0}}, 8},
		{"mail.info", [][2]int{{mail, 6}, {mail, 0}}, [][2]int{{mail, 7}}, 7},
		{"mail.=info", [][2]int{{mail, 6}}, [][2]int{{mail, 5}, {mail, 7}}, 1},
		{"mail.*;mail.!err", [][2]int{{mail, 4}, {mail, 7}}, [][2]int{{mail, 3}, {mail, 0}}, 4},
		{"mail.*;mail.!=info", [][2]int{{mail, 7}, {mail, 5}}, [][2]int{{mail, 6}}, 7},
		{"*.*;auth,authpriv.none", [][2]int{{user, 6}}, [][2]int{{auth, 0}, {authpriv, 6}}, 22 * 8},
		{"auth,authpriv.*", [][2]int{{auth, 7}, {authpriv, 0}}, [][2]int{{user, 0}}, 16},
		{"*.emerg", [][2]int{{kern, 0}, {local7, 0}}, [][2]int{{kern, 1}}, 24},
		{"kern.warn", [][2]int{{kern, 4}}, [][2]int{{kern, 5}}, 5},
		{"security.panic", [][2]int{{auth, 0}}, nil, 1},
		{"CRON.INFO", [][2]int{{cron, 6}}, nil, 7},
		{"mail.*;mail.!*", nil, [][2]int{{mail, 0}}, 0},
		{"mark.*", nil, nil, 0},
		{"daemon.err;daemon.=debug", [][2]int{{daemon, 3}, {daemon, 7}}, [][2]int{{daemon, 6}}, 5},
	}
	for _, tt := range tests {
		s, err := ParseSelector(tt.sel)
		if err != nil {
			t.Errorf("%s: %v", tt.sel, err)
			continue
		}
		for _, p := range tt.yes {
			if !s.Match(p[0], p[1]) {
				t.Errorf("%s: %d.%d not selected", tt.sel, p[0], p[1])
			}
		}
		for _, p := range tt.no {
			if s.Match(p[0], p[1]) {
				t.Errorf("%s: %d.%d selected", tt.sel, p[0], p[1])
			}
		}
		if got := len(matches(s)); tt.wantCount >= 0 && got != tt.wantCount {
			t.Errorf("%s: selects %d pairs; want %d", tt.sel, got, tt.wantCount)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	for _, sel := range []string{"", "mail", "mail.", ".info", "bogus.info", "mail.loud", "mail.=none",
		"mail.=*", "mail.!none", "mail.info;", "mail,,user.info"} {
		if _, err := ParseSelector(sel); err == nil {
			t.Errorf("%q: no error", sel)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"*.*", "mail.info;mail.!err", "auth,authpriv.none", "kern.=debug", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil && !sel.Empty() {
			t.Fatalf("%q: error %v with a non-empty selector", s, err)
		}
		if sel.Match(-1, 0) || sel.Match(0, 8) || sel.Match(NumFacilities, 0) {
			t.Fatalf("%q: matches out of range", s)
		}
	})
}
