package supervise

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/svdir"
)

// Taking a service directory back after a re-exec or a crash
// (docs/design.md, "Crash and re-exec"). What must survive is what
// runsv would hold: ./run's and log/run's processes, the log pipe
// between them, and supervise/ (its lock and FIFOs).
//
// Across a re-exec the processes stay tend's children and every
// descriptor is kept through exec (fdKeeper): the lock never lapses, a
// command sv writes meanwhile waits in the control FIFO, and the pipe
// keeps its buffer, so not a line is lost.
//
// After a crash the descriptors died with the manager: supervise/ is
// opened and locked again, and the log pipe is taken back through
// /proc from whichever of ./run (its stdout) and log/run (its stdin)
// survived — each holds its end, so the pipe and what is in it live on
// while either runs. A process is adopted only if it is still the
// unit's (its cgroup, or its recorded start time); one that ended
// unseen is an exit with unknown status: ./finish runs and the service
// is restarted if wanted up, as after any exit. A control/X override
// running at the time is not adopted (its command is lost).

// Descriptor names in a service directory's fd store.
const (
	svdirSupPrefix = "supervise-"
	svdirPipeR     = "log-pipe-r"
	svdirPipeW     = "log-pipe-w"
)

func (u *svdirUnit) saveFDs() map[string]int {
	fds := map[string]int{}
	if u.sup != nil {
		for name, fd := range u.sup.Files() {
			fds[svdirSupPrefix+name] = fd
		}
	}
	// The pipe is the pair's: the log unit keeps it.
	if p := u.pipe; u.isLog && p != nil {
		if p.r != nil {
			fds[svdirPipeR] = int(p.r.Fd())
		}
		if p.w != nil {
			fds[svdirPipeW] = int(p.w.Fd())
		}
	}
	if len(fds) == 0 {
		return nil
	}
	return fds
}

func (u *svdirUnit) restoreFDs(fds map[string]*os.File) { u.kept = fds }

// resumeSvdirs takes the restored service directories back; after
// every unit's state was restored, as a log pipe is the pair's.
func (m *Manager) resumeSvdirs(us []*svdirUnit, inherited bool) {
	live := map[*svdirUnit]bool{}
	for _, u := range us {
		live[u] = m.svdirAdoptPID(u, inherited)
	}
	for _, u := range us {
		m.svdirResumePipe(u, live)
	}
	for _, u := range us {
		m.svdirResumeSup(u)
		u.saved = nil
	}
}

// svdirAdoptPID takes ./run (or ./finish) back if it is still the
// unit's, and reports whether it did; otherwise its end is an exit
// whose status nobody knows.
func (m *Manager) svdirAdoptPID(u *svdirUnit, inherited bool) bool {
	s := u.saved
	if s == nil || s.PID == 0 {
		return false
	}
	if err := m.prepare(u.rt); err != nil {
		m.event(u.rt, prioWarn, "%s: %v", u.name, err)
	}
	pid := s.PID
	u.pid, u.finishing, u.term, u.paused = pid, s.Finish, s.Term, s.Paused
	ok := (inherited && m.isChild(pid)) || (u.cg != nil && u.cg.Contains(pid)) ||
		(u.cg == nil && s.PIDStart != 0 && m.procStart(pid) == s.PIDStart)
	if ok && m.opts.Reaper != nil {
		ok = m.opts.Reaper.Watch(pid, func(e reaper.Exit) { m.box.put(evExit{exit: e}) }) == nil
	}
	what := "./run"
	if u.finishing {
		what = "./finish"
	}
	if !ok {
		m.event(u.rt, prioWarn, "%s: %s (pid %d) ended while the manager was down; its exit status is unknown.", u.name, what, pid)
		m.postState(u.rt, procExit{pid: pid, role: roleMain, st: exitStatus{code: codeUnknown}})
		return false
	}
	m.pids[pid] = pidRef{u: u.rt, role: roleMain}
	if !inherited {
		m.event(u.rt, prioInfo, "%s: Adopted %s (pid %d; not a child of this manager: its exit status will be unknown).", u.name, what, pid)
	}
	if u.state == AutoRestart {
		u.state = Running // a pid and a restart pause cannot both be
	}
	return true
}

// svdirResumePipe gives the pair its log pipe back: the kept one after
// a re-exec, or the one the surviving processes hold after a crash.
// Only adopted processes (live) are looked at: a pid that failed the
// check may be someone else's now.
func (m *Manager) svdirResumePipe(u *svdirUnit, live map[*svdirUnit]bool) {
	if !u.isLog {
		return
	}
	main := m.svdirPeer(u)
	var p *svdirPipe
	if r, w := u.kept[svdirPipeR], u.kept[svdirPipeW]; r != nil {
		p = &svdirPipe{r: r, w: w}
		delete(u.kept, svdirPipeR)
		delete(u.kept, svdirPipeW)
	} else if w != nil {
		w.Close()
	}
	if p == nil {
		var mainPID int
		if main != nil && live[main] && !main.finishing {
			mainPID = main.pid
		}
		var logPID int
		if live[u] && !u.finishing {
			logPID = u.pid
		}
		var err error
		if p, err = reopenLogPipe(mainPID, logPID); err != nil {
			m.event(u.rt, prioWarn, "%s: cannot take the log pipe back: %v", u.name, err)
		}
	}
	if p == nil {
		return
	}
	u.pipe = p
	if main != nil {
		main.pipe = p
	}
}

// reopenLogPipe opens both ends of the pipe that ./run (pid mainPID,
// its stdout) and log/run (pid logPID, its stdin) share, through
// /proc; nil when neither runs. If both run on different pipes, ./run
// writes elsewhere than its logger reads, and there is nothing to take.
func reopenLogPipe(mainPID, logPID int) (*svdirPipe, error) {
	var paths []string
	if mainPID > 0 {
		paths = append(paths, fmt.Sprintf("/proc/%d/fd/1", mainPID))
	}
	if logPID > 0 {
		paths = append(paths, fmt.Sprintf("/proc/%d/fd/0", logPID))
	}
	var ino uint64
	var from string
	for _, path := range paths {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			continue // gone, or not a pipe (the process redirected it)
		}
		if ino != 0 && st.Ino != ino {
			return nil, fmt.Errorf("%s and %s are different pipes", from, path)
		}
		ino, from = st.Ino, path
	}
	if from == "" {
		return nil, nil
	}
	// The read end first: a write end opens only while a reader exists.
	r, err := openPipeEnd(from, unix.O_RDONLY, "svdir-log-r")
	if err != nil {
		return nil, err
	}
	w, err := openPipeEnd(from, unix.O_WRONLY, "svdir-log-w")
	if err != nil {
		r.Close()
		return nil, err
	}
	return &svdirPipe{r: r, w: w}, nil
}

// openPipeEnd opens one end of the pipe at a /proc fd link as a new
// open file (blocking, as the children that get it expect).
func openPipeEnd(path string, mode int, name string) (*os.File, error) {
	fd, err := unix.Open(path, mode|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// svdirResumeSup takes supervise/ back (kept through exec, or opened
// and locked again) and writes the unit's status in it. A unit that
// never opened it is left to the scan (SvdirAdd).
func (m *Manager) svdirResumeSup(u *svdirUnit) {
	var files map[string]*os.File
	for name, f := range u.kept {
		if n, ok := strings.CutPrefix(name, svdirSupPrefix); ok {
			if files == nil {
				files = map[string]*os.File{}
			}
			files[n] = f
			delete(u.kept, name)
		}
	}
	for _, f := range u.kept {
		f.Close()
	}
	u.kept = nil
	if files != nil && m.opts.SvdirHub != nil {
		d, err := svdir.Resume(u.dir(), m.opts.SvdirHub, files, u.supStatus())
		if err == nil {
			u.sup = d
			m.svdirByDir()[d] = u
		} else {
			m.opts.Logger.Warn("opening supervise/ afresh", "unit", u.name, "err", err)
		}
	} else {
		for _, f := range files {
			f.Close()
		}
	}
	if u.sup == nil && u.state != Dead {
		m.svdirOpen(u)
	}
	switch {
	case u.state == Failed:
		m.svdirWrite(u)
	case u.pid == 0 && u.state == AutoRestart:
		m.svdirWrite(u)
		m.arm(u.rt, time.Second) // runsv's pause, in full
	case u.pid == 0 && u.state != Dead:
		// Nothing of it runs any more (a ./run gone unseen comes as an
		// exit event): the restart rule decides, as after an exit.
		m.svdirWrite(u)
	default:
		m.svdirSettle(u)
	}
}
