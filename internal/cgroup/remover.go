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
}

// remover is the queue's state, guarded by Manager.mu.
type remover struct {
	q       []removal
	running bool
	busy    string     // unit whose directories are being removed
	done    *sync.Cond // on Manager.mu: busy changed
	wg      sync.WaitGroup
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
		removeDirs(m.log, r.dirs)
		m.mu.Lock()
		rm.busy = ""
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
	if len(rm.q) > 0 {
		rm.q = slices.DeleteFunc(rm.q, func(r removal) bool { return r.unit == unit })
	}
}

// waitRemovals waits until the queue is empty.
func (m *Manager) waitRemovals() { m.rm.wg.Wait() }

// removeDirs removes a removed group's directories; the first that
// cannot go (a process got in) is logged.
func removeDirs(log *slog.Logger, dirs []string) {
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			log.Debug("cannot remove cgroup directory", "dir", d, "err", err)
		}
	}
}
