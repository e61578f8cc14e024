package unit

import (
	"strings"
	"testing"
)

func FuzzParseEnvironment(f *testing.F) {
	for _, s := range []string{`A=b C="d e"`, `'X=1 2' \x41=1`, `A="`, `=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		assigns, _, err := ParseEnvironment(in)
		if err != nil {
			return
		}
		for _, a := range assigns {
			k, _, ok := strings.Cut(a, "=")
			if !ok || !validEnvName(k) {
				t.Fatalf("invalid assignment %q accepted from %q", a, in)
			}
		}
	})
}

func FuzzParseRlimit(f *testing.F) {
	for _, s := range []string{"NOFILE 1024:4096", "AS 1G", "CPU 1h:infinity", "NICE -5", "RTTIME 5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, val, _ := strings.Cut(in, " ")
		r, err := ParseRlimit(name, val)
		if err == nil && r.Soft > r.Hard {
			t.Fatalf("soft %d above hard %d from %q", r.Soft, r.Hard, in)
		}
	})
}

func FuzzParseExitStatusSet(f *testing.F) {
	for _, s := range []string{"0 1 SIGHUP", "TEMPFAIL 255", "256", "SIGRTMIN+3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		set, err := ParseExitStatusSet(in)
		if err != nil {
			return
		}
		for _, c := range set.Codes {
			if c < 0 || c > 255 {
				t.Fatalf("code %d from %q", c, in)
			}
		}
		for _, s := range set.Signals {
			if s < 1 || s > 64 {
				t.Fatalf("signal %d from %q", s, in)
			}
		}
	})
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a@b.service", "../x.service", "a.service", "@.service"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if ValidName(in) != nil {
			return
		}
		if strings.ContainsAny(in, "/ \x00") || len(in) > NameMax {
			t.Fatalf("ValidName accepted %q", in)
		}
		p, _, k := SplitName(in)
		if p == "" || !KnownKind(k) {
			t.Fatalf("valid name %q splits into %q %q", in, p, k)
		}
	})
}
