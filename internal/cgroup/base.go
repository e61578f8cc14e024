package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/flock"
)

// A base directory belongs to the one manager that holds an exclusive
// flock on it, for as long as it runs: a second manager that would use the
// same base is refused before it creates, prunes or kills anything there.
// The lock lives on the directory itself (cgroupfs supports flock), so it
// needs no file beside it and ends with the holder's process.

// InUseError refuses a base that another live manager owns.
type InUseError struct {
	Dir string
	PID int // the owner's pid; 0 when it cannot be found
}

func (e *InUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("cgroup %s belongs to another running manager (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("cgroup %s belongs to another running manager", e.Dir)
}

// claim creates dir if needed and takes its ownership lock.
func claim(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := flock.Dir(dir)
	var held *flock.HeldError
	if errors.As(err, &held) {
		return nil, &InUseError{Dir: dir, PID: held.PID}
	}
	return f, err
}

// sameDir reports whether the locked file still is the directory at path
// (and not one removed and made again since).
func sameDir(f *os.File, path string) bool {
	var a, b unix.Stat_t
	return f != nil && unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil &&
		a.Dev == b.Dev && a.Ino == b.Ino
}

// reclaimLocked makes the base directories again after someone removed
// them while tend ran (an administrator, or an old tend's clean-up), and
// takes the lock on the new directories.
func (m *Manager) reclaimLocked() error {
	if !sameDir(m.baseLock, m.base) {
		f, err := claim(m.base)
		if err != nil {
			return err
		}
		if m.baseLock != nil {
			m.baseLock.Close()
		}
		m.baseLock = f
		m.log.Warn("cgroup base was removed; made it again", "dir", m.base)
		if m.mode == ModeV2 {
			m.enableControllers()
		}
	}
	for ctrl, base := range m.statBase {
		if sameDir(m.statLocks[ctrl], base) {
			continue
		}
		f, err := claim(base)
		if err != nil {
			m.log.Warn("no statistics from this controller", "controller", ctrl, "err", err)
			delete(m.statBase, ctrl)
			continue
		}
		if old := m.statLocks[ctrl]; old != nil {
			old.Close()
		}
		m.statLocks[ctrl] = f
	}
	return nil
}

// reclaim is reclaimLocked for callers without the lock.
func (m *Manager) reclaim() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reclaimLocked()
}

// statBases copies statBase, which reclaim may change.
func (m *Manager) statBases() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.statBase))
	for k, v := range m.statBase {
		out[k] = v
	}
	return out
}

// staleGroups lists the groups an earlier run of this instance left in a
// base it has just claimed (it was killed, or crashed). They are not
// removed there and then: removing a thousand groups holds up the first
// start by most of a second, and the groups of units that start again
// are simply reused. PruneStale removes the rest later.
func staleGroups(base string, into map[string]bool) error {
	ents, err := os.ReadDir(base)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			into[e.Name()] = true
		}
	}
	return nil
}

// PruneStale queues for removal the empty groups an earlier run left
// that no unit of this run has taken up again (see staleGroups), in the
// tracking and the stats hierarchies; the remover takes them off the
// caller's way and out of the lock (an rmdir waits for the kernel to
// retire the group), a unit that takes a name up meanwhile takes its
// directories back, and groups with processes stay (Prune tries them
// again). The daemon calls it once the boot target is reached.
func (m *Manager) PruneStale() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.stale {
		dirs := []string{filepath.Join(m.base, name)}
		for _, base := range m.statBase {
			if base != "" {
				dirs = append(dirs, filepath.Join(base, name))
			}
		}
		m.queueRemovalLocked(removal{unit: name, dirs: dirs, stale: true})
	}
	clear(m.stale)
}

// enableControllers lets unit groups account memory, tasks and CPU
// natively when the base offers those controllers (best effort).
func (m *Manager) enableControllers() {
	b, err := os.ReadFile(filepath.Join(m.base, "cgroup.controllers"))
	if err != nil {
		return
	}
	var want []string
	for _, c := range strings.Fields(string(b)) {
		if c == "memory" || c == "pids" || c == "cpu" {
			want = append(want, "+"+c)
		}
	}
	if len(want) > 0 {
		_ = os.WriteFile(filepath.Join(m.base, "cgroup.subtree_control"), []byte(strings.Join(want, " ")), 0)
	}
	m.v2Ctrls.Store(nil)
}
