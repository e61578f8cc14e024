package cgroup

import (
	"errors"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// The remover: an rmdir of a cgroup waits for the kernel to retire the
// group (tens to hundreds of microseconds), which a caller that makes
// and removes groups by the hundred per second (the manager loop, one
// Accept=yes instance per connection) should not wait for. RemoveLater
// queues the directories of an empty group; one goroutine removes them,
// started when the queue fills and ending when it is empty; Close waits
// for it. A group made again under a queued name first takes its
// directories back (takeBackLocked), so the remover never removes a
// directory a live group uses.

// removal is the directories of one removed group, unit's.
type removal struct {
	unit string
	dirs []string // the tracking group's first
	// stale: an earlier run's group (PruneStale); if processes keep it
	// busy it is kept in remover.busyStale for Prune to try again.
	stale bool
}

// remover is the queue's state, guarded by Manager.mu.
type remover struct {
	q       []removal
	running bool
	busy    string     // unit whose directories are being removed
	done    *sync.Cond // on Manager.mu: busy changed
	wg      sync.WaitGroup
	// busyStale holds the earlier run's groups that still had processes
	// when PruneStale's removal came (a vanished unit's, left alone):
	// Prune tries them again at shutdown, when they may have ended, so
	// that neither they nor the bases they keep busy are left behind.
	busyStale map[string]removal
}

func (m *Manager) queueRemovalLocked(r removal) {
	rm := &m.rm
	rm.q = append(rm.q, r)
	if rm.running {
		return
	}
	if rm.done == nil {
		rm.done = sync.NewCond(&m.mu)
	}
	rm.running = true
	rm.wg.Add(1)
	go m.removeQueued()
}

// removeQueued is the remover's goroutine.
func (m *Manager) removeQueued() {
	defer m.rm.wg.Done()
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := &m.rm
	for len(rm.q) > 0 {
		r := rm.q[0]
		rm.q = slices.Delete(rm.q, 0, 1)
		rm.busy = r.unit
		m.mu.Unlock()
		left := removeDirs(m.log, r.dirs)
		m.mu.Lock()
		rm.busy = ""
		if left && r.stale {
			if rm.busyStale == nil {
				rm.busyStale = map[string]removal{}
			}
			rm.busyStale[r.unit] = r
		}
		rm.done.Broadcast()
	}
	rm.running = false
}

// takeBackLocked is called before a group of unit is made: directories
// of an earlier group of that name still queued stay for it, and a
// removal under way is waited for.
func (m *Manager) takeBackLocked(unit string) {
	rm := &m.rm
	for rm.busy == unit {
		rm.done.Wait()
	}
	delete(rm.busyStale, unit)
	if len(rm.q) > 0 {
		rm.q = slices.DeleteFunc(rm.q, func(r removal) bool { return r.unit == unit })
	}
}

// waitRemovals waits until the queue is empty.
func (m *Manager) waitRemovals() { m.rm.wg.Wait() }

// retryBusyStale queues again the earlier run's groups PruneStale found
// busy, and waits for the remover: those whose processes have ended go
// now, in every hierarchy; those still busy stay (logged).
func (m *Manager) retryBusyStale() {
	m.waitRemovals() // PruneStale's own removals first
	m.mu.Lock()
	for _, r := range m.rm.busyStale {
		r.stale = false // once more only
		m.queueRemovalLocked(r)
	}
	clear(m.rm.busyStale)
	m.mu.Unlock()
	m.waitRemovals()
}

// removeDirs removes a removed group's directories and reports whether
// any stayed; each that cannot go (a process got in) is logged.
func removeDirs(log *slog.Logger, dirs []string) (left bool) {
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			log.Debug("cannot remove cgroup directory", "dir", d, "err", err)
			left = true
		}
	}
	return left
}
