package timer

import (
	"testing"
	"time"
)

// The reference vector of the SipHash paper (appendix A).
func TestSipHash24(t *testing.T) {
	var key [16]byte
	msg := make([]byte, 15)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := sipHash24(key, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("SipHash-2-4 = %#x; want 0xa129ca6149be45e5", got)
	}
}

func TestRandomDelay(t *testing.T) {
	h := Host{MachineID: [16]byte{1, 2, 3}, System: true}
	d1 := h.RandomDelay("a.timer", time.Hour, true, 0)
	if d2 := h.RandomDelay("a.timer", time.Hour, true, 12345); d1 != d2 {
		t.Fatalf("fixed delay changed with the random input: %v, %v", d1, d2)
	}
	if d := h.RandomDelay("b.timer", time.Hour, true, 0); d == d1 {
		t.Fatalf("two timers got the same fixed delay %v", d)
	}
	other := h
	other.MachineID[0] = 9
	if d := other.RandomDelay("a.timer", time.Hour, true, 0); d == d1 {
		t.Fatalf("two machines got the same fixed delay %v", d)
	}
	for _, r := range []uint64{0, 1, 1<<64 - 1, 3599999999, 3600000000} {
		if d := h.RandomDelay("a.timer", time.Hour, false, r); d < 0 || d >= time.Hour {
			t.Fatalf("delay %v out of [0, 1h)", d)
		}
	}
	if d := h.RandomDelay("a.timer", 0, true, 5); d != 0 {
		t.Fatalf("delay %v with RandomizedDelaySec=0", d)
	}
}

func TestCoalesce(t *testing.T) {
	const s = 1_000_000
	p := 20 * time.Second
	tests := []struct {
		a, acc, want uint64
	}{
		{600 * s, 0, 600 * s},           // no room
		{600 * s, 1, 600 * s},           // 1us: on time
		{630 * s, 60 * s, 680 * s},      // the minute's point 20s
		{645 * s, 60 * s, 680 * s},      // another timer of the same minute wakes with it
		{681 * s, 60 * s, 740 * s},      // past this minute's point: the next one
		{600*s + 1, 5 * s, 605 * s},     // no minute or 10s point within: the last whole second
		{600*s + 100, 100, 600*s + 200}, // no point at all: the latest
		{3600 * s, 3600 * s, 7160 * s},  // AccuracySec=1h: the last minute point within
	}
	for _, tt := range tests {
		if got := Coalesce(tt.a, tt.acc, p); got != tt.want {
			t.Errorf("Coalesce(%d, %d) = %d; want %d", tt.a, tt.acc, got, tt.want)
		}
		if got := Coalesce(tt.a, tt.acc, p); got < tt.a || got > tt.a+tt.acc {
			t.Errorf("Coalesce(%d, %d) = %d outside the window", tt.a, tt.acc, got)
		}
	}
}

func TestPerturbFromBootID(t *testing.T) {
	id := [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if p := PerturbFromBootID(id); p < 0 || p >= time.Minute {
		t.Fatalf("perturb %v outside a minute", p)
	}
}
