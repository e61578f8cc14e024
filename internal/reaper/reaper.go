// Package reaper owns the one process-wide resource that must have a
// single owner: collecting exit statuses of child processes. It is the
// only caller of wait4 in tend. It makes tend a child subreaper (unless
// tend is PID 1, where orphans reparent to it anyway), reaps on SIGCHLD,
// and routes each exit to whoever registered the pid.
//
// Nothing else in the process may wait for children (no os/exec Wait, no
// os.Process.Wait): a wait4(-1) here would steal their statuses and vice
// versa.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// recentMax bounds the memory of exits nobody claimed yet, so that a
// Watch racing with the reap of its pid still sees the exit.
const recentMax = 128

// Exit is one process exit as collected by wait4, or as observed through
// a pidfd for a process that was not tend's child (Foreign).
type Exit struct {
	PID    int
	Status unix.WaitStatus
	Time   time.Time
	// Foreign is true when the process was not a child of tend and was
	// watched through a pidfd: it is known to have exited, but its exit
	// status is not (Status is zero and Describe reports "unknown").
	Foreign bool
}

// Describe returns the exit the way systemd reports it: ("exited", code),
// ("killed", signal) or ("dumped", signal); ("unknown", 0) for a Foreign
// exit.
func (e Exit) Describe() (code string, status int) {
	switch {
	case e.Foreign:
		return "unknown", 0
	case e.Status.Exited():
		return "exited", e.Status.ExitStatus()
	case e.Status.Signaled() && e.Status.CoreDump():
		return "dumped", int(e.Status.Signal())
	case e.Status.Signaled():
		return "killed", int(e.Status.Signal())
	}
	return "unknown", 0
}

// Success reports whether the process exited with status 0.
func (e Exit) Success() bool {
	return !e.Foreign && e.Status.Exited() && e.Status.ExitStatus() == 0
}

// String formats the exit like systemd's "code=exited, status=1".
func (e Exit) String() string {
	code, st := e.Describe()
	if code == "killed" || code == "dumped" {
		return fmt.Sprintf("pid %d code=%s, status=%d/%s", e.PID, code, st, unix.SignalName(unix.Signal(st)))
	}
	return fmt.Sprintf("pid %d code=%s, status=%d", e.PID, code, st)
}

// Options configure a Reaper.
type Options struct {
	Logger *slog.Logger
	// Orphan is called (on the reaper goroutine) for a reaped pid nobody
	// watches, e.g. a double-forked grandchild. It must not block.
	Orphan func(Exit)
	// Reaped is called (on the reaper goroutine) for every reaped pid,
	// watched or not, before its callback; the daemon uses it to tell
	// the cgroup manager (cgroup.Manager.NoteExit). It must not block.
	Reaped func(Exit)
	// Getpid overrides os.Getpid (tests); PID 1 does not need the
	// subreaper flag.
	Getpid func() int
}

// Reaper reaps children and dispatches their exits. Create it with New,
// drive it with Run, stop it with Close.
type Reaper struct {
	log    *slog.Logger
	orphan func(Exit)
	reaped func(Exit)
	sigc   chan os.Signal
	wake   chan struct{} // Watch queued an exit to deliver

	mu sync.Mutex
	// guards the fields below; held across fork() in Start and across
	// wait4 in reapLocked so a pid cannot be reaped before it is
	// registered, nor reused between reap and dispatch.
	watch   map[int]func(Exit)
	recent  map[int]Exit // reaped, unclaimed
	order   []int        // recent's pids, oldest first
	pending []delivery   // exits to deliver on the reaper goroutine
	pidfds  map[int]*os.File
	closed  bool

	wg sync.WaitGroup // pidfd watcher goroutines
}

type delivery struct {
	fn func(Exit)
	e  Exit
}

// New makes the calling process a child subreaper (unless it is PID 1)
// and starts listening for SIGCHLD. Reaping happens in Run.
func New(opts Options) (*Reaper, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	getpid := opts.Getpid
	if getpid == nil {
		getpid = os.Getpid
	}
	if getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("cannot become child subreaper: %w", err)
		}
	}
	r := &Reaper{
		log:    log,
		orphan: opts.Orphan,
		reaped: opts.Reaped,
		sigc:   make(chan os.Signal, 1),
		wake:   make(chan struct{}, 1),
		watch:  make(map[int]func(Exit)),
		recent: make(map[int]Exit),
		pidfds: make(map[int]*os.File),
	}
	signal.Notify(r.sigc, unix.SIGCHLD)
	return r, nil
}

// Run reaps children whenever SIGCHLD arrives and delivers exits to
// their callbacks, on the calling goroutine, until ctx is done. Call it
// once.
func (r *Reaper) Run(ctx context.Context) {
	r.reapAndDeliver() // children that exited before Run
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.sigc:
		case <-r.wake:
		}
		r.reapAndDeliver()
	}
}

func (r *Reaper) reapAndDeliver() {
	r.mu.Lock()
	ds := r.reapLocked()
	r.mu.Unlock()
	for _, d := range ds {
		d.fn(d.e)
	}
}

// reapLocked collects every exited child and returns the callbacks to
// run, in order: Reaped hook, then the watcher or Orphan.
func (r *Reaper) reapLocked() []delivery {
	ds := r.pending
	r.pending = nil
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none exited
			if err != nil && !errors.Is(err, unix.ECHILD) {
				r.log.Warn("wait4 failed", "err", err)
			}
			return ds
		}
		e := Exit{PID: pid, Status: ws, Time: time.Now()}
		if r.reaped != nil {
			ds = append(ds, delivery{r.reaped, e})
		}
		if fn, ok := r.watch[pid]; ok {
			delete(r.watch, pid)
			ds = append(ds, delivery{fn, e})
			continue
		}
		r.rememberLocked(e)
		if r.orphan != nil {
			ds = append(ds, delivery{r.orphan, e})
		} else {
			r.log.Debug("reaped orphan", "exit", e.String())
		}
	}
}

func (r *Reaper) rememberLocked(e Exit) {
	if _, dup := r.recent[e.PID]; !dup {
		r.order = append(r.order, e.PID)
	}
	r.recent[e.PID] = e
	for len(r.order) > recentMax {
		delete(r.recent, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *Reaper) forgetLocked(pid int) {
	delete(r.recent, pid)
	for i, p := range r.order {
		if p == pid {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
}

// Start calls fork with the reaper's lock held and registers onExit for
// the pid it returns, so the child cannot be reaped unseen. fork must not
// call other Reaper methods. onExit runs once, on the Run goroutine, and
// must not block.
func (r *Reaper) Start(fork func() (int, error), onExit func(Exit)) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("reaper closed")
	}
	pid, err := fork()
	if err != nil {
		return 0, err
	}
	r.forgetLocked(pid) // a stale exit of an earlier process with this pid
	r.watch[pid] = onExit
	return pid, nil
}

// Watch registers onExit for a process tend did not fork itself. If pid
// is (or was, moments ago) tend's child, its exit comes from wait4; an
// exit reaped before Watch was called is delivered at once. If pid is not
// tend's child, it is watched through a pidfd and reported with Foreign
// set. onExit always runs on the Run goroutine. Watch fails if no process
// pid exists and no recent exit of it is known.
func (r *Reaper) Watch(pid int, onExit func(Exit)) error {
	if pid <= 0 {
		return fmt.Errorf("watch pid %d: invalid pid", pid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("reaper closed")
	}
	if e, ok := r.recent[pid]; ok {
		r.forgetLocked(pid)
		r.queueLocked(delivery{onExit, e})
		return nil
	}
	if r.isChildLocked(pid) {
		r.watch[pid] = onExit
		return nil
	}
	return r.watchPidfdLocked(pid, onExit)
}

// isChildLocked asks the kernel whether pid is our child without reaping
// it (WNOWAIT), whether it runs or is a zombie.
func (r *Reaper) isChildLocked(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil
}

func (r *Reaper) queueLocked(d delivery) {
	r.pending = append(r.pending, d)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Unwatch forgets the callback of pid; a later exit of pid goes to
// Orphan.
func (r *Reaper) Unwatch(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watch, pid)
	if f, ok := r.pidfds[pid]; ok {
		delete(r.pidfds, pid)
		f.Close() // wakes its watcher goroutine, which then ends
	}
}

// Close stops listening for SIGCHLD and ends the pidfd watchers. Exits
// not yet delivered are dropped. Run must have returned or be about to.
func (r *Reaper) Close() error {
	signal.Stop(r.sigc)
	r.mu.Lock()
	r.closed = true
	for pid, f := range r.pidfds {
		delete(r.pidfds, pid)
		f.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}
