package cgroup

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Prune removes the groups this Manager made (those still empty), in the
// tracking hierarchy and the v1 stats hierarchies, and then the base
// directories themselves if nothing else is left in them. Groups that
// still hold processes stay, and so does anything this Manager did not
// make: an earlier run's groups are removed by PruneStale, and here only
// those PruneStale found busy and no unit took up since. The daemon calls
// it at shutdown, tests at cleanup.
func (m *Manager) Prune() error {
	var errs []error
	for _, g := range m.groupList() {
		if err := g.Remove(); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, err)
		}
	}
	// The bases are empty only once RemoveLater's directories are gone,
	// and the earlier run's groups PruneStale found busy (a vanished
	// unit's process, left alone, may have ended since).
	m.retryBusyStale()
	bases := []string{m.base}
	for _, b := range m.statBases() {
		bases = append(bases, b)
	}
	for _, base := range bases {
		if base != "" {
			rmdirIfEmpty(base, &errs)
		}
	}
	return errors.Join(errs...)
}

// rmdirIfEmpty removes a cgroup directory unless processes or child
// groups keep it busy.
func rmdirIfEmpty(dir string, errs *[]error) {
	err := unix.Rmdir(dir)
	if err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTEMPTY) {
		*errs = append(*errs, &os.PathError{Op: "rmdir", Path: dir, Err: err})
	}
}

// KillAll sends sig to the processes of every group this Manager made
// (the last resort of a hurried shutdown) and returns how many groups
// still had processes.
func (m *Manager) KillAll(sig unix.Signal) (int, error) {
	n := 0
	var errs []error
	for _, g := range m.groupList() {
		if !g.Populated() {
			continue
		}
		n++
		if err := g.Kill(sig); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// AwaitEmpty waits until no group this Manager made has a process, or
// for timeout at most; it reports whether they all emptied. Processes
// just SIGKILLed leave in milliseconds, unless one is stuck in the
// kernel (uninterruptible sleep): the bound is for that one.
func (m *Manager) AwaitEmpty(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, g := range m.groupList() {
		select {
		case <-g.Empty():
		case <-deadline.C:
			return false
		}
	}
	return true
}

// groupList copies the groups this Manager made.
func (m *Manager) groupList() []*Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	gs := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		gs = append(gs, g)
	}
	return gs
}
