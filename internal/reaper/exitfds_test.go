package reaper

import (
	"os"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childPidfds is the number of child pidfds the reaper holds.
func childPidfds(r *Reaper) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.children)
}

func skipWithoutPidfds(t *testing.T, h *harness) {
	t.Helper()
	if h.r.exits == nil {
		t.Skip("no epoll set for pidfds")
	}
}

// isOpen reports whether fd is an open descriptor of this process.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestPidfdAloneReapsChildren takes SIGCHLD away from the reaper: exits of
// children started with a pidfd must still arrive, once each, and their
// pidfds be closed.
func TestPidfdAloneReapsChildren(t *testing.T) {
	h := newHarness(t, func(r *Reaper) {
		signal.Stop(r.sigc)
		select { // a SIGCHLD that came before Stop
		case <-r.sigc:
		default:
		}
	})
	skipWithoutPidfds(t, h)
	const n = 20
	pids := map[int]chan Exit{}
	for range n {
		got := make(chan Exit, 2)
		pid, err := h.r.Start(fork(true, "/bin/sleep", "1000"), func(e Exit) { got <- e })
		if err != nil {
			t.Fatal(err)
		}
		pids[pid] = got
	}
	if k := childPidfds(h.r); k != n {
		t.Fatalf("%d child pidfds; want %d (kernel without CLONE_PIDFD?)", k, n)
	}
	for pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
	for pid, got := range pids {
		e := await(t, got, "sleep")
		if code, st := e.Describe(); e.PID != pid || code != "killed" || st != int(unix.SIGKILL) {
			t.Errorf("pid %d: got %+v (%s %d); want killed by SIGKILL", pid, e, code, st)
		}
	}
	for pid, got := range pids {
		select {
		case e := <-got:
			t.Errorf("pid %d: second delivery %+v", pid, e)
		default:
		}
	}
	if k := childPidfds(h.r); k != 0 {
		t.Errorf("%d child pidfds left; want 0", k)
	}
	if z := zombiesOf(t, os.Getpid()); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
}

// TestStartFallsBackToSIGCHLD covers what an older kernel leaves the
// reaper with: no epoll set at all, or a pidfd it cannot poll (Linux 5.2
// had CLONE_PIDFD but no poll on pidfds; a regular file stands in for
// one). The exit must come through SIGCHLD, and the descriptor be closed.
func TestStartFallsBackToSIGCHLD(t *testing.T) {
	t.Run("no epoll set", func(t *testing.T) {
		h := newHarness(t, func(r *Reaper) {
			if r.exits != nil {
				r.exits.close()
				r.exits = nil
			}
		})
		got := make(chan Exit, 1)
		_, err := h.r.Start(func(pidfd *int) (int, error) {
			if pidfd != nil {
				t.Error("fork asked for a pidfd without an epoll set to put it in")
			}
			return forkTrue(false)(nil)
		}, func(e Exit) { got <- e })
		if err != nil {
			t.Fatal(err)
		}
		if e := await(t, got, "true"); !e.Success() {
			t.Errorf("got %+v; want a clean exit", e)
		}
	})
	t.Run("pidfd not pollable", func(t *testing.T) {
		h := newHarness(t)
		skipWithoutPidfds(t, h)
		f, err := os.Open("/proc/self/stat") // epoll refuses regular files
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan Exit, 1)
		_, err = h.r.Start(func(pidfd *int) (int, error) {
			pid, err := forkTrue(false)(nil)
			*pidfd = fd
			return pid, err
		}, func(e Exit) { got <- e })
		if err != nil {
			t.Fatal(err)
		}
		if isOpen(fd) {
			t.Error("the unpollable pidfd was kept open")
		}
		if e := await(t, got, "true"); !e.Success() {
			t.Errorf("got %+v; want a clean exit", e)
		}
	})
	t.Run("failed fork leaves a pidfd", func(t *testing.T) {
		h := newHarness(t)
		skipWithoutPidfds(t, h)
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.r.Start(func(pidfd *int) (int, error) {
			*pidfd = fd
			return 0, syscall.EAGAIN
		}, func(Exit) { t.Error("onExit called for a failed fork") })
		if err != syscall.EAGAIN {
			t.Errorf("Start: %v; want EAGAIN", err)
		}
		if isOpen(fd) {
			t.Error("a failed fork's pidfd was kept open")
		}
	})
}

// BenchmarkKillToDelivery measures what restart latency is made of on the
// reaper's side: from kill(2) of a child to its onExit. It reports the
// median and the 99th percentile.
func BenchmarkKillToDelivery(b *testing.B) {
	for _, path := range exitPaths {
		b.Run(path.name, func(b *testing.B) {
			r := runReaper(b)
			exits := make(chan time.Time, 1)
			var took []time.Duration
			for b.Loop() {
				pid, err := r.Start(fork(path.withPidfd, "/bin/sleep", "1000"), func(Exit) { exits <- time.Now() })
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				unix.Kill(pid, unix.SIGKILL)
				took = append(took, (<-exits).Sub(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "µs-p50")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "µs-p99")
		})
	}
}
