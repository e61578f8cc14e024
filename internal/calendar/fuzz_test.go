package calendar

import (
	"testing"
	"time"
)

// FuzzParse: no input crashes the parser or Next, and the normalized form
// is a fixed point: it parses back to itself.
func FuzzParse(f *testing.F) {
	for _, tc := range manSpecs {
		f.Add(tc.in)
	}
	for _, s := range extraSpecs {
		f.Add(s)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Skip("no zone database")
	}
	base := time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseIn(s, berlin)
		if err != nil {
			return
		}
		norm := sp.String()
		again, err := ParseIn(norm, berlin)
		if err != nil {
			t.Fatalf("%q normalizes to %q, which does not parse: %v", s, norm, err)
		}
		if got := again.String(); got != norm {
			t.Fatalf("%q normalizes to %q, which normalizes to %q", s, norm, got)
		}
		if next := sp.Next(base); !next.IsZero() && !next.After(base) {
			t.Fatalf("%q: Next(%v) = %v, not after it", s, base, next)
		}
	})
}

// FuzzTimespan: spans that parse format to text that parses to the same
// value.
func FuzzTimespan(f *testing.F) {
	for _, s := range spanCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTimespan(s)
		if err != nil || (v != Infinity && v > 1<<62) {
			// Near the top of the range the formatted text can overflow
			// where its pieces did not ("1y584541y" → "584542y"), in
			// systemd too.
			return
		}
		back, err := ParseTimespan(v.String())
		if err != nil || back != v {
			t.Fatalf("%q = %d formats as %q, which parses to %d (%v)", s, v, v.String(), back, err)
		}
	})
}
