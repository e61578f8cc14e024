package supervise

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/reaper"
)

// A unit's main pid decides where tend's signals go, so tend believes a
// pid it did not fork only if the pid is one of the unit's processes, or
// if root vouches for it (as systemd does): a PID file owned by root and
// reached without an unsafe symbolic link chain, or a MAINPID= sent by a
// root process. Every main pid is set through setMain, which only
// spawnCmd (tend's own child) and adoptMain (after checkMain) call; a
// test holds the package to that.

// mainOrigin says how a unit's main process became its main process,
// which decides what is checked again before it is signalled.
type mainOrigin uint8

const (
	// mainSpawned: tend forked it into the unit's cgroup itself.
	mainSpawned mainOrigin = iota
	// mainInGroup: adopted while it was one of the unit's processes.
	mainInGroup
	// mainVouched: adopted from outside the unit on root's word.
	mainVouched
)

// pidClaim is a candidate main pid and what speaks for it.
type pidClaim struct {
	pid int
	// vouched: the claim comes from root (or tend's own user), which may
	// name a process outside the unit; vouchedBy says how, for the log.
	vouched   bool
	vouchedBy string
	// refusal is the log line for an unvouched pid outside the unit; %d
	// is the pid.
	refusal string
	// child: the pid is believed to be tend's own child (a re-exec'd
	// manager taking back its services), which it is if the kernel says
	// so; a zombie is no longer in any cgroup, but no other process can
	// have its pid before tend reaps it.
	child bool
	// started, when not zero, is the start time recorded for the pid:
	// without a cgroup, a process that started then is the one meant.
	started uint64
}

// checkMain decides whether c.pid may become u's main process. It
// returns a pidfd pinning the process that was checked (nil where the
// kernel has none), or the reason for the refusal, worded for the log.
func (m *Manager) checkMain(u *service, c pidClaim) (*os.File, mainOrigin, string) {
	pid := c.pid
	switch {
	case pid <= 0:
		return nil, 0, fmt.Sprintf("New main PID %d is not a valid pid, refusing.", pid)
	case pid == 1 || pid == os.Getpid():
		return nil, 0, fmt.Sprintf("New main PID %d is the manager, refusing.", pid)
	case pid == u.controlPID:
		return nil, 0, fmt.Sprintf("New main PID %d is the control process, refusing.", pid)
	}
	// The pidfd is opened before the membership is read: if the pid
	// is reused meanwhile, the pidfd says its process is gone.
	fd, err := pidfdOpen(pid)
	if err != nil {
		return nil, 0, fmt.Sprintf("New main PID %d does not exist or is a zombie.", pid)
	}
	in := m.inUnit(u, pid) || (c.child && m.isChild(pid)) ||
		(c.started != 0 && u.cg == nil && m.procStart(pid) == c.started)
	if fd != nil && !pidfdAlive(fd) {
		fd.Close()
		return nil, 0, fmt.Sprintf("New main PID %d does not exist or is a zombie.", pid)
	}
	switch {
	case in:
		return fd, mainInGroup, ""
	case c.vouched:
		return fd, mainVouched, ""
	}
	if fd != nil {
		fd.Close()
	}
	return nil, 0, fmt.Sprintf(c.refusal, pid)
}

// adoptMain makes c.pid (not forked by tend itself) u's main process if
// checkMain accepts it, and reports whether it did; a refusal is logged
// in the unit's journal.
func (m *Manager) adoptMain(u *service, c pidClaim) bool {
	if c.pid == u.mainPID && c.pid != 0 {
		return true
	}
	fd, origin, refusal := m.checkMain(u, c)
	if refusal != "" {
		m.event(u.rt, prioErr, "%s: %s", u.name, refusal)
		return false
	}
	if origin == mainVouched {
		m.event(u.rt, prioInfo, "%s: New main PID %d does not belong to service, but we'll accept it since %s.", u.name, c.pid, c.vouchedBy)
	}
	if u.mainPID != 0 {
		delete(m.pids, u.mainPID)
		m.opts.Reaper.Unwatch(u.mainPID)
	}
	m.setMain(u, c.pid, origin, fd)
	m.pids[c.pid] = pidRef{u: u.rt, role: roleMain}
	if err := m.opts.Reaper.Watch(c.pid, func(e reaper.Exit) { m.box.put(evExit{exit: e}) }); err != nil {
		m.event(u.rt, prioWarn, "%s: cannot watch main process %d: %v", u.name, c.pid, err)
	}
	return true
}

// setMain records u's main process. fd, if not nil, is a pidfd of it,
// which u now owns.
func (m *Manager) setMain(u *service, pid int, origin mainOrigin, fd *os.File) {
	if u.mainFD != nil {
		u.mainFD.Close()
	}
	u.mainPID, u.mainOrigin, u.mainFD = pid, origin, fd
	m.touch(u.rt)
}

// clearMain forgets u's main process: it ended, or tend gave up on it.
func (m *Manager) clearMain(u *service) {
	m.setMain(u, 0, mainSpawned, nil)
}

// inUnit reports whether pid is one of u's processes now. Without a
// cgroup there is no way to tell, and the answer is no.
func (m *Manager) inUnit(u *service, pid int) bool {
	return u.cg != nil && u.cg.Contains(pid)
}

// verifyMain drops a main process that was adopted as one of u's
// processes but has left u's cgroup since (moved by someone with the
// right to): it is no longer the unit's to signal. tend's own children
// cannot leave unnoticed, and a vouched-for pid was never inside.
func (m *Manager) verifyMain(u *service) {
	if u.mainPID == 0 || u.mainOrigin != mainInGroup || m.inUnit(u, u.mainPID) {
		return
	}
	m.event(u.rt, prioWarn, "%s: Main process %d is no longer one of the unit's processes; not signalling it.", u.name, u.mainPID)
	delete(m.pids, u.mainPID)
	if m.opts.Reaper != nil {
		m.opts.Reaper.Unwatch(u.mainPID)
	}
	m.clearMain(u)
}

// sendMain signals u's main process, through its pidfd when tend holds
// one, so a pid reused after the process ended is never hit.
func (m *Manager) sendMain(u *service, sig syscall.Signal) error {
	if u.mainPID <= 0 {
		return nil
	}
	if u.mainFD != nil {
		return unix.PidfdSendSignal(int(u.mainFD.Fd()), sig, nil, 0)
	}
	return m.procs.kill(u.mainPID, sig)
}

// pidfdOpen opens a pidfd of pid. A kernel without pidfds (before 5.3)
// yields a nil file and no error, after a check that pid exists.
func pidfdOpen(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		return nil, unix.Kill(pid, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid)), nil
}

// pidfdAlive reports whether the process of a pidfd has not been reaped.
func pidfdAlive(f *os.File) bool {
	return unix.PidfdSendSignal(int(f.Fd()), 0, nil, 0) == nil
}
