package daemon

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
)

// TestEscalation walks signal sequences during shutdown: the second
// SIGINT/SIGTERM kills what is left, the third (or the second when
// nothing was left) gives up waiting; other signals change nothing.
func TestEscalation(t *testing.T) {
	tests := []struct {
		name      string
		left      int // what kill finds
		sigs      []os.Signal
		wantKills int
		wantDone  int // index of the signal that ends the waiting; -1 none
		wantSig   syscall.Signal
	}{
		{"one more signal kills", 2, []os.Signal{syscall.SIGTERM}, 1, -1, 0},
		{"then the next gives up", 2, []os.Signal{syscall.SIGINT, syscall.SIGINT}, 1, 1, syscall.SIGINT},
		{"mixed signals count alike", 1, []os.Signal{syscall.SIGINT, syscall.SIGTERM}, 1, 1, syscall.SIGTERM},
		{"nothing left: the second gives up", 0, []os.Signal{syscall.SIGTERM}, 1, 0, syscall.SIGTERM},
		{"SIGHUP is not a hurry", 2, []os.Signal{syscall.SIGHUP, syscall.SIGHUP}, 0, -1, 0},
		{"SIGHUP in between", 2, []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGTERM}, 1, 2, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kills, aborts := 0, 0
			e := &escalation{
				log:   slog.New(slog.DiscardHandler),
				kill:  func() int { kills++; return tt.left },
				abort: func() { aborts++ },
			}
			done := -1
			for i, s := range tt.sigs {
				if e.on(s) {
					done = i
					break
				}
			}
			if kills != tt.wantKills || done != tt.wantDone || e.gaveUp != tt.wantSig {
				t.Errorf("kills %d, done at %d, gave up on %v; want %d, %d, %v", kills, done, e.gaveUp, tt.wantKills, tt.wantDone, tt.wantSig)
			}
			wantAborts := 0
			if tt.wantDone >= 0 {
				wantAborts = 1
			}
			if aborts != wantAborts {
				t.Errorf("aborts %d; want %d", aborts, wantAborts)
			}
		})
	}
}
