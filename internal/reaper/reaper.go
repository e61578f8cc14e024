// Package reaper owns the one process-wide resource that must have a
// single owner: collecting exit statuses of child processes. It is the
// only caller of wait4 in tend. It makes tend a child subreaper (unless
// tend is PID 1, where orphans reparent to it anyway), reaps on SIGCHLD —
// and, for the children it starts, as soon as their pidfd says they
// exited — and routes each exit to whoever registered the pid.
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
	// Orphan is called for a reaped pid nobody watches, e.g. a
	// double-forked grandchild. It must not block.
	Orphan func(Exit)
	// Reaped is called for every reaped pid, watched or not, before its
	// callback; the daemon uses it to tell the cgroup manager
	// (cgroup.Manager.NoteExit). It must not block.
	Reaped func(Exit)
	// Getpid overrides os.Getpid (tests); PID 1 does not need the
	// subreaper flag.
	Getpid func() int
}

// Reaper reaps children and dispatches their exits. Create it with New,
// drive it with Run, stop it with Close.
//
// Callbacks (Options' hooks, Start's and Watch's onExit) run on the
// goroutines of Run, one at a time, in the order the exits were reaped,
// and without the reaper's lock: they may call the Reaper.
type Reaper struct {
	log    *slog.Logger
	orphan func(Exit)
	reaped func(Exit)
	sigc   chan os.Signal
	wake   chan struct{} // Watch queued an exit to deliver
	exits  *exitFDs      // nil: children are reaped on SIGCHLD only

	mu sync.Mutex
	// guards the fields below; held across fork() in Start and across
	// wait4 in reapLocked so a pid cannot be reaped before it is
	// registered, nor reused between reap and dispatch.
	watch    map[int]func(Exit)
	children map[int]int  // pidfd (in exits) of a child not yet reaped
	recent   map[int]Exit // reaped, unclaimed
	order    []int        // recent's pids, oldest first
	pending  []delivery   // exits to deliver, oldest first
	// delivering is set while a goroutine runs the pending callbacks;
	// another that reaps meanwhile leaves its deliveries to it.
	delivering bool
	// idle is signalled (with mu) when a delivery run ends.
	idle *sync.Cond
	// frozen: no more reaping or deliveries (Freeze), for a re-exec.
	frozen bool
	pidfds map[int]*os.File // watched non-children
	closed bool

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
		log:      log,
		orphan:   opts.Orphan,
		reaped:   opts.Reaped,
		sigc:     make(chan os.Signal, 1),
		wake:     make(chan struct{}, 1),
		watch:    make(map[int]func(Exit)),
		children: make(map[int]int),
		recent:   make(map[int]Exit),
		pidfds:   make(map[int]*os.File),
	}
	r.idle = sync.NewCond(&r.mu)
	exits, err := newExitFDs()
	if err != nil {
		log.Debug("children are reaped on SIGCHLD only", "err", err)
	} else {
		r.exits = exits
	}
	signal.Notify(r.sigc, unix.SIGCHLD)
	return r, nil
}

// Run reaps children and delivers exits to their callbacks until ctx is
// done: on SIGCHLD on the calling goroutine, and when a child's pidfd
// says it exited on a second goroutine, which Run ends before it returns.
// Call it once.
func (r *Reaper) Run(ctx context.Context) {
	if r.exits != nil {
		var wg sync.WaitGroup
		wg.Go(func() {
			err := r.exits.wait(r.reapAndDeliver)
			if !errors.Is(err, os.ErrDeadlineExceeded) { // not interrupt's doing
				r.log.Warn("child pidfds no longer polled; reaping on SIGCHLD only", "err", err)
			}
		})
		defer wg.Wait()
		defer r.exits.interrupt()
	}
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

// reapAndDeliver reaps every exited child and runs the callbacks due.
// Two goroutines call it (Run's on SIGCHLD, and the pidfd one); whichever
// finds no delivery under way runs the queue until it is empty, the other
// only adds to it. So callbacks never overlap and keep reaping order, and
// none runs with mu held.
func (r *Reaper) reapAndDeliver() {
	r.mu.Lock()
	r.reapLocked()
	if r.delivering {
		r.mu.Unlock()
		return
	}
	r.delivering = true
	for len(r.pending) > 0 {
		ds := r.pending
		r.pending = nil
		r.mu.Unlock()
		for _, d := range ds {
			d.fn(d.e)
		}
		r.mu.Lock()
	}
	r.delivering = false
	r.idle.Broadcast()
	r.mu.Unlock()
}

// Freeze stops reaping for good, and returns once every exit reaped so
// far was delivered: a manager about to re-exec hands its children over
// unreaped, so the next process collects their statuses itself. Exits
// that watched non-children report from now on are dropped; the next
// process finds those processes gone.
func (r *Reaper) Freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = true
	for {
		for r.delivering {
			r.idle.Wait()
		}
		if len(r.pending) == 0 {
			return
		}
		ds := r.pending
		r.pending, r.delivering = nil, true
		r.mu.Unlock()
		for _, d := range ds {
			d.fn(d.e)
		}
		r.mu.Lock()
		r.delivering = false
		r.idle.Broadcast()
	}
}

// reapLocked collects every exited child and queues the callbacks to run,
// in order: Reaped hook, then the watcher or Orphan.
func (r *Reaper) reapLocked() {
	for !r.frozen {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no children; 0: none exited
			if err != nil && !errors.Is(err, unix.ECHILD) {
				r.log.Warn("wait4 failed", "err", err)
			}
			return
		}
		e := Exit{PID: pid, Status: ws, Time: time.Now()}
		if fd, ok := r.children[pid]; ok {
			delete(r.children, pid)
			// Closing takes the pidfd out of the epoll set too (unless
			// a child between fork and exec shares it for a moment: a
			// stale wake-up then, which reaps nothing).
			unix.Close(fd)
		}
		if r.reaped != nil {
			r.pending = append(r.pending, delivery{r.reaped, e})
		}
		if fn, ok := r.watch[pid]; ok {
			delete(r.watch, pid)
			r.pending = append(r.pending, delivery{fn, e})
			continue
		}
		r.rememberLocked(e)
		if r.orphan != nil {
			r.pending = append(r.pending, delivery{r.orphan, e})
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
// call other Reaper methods. onExit runs once, on a Run goroutine, and
// must not block.
//
// pidfd, when not nil, is where fork may leave a pidfd of the child
// (syscall.SysProcAttr.PidFD): the reaper then takes it and reaps the
// child the moment it exits, without waiting for SIGCHLD to come through.
// It is -1 on entry; a fork that fails or cannot get one leaves it so.
func (r *Reaper) Start(fork func(pidfd *int) (int, error), onExit func(Exit)) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("reaper closed")
	}
	pidfd, want := -1, (*int)(nil)
	if r.exits != nil {
		want = &pidfd
	}
	pid, err := fork(want)
	if err != nil {
		if pidfd >= 0 { // ForkExec closes it itself; another fork might not
			unix.Close(pidfd)
		}
		return 0, err
	}
	r.forgetLocked(pid) // a stale exit of an earlier process with this pid
	r.watch[pid] = onExit
	if pidfd >= 0 {
		if err := r.exits.add(pidfd); err != nil {
			// A kernel that cannot poll pidfds (5.2): SIGCHLD reaps it.
			r.log.Debug("child pidfd not polled", "pid", pid, "err", err)
			unix.Close(pidfd)
		} else {
			r.children[pid] = pidfd
		}
	}
	return pid, nil
}

// Watch registers onExit for a process tend did not fork itself. If pid
// is (or was, moments ago) tend's child, its exit comes from wait4; an
// exit reaped before Watch was called is delivered at once. If pid is not
// tend's child, it is watched through a pidfd and reported with Foreign
// set. onExit always runs on a Run goroutine. Watch fails if no process
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

// IsChild reports whether pid is the calling process's child, running
// or a zombie not yet reaped, without reaping it.
func (r *Reaper) IsChild(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isChildLocked(pid)
}

// isChildLocked asks the kernel whether pid is our child without reaping
// it (WNOWAIT), whether it runs or is a zombie.
func (r *Reaper) isChildLocked(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil
}

func (r *Reaper) queueLocked(d delivery) {
	if r.frozen {
		return
	}
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

// Close stops listening for SIGCHLD, ends the pidfd watchers and closes
// the children's pidfds. Exits not yet delivered are dropped. Run must
// have returned or be about to.
func (r *Reaper) Close() error {
	signal.Stop(r.sigc)
	r.mu.Lock()
	r.closed = true
	for pid, f := range r.pidfds {
		delete(r.pidfds, pid)
		f.Close()
	}
	for pid, fd := range r.children {
		delete(r.children, pid)
		unix.Close(fd)
	}
	r.mu.Unlock()
	if r.exits != nil {
		// Without mu: closing waits for a wait still under way, which
		// may itself be waiting for mu.
		r.exits.close()
	}
	r.wg.Wait()
	return nil
}
