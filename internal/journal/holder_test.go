package journal

import "testing"

func TestHeldName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		unit   string
		stream Stream
		ino    uint64
		ok     bool
	}{
		{HeldName("web.service", StreamStdout, 42), "web.service", StreamStdout, 42, true},
		{HeldName("a:b@x.service", StreamStderr, 7), "a:b@x.service", StreamStderr, 7, true},
		{"journal:web.service:stdout:", "", 0, 0, false},
		{"journal:web.service:tend:3", "", 0, 0, false},
		{"journal::stdout:3", "", 0, 0, false},
		{"socket:web.socket:x", "", 0, 0, false},
		{"journal:stdout:3", "", 0, 0, false},
	} {
		u, s, i, ok := ParseHeldName(tc.name)
		if ok != tc.ok || u != tc.unit || s != tc.stream || i != tc.ino {
			t.Errorf("%q: got %q %v %d %v", tc.name, u, s, i, ok)
		}
	}
}

func FuzzParseHeldName(f *testing.F) {
	f.Add("journal:web.service:stdout:42")
	f.Add("journal:::")
	f.Fuzz(func(t *testing.T, name string) {
		u, s, i, ok := ParseHeldName(name)
		if ok && HeldName(u, s, i) != name {
			// Only a canonical name round-trips; numbers with leading
			// zeros or a '+' parse too.
			if u2, s2, i2, ok2 := ParseHeldName(HeldName(u, s, i)); !ok2 || u2 != u || s2 != s || i2 != i {
				t.Fatalf("%q: %q %v %d does not round-trip", name, u, s, i)
			}
		}
	})
}
