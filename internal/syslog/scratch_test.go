package syslog

import (
	"fmt"
	"testing"
	"time"
)

func TestScratchCloneKeepsNeighbours(t *testing.T) {
	var sc scratch
	a := sc.clone([]byte("first"))
	b := sc.clone([]byte("second"))
	a = append(a, "!!!"...) // must not write over b
	if string(a) != "first!!!" || string(b) != "second" {
		t.Fatalf("a %q b %q", a, b)
	}
	big := make([]byte, slabSize)
	if c := sc.clone(big); len(c) != slabSize {
		t.Fatalf("big clone %d bytes", len(c))
	}
}

func TestScratchStrBounded(t *testing.T) {
	var sc scratch
	if s := sc.str([]byte("host")); s != "host" || sc.str([]byte("host")) != s {
		t.Fatal("str")
	}
	for i := range 3 * maxInterned {
		if s := sc.str(fmt.Appendf(nil, "h%d", i)); s != fmt.Sprintf("h%d", i) {
			t.Fatalf("got %q", s)
		}
	}
	if len(sc.strs) > maxInterned {
		t.Fatalf("%d strings kept; limit %d", len(sc.strs), maxInterned)
	}
}

// TestParseReusesHeaderStrings: a second message from the same sender
// costs no allocation for its header.
func TestParseReusesHeaderStrings(t *testing.T) {
	var sc scratch
	pkt := []byte("<13>Nov 22 03:44:01 host app[1234]: text")
	_, _ = parse(pkt, testNow, &sc)
	if n := testing.AllocsPerRun(100, func() { _, _ = parse(pkt, testNow, &sc) }); n != 0 {
		t.Fatalf("%v allocations per message", n)
	}
}

// A timestamp read again at the same clock reading is the cached time;
// at another reading it is worked out again (the year depends on it).
func TestScratchStampFollowsTheClock(t *testing.T) {
	var sc scratch
	pkt := []byte("<13>Dec 31 23:59:58 app: text")
	june := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	jan := time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)
	dec := time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now  time.Time
		year int
	}{{jan, 2026}, {jan, 2026}, {dec, 2027}, {dec, 2027}, {jan, 2026}} {
		m, err := parse(pkt, c.now, &sc)
		if err != nil || m.Time.Year() != c.year || m.Time.Day() != 31 || m.Time.Second() != 58 {
			t.Fatalf("at %v: %v (%v)", c.now, m.Time, err)
		}
	}
	// Feb 30 is no date: refused from the cache as when parsed.
	bad := []byte("<13>Feb 30 10:00:00 app: text")
	for range 2 {
		if m, _ := parse(bad, june, &sc); m.Format != FormatRaw {
			t.Fatalf("Feb 30 parsed as %v", m.Format)
		}
	}
	// The cache never answers for another stamp.
	m, _ := parse([]byte("<13>Dec 30 23:59:58 app: text"), june, &sc)
	if m.Time.Day() != 30 {
		t.Fatalf("got %v", m.Time)
	}
}
