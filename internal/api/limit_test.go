package api

import (
	"errors"
	"log/slog"
	"testing"
)

// TestLimiter walks the admission rules: per-uid caps, the share kept for
// privileged callers, the descriptor reserve, and the heap returned once a
// burst is over.
func TestLimiter(t *testing.T) {
	const owner = 1000
	root, other, other2, own := Peer{UID: 0}, Peer{UID: 65534}, Peer{UID: 65533}, Peer{UID: owner}
	type step struct {
		p     Peer
		known bool
		open  int // descriptors open when it connects
		want  bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"per-uid cap", []step{
			{other, true, 10, true}, {other, true, 10, true}, {other, true, 10, false},
			{other2, true, 10, true}, {root, true, 10, true},
		}},
		{"privileged reserve", []step{
			// MaxConns 6 with 2 reserved: others share 4.
			{other, true, 10, true}, {other, true, 10, true}, {other2, true, 10, true}, {other2, true, 10, true},
			{Peer{UID: 7}, true, 10, false}, {root, true, 10, true}, {own, true, 10, true}, {root, true, 10, false},
		}},
		{"unknown credentials share one bucket", []step{
			{Peer{UID: 0}, false, 10, true}, {Peer{UID: 0}, false, 10, true}, {Peer{UID: 0}, false, 10, false},
		}},
		{"descriptor reserve", []step{
			// limit 1000, reserve 100: others until 900 open, root until 950.
			{other, true, 899, true}, {other2, true, 900, false}, {root, true, 949, true}, {root, true, 950, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(Limits{MaxConns: 6, PrivilegedReserve: 2, MaxConnsPerUID: 2, FDReserve: 100}, owner, slog.New(slog.DiscardHandler))
			for i, s := range tt.steps {
				l.fds = func() (int, int, error) { return s.open, 1000, nil }
				_, ok := l.admit(s.p, s.known)
				if ok != s.want {
					t.Fatalf("step %d (uid %d, known %v, %d open): admitted %v; want %v", i, s.p.UID, s.known, s.open, ok, s.want)
				}
			}
		})
	}
}

func TestLimiterDefaultReserve(t *testing.T) {
	l := newLimiter(Limits{}, 0, slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		open, limit int
		want        bool
	}{
		{767, 1024, true}, {768, 1024, false}, // at least 256 kept
		{17999, 20000, true}, {18000, 20000, false}, // a tenth
	} {
		l.fds = func() (int, int, error) { return tt.open, tt.limit, nil }
		release, ok := l.admit(Peer{UID: 65534}, true)
		if ok != tt.want {
			t.Errorf("%d of %d open: admitted %v; want %v", tt.open, tt.limit, ok, tt.want)
		}
		if ok {
			release()
		}
	}
	// A failing count does not lock everyone out.
	l.fds = func() (int, int, error) { return 0, 0, errors.New("no /proc") }
	if _, ok := l.admit(Peer{UID: 65534}, true); !ok {
		t.Error("refused when descriptors cannot be counted")
	}
}

// TestLimiterBurstFreesMemory: the heap is returned once, when a burst
// (many connections, or refusals) falls back to a few connections, and
// not for ordinary traffic.
func TestLimiterBurstFreesMemory(t *testing.T) {
	l := newLimiter(Limits{MaxConns: 200, MaxConnsPerUID: 100}, 0, slog.New(slog.DiscardHandler))
	l.fds = func() (int, int, error) { return 10, 100000, nil }
	frees := 0
	l.freeMemory = func() { frees++ }

	release, _ := l.admit(Peer{UID: 1}, true)
	release()
	release() // a second Close must not count twice
	if frees != 0 || l.total != 0 {
		t.Fatalf("after one connection: %d frees, total %d; want 0, 0", frees, l.total)
	}
	var rels []func()
	for range burstConns {
		r, ok := l.admit(Peer{UID: 2}, true)
		if !ok {
			t.Fatal("refused within limits")
		}
		rels = append(rels, r)
	}
	for i, r := range rels {
		r()
		open := len(rels) - i - 1
		if want := map[bool]int{true: 1, false: 0}[open <= lowWater]; frees != want {
			t.Fatalf("%d open: %d frees; want %d", open, frees, want)
		}
	}
	// Refusals alone make a burst too.
	l2 := newLimiter(Limits{MaxConnsPerUID: 1}, 0, slog.New(slog.DiscardHandler))
	l2.fds = l.fds
	l2.freeMemory = func() { frees++ }
	keep, _ := l2.admit(Peer{UID: 3}, true)
	for range 5 {
		if _, ok := l2.admit(Peer{UID: 3}, true); ok {
			t.Fatal("second connection of uid 3 admitted; want refused")
		}
	}
	keep()
	if frees != 2 {
		t.Fatalf("after refusals: %d frees; want 2", frees)
	}
}
