package syslog

import (
	"fmt"
	"testing"
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
