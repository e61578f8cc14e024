package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/cgroup"
)

// A fork copies the parent's descriptor table and the child's execve
// then closes every close-on-exec entry of the copy, one by one. A
// manager of N services holds several descriptors per service (log
// pipes, pidfds, cgroup files), so each start costs O(N) in the kernel
// and a bring-up of N services O(N²): at 1000 services that was the
// largest single cost of tend's bring-up (profile in bench/README.md).
//
// A Forker forks from one OS thread of its own whose descriptor table
// is private (unshare(CLONE_FILES)) and nearly empty: only the Go
// runtime's poller descriptors, which the runtime may touch from any
// thread, and the pid trampoline stay in it. For each fork the
// descriptors the child gets are copied in from tend's table
// (pidfd_getfd), the fork runs, and the copies are closed again, so the
// child's table is as small as the unit's own files.

// Forker runs fork+exec on a thread with a small descriptor table. The
// zero value is not usable; a nil *Forker forks on the calling thread.
type Forker struct {
	reqs chan func() // forks, run before any queued work
	done chan struct{}
	wake chan struct{} // capacity 1: queue was added to
	// self is a pidfd of tend itself, valid in the forker's table: the
	// source of the descriptors copied in.
	self int

	mu     sync.RWMutex // guards closed; held for reading while a fork is handed over
	closed bool

	qmu   sync.Mutex
	queue []func() // later's work, oldest first; guarded by qmu
	ended bool     // the thread is gone: later queues nothing; guarded by qmu

	// stray: the thread could not return to tend's own cgroups after a
	// fork (leave); owned by the forker's thread, which then ends.
	stray bool
	// own is the scheduling the children are to have, set when the
	// forker's thread runs boosted (boost); owned by the forker's thread.
	own *unix.SchedAttr
	// homes holds tend's own `tasks` files open in the forker's table,
	// by path (leave); owned by the forker's thread.
	homes map[string]int
}

// NewForker starts the forker's thread. It fails on kernels without
// pidfd_getfd (before 5.6); callers then fork on their own threads.
func NewForker() (*Forker, error) {
	trampolineFD() // made before the table is copied, so it keeps its number
	// The runtime's poller must exist before the copy: the forker's
	// thread may wake it, by its descriptor numbers.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return nil, fmt.Errorf("forker: %w", err)
	}
	f := &Forker{reqs: make(chan func()), done: make(chan struct{}), wake: make(chan struct{}, 1), self: self}
	ready := make(chan error, 1)
	go f.loop(ready)
	err = <-ready
	unix.Close(self) // the forker's table has its own copy
	if err != nil {
		return nil, fmt.Errorf("forker: %w", err)
	}
	return f, nil
}

// loop owns the forker's thread. It never unlocks it: when loop returns,
// the runtime ends the thread with its private table. That thread must
// not be the main one: pidfd_getfd reads tend's table through the main
// thread (the pidfd names the process by its leader).
func (f *Forker) loop(ready chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// Hold the main thread while another goroutine takes a thread
		// of its own, so that it cannot be this one; then let it go.
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			f.serve(ready)
		}()
		<-locked
		runtime.UnlockOSThread()
		return
	}
	f.serve(ready)
}

// serve runs on the forker's locked thread until Close.
func (f *Forker) serve(ready chan<- error) {
	defer close(f.done)
	if err := f.privateTable(); err != nil {
		ready <- err
		return
	}
	// Probe with a descriptor that cannot exist: EBADF means the call
	// is there and allowed.
	if _, err := unix.PidfdGetfd(f.self, -1, 0); !errors.Is(err, unix.EBADF) {
		ready <- fmt.Errorf("pidfd_getfd: %v", err) // ENOSYS, or not allowed
		return
	}
	f.boost()
	ready <- nil
	defer f.end() // what was queued before Close still runs
	for {
		// A fork waiting is taken before any queued work, and queued
		// work runs one step at a time, so a fork waits at most for the
		// step under way.
		select {
		case fn, ok := <-f.reqs:
			if !ok {
				return
			}
			fn()
			if f.stray {
				return
			}
			// The fork's caller (the manager loop) was just put on this
			// thread's P to run next; without a yield it would wait
			// for every queued step, whose short system calls never
			// hand the P off. This thread then waits for a P like any
			// goroutine.
			runtime.Gosched()
			continue
		default:
		}
		if fn := f.next(); fn != nil {
			fn()
			continue
		}
		select {
		case fn, ok := <-f.reqs:
			if !ok {
				return
			}
			fn()
			if f.stray {
				return
			}
			runtime.Gosched() // as above
		case <-f.wake:
		}
	}
}

// next takes the oldest queued step, or returns nil.
func (f *Forker) next() func() {
	f.qmu.Lock()
	defer f.qmu.Unlock()
	if len(f.queue) == 0 {
		return nil
	}
	fn := f.queue[0]
	f.queue[0] = nil
	f.queue = f.queue[1:]
	return fn
}

// end runs what later queued and refuses more.
func (f *Forker) end() {
	f.qmu.Lock()
	f.ended = true
	f.qmu.Unlock()
	f.drain()
}

func (f *Forker) drain() {
	for fn := f.next(); fn != nil; fn = f.next() {
		fn()
	}
}

// privateTable gives the calling thread a copy of the descriptor table
// and closes in it everything but the runtime's poller descriptors
// (epoll and eventfd), the pid trampoline and the pidfd of tend.
func (f *Forker) privateTable() error {
	if err := unix.Unshare(unix.CLONE_FILES); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	keep := map[int]bool{f.self: true}
	if fd, ok := trampolineFD(); ok {
		keep[fd] = true
	}
	fds, err := threadFDs()
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if fd < 3 || keep[fd] {
			continue
		}
		switch target, _ := os.Readlink("/proc/thread-self/fd/" + strconv.Itoa(fd)); target {
		case "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
			continue
		}
		unix.Close(fd)
	}
	return nil
}

// threadFDs lists the calling thread's descriptors with raw system
// calls: an os.File would register with the poller by a descriptor
// number that means something else in tend's own table.
func threadFDs() ([]int, error) {
	dir, err := unix.Open("/proc/thread-self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("list descriptors: %w", err)
	}
	defer unix.Close(dir)
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(dir, buf)
		if err != nil {
			return nil, fmt.Errorf("list descriptors: %w", err)
		}
		if n == 0 {
			break
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd != dir {
				fds = append(fds, fd)
			}
		}
	}
	return fds, nil
}

// Close ends the forker's thread; later forks run on the caller's
// thread.
func (f *Forker) Close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.reqs)
	}
	f.mu.Unlock()
	<-f.done
}

// run runs fn on the forker's thread and reports whether it did (false:
// the forker is closed or nil).
func (f *Forker) run(fn func()) bool {
	if f == nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return false
	}
	done := make(chan struct{})
	select {
	case f.reqs <- func() { fn(); close(done) }:
	case <-f.done: // ended on its own (leave)
		return false
	}
	<-done
	return true
}

// later queues steps to run on the forker's thread, in order, whenever
// no fork is waiting, and returns at once: work that may follow a fork
// (the v1 stats groups, up to about 1.6 ms a write while the kernel waits for
// an RCU grace period) then neither delays the caller nor the next
// fork. Steps queued before Close still run before Close returns. It
// reports false, and queues nothing, when the forker is closed or nil.
// The steps must not use descriptors of tend's table.
func (f *Forker) later(steps ...func()) bool {
	if f == nil {
		return false
	}
	if len(steps) == 0 {
		// Nothing to queue (a group without v1 stats groups, as every
		// Accept=yes instance's): waking the forker's locked thread for
		// it cost two thread hand-overs per start.
		return true
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return false
	}
	f.qmu.Lock()
	if f.ended {
		f.qmu.Unlock()
		return false
	}
	f.queue = append(f.queue, steps...)
	f.qmu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return true
}

// smallTable is the descriptor number below which the child's own
// files tell that tend's table is small (the kernel gives out the lowest
// free numbers): the fork is then cheaper on the calling thread than
// handed to the forker's.
const smallTable = 64

// birth is cgroup.Group.Birth: v1 `tasks` files the forker's thread
// joins for a fork (enter) and returns to after it (leave, in the same
// order), so that the child is born in the unit's v1 stats groups.
type birth struct{ enter, leave []string }

// forkExec is forkExec (spawn.go) on the forker's thread, or on the
// caller's while tend's table is small (forkExecBorn when the child is
// to be born in v1 stats groups). On the forker's thread attr's
// descriptors are copied into its table for the fork, and the pidfd, if
// asked for, is opened in tend's table after the fork (the caller holds
// the reaper's lock, so the child is not reaped before). born reports
// that the child was born in every group of b.enter.
func (f *Forker) forkExec(path string, argv []string, attr *syscall.ProcAttr, pidfd *int, b birth) (pid int, cloned, born bool, err error) {
	if slices.Max(append([]uintptr{0}, attr.Files...)) < smallTable {
		if len(b.enter) == 0 {
			pid, cloned, err = forkExec(path, argv, attr, pidfd)
			return pid, cloned, false, err
		}
		if pid, cloned, born, here, err := forkExecBorn(path, argv, attr, pidfd, b); here {
			return pid, cloned, born, err
		}
	}
	ran := f.run(func() { pid, cloned, born, err = f.forkExecHere(path, argv, attr, b) })
	if !ran {
		pid, cloned, err = forkExec(path, argv, attr, pidfd)
		return pid, cloned, false, err
	}
	if err == nil && pidfd != nil {
		if fd, perr := unix.PidfdOpen(pid, 0); perr == nil {
			*pidfd = fd
		}
	}
	return pid, cloned, born, err
}

// forkExecHere runs on the forker's thread.
func (f *Forker) forkExecHere(path string, argv []string, attr *syscall.ProcAttr, b birth) (int, bool, bool, error) {
	copies := map[int]int{}
	defer func() {
		for _, fd := range copies {
			unix.Close(fd)
		}
	}()
	local := func(fd int) (int, error) {
		if fd < 0 {
			return fd, nil
		}
		if c, ok := copies[fd]; ok {
			return c, nil
		}
		c, err := unix.PidfdGetfd(f.self, fd, 0)
		if err != nil {
			return -1, fmt.Errorf("copy descriptor %d: %w", fd, err)
		}
		copies[fd] = c
		return c, nil
	}
	a := *attr
	sys := *attr.Sys
	a.Sys = &sys
	a.Files = make([]uintptr, len(attr.Files))
	for i, fd := range attr.Files {
		c, err := local(int(fd))
		if err != nil {
			return 0, false, false, err
		}
		a.Files[i] = uintptr(c)
	}
	if sys.UseCgroupFD {
		c, err := local(sys.CgroupFD)
		if err != nil {
			return 0, false, false, err
		}
		sys.CgroupFD = c
	}
	entered := f.enter(b.enter)
	pid, cloned, err := forkExec(path, argv, &a, nil)
	if err == nil {
		f.unboost(pid)
	}
	f.leave(b.leave[:entered])
	return pid, cloned, entered == len(b.enter) && len(b.enter) > 0, err
}

// enter moves the forker's thread into the groups of files (enterGroups).
func (f *Forker) enter(files []string) int {
	if f.stray {
		return 0
	}
	return enterGroups(files)
}

// enterGroups moves the calling thread into the groups of files (v1
// `tasks` files), in order, until one refuses; it returns how many it
// joined.
func enterGroups(files []string) int {
	for i, file := range files {
		if cgroup.JoinThread(file) != nil {
			return i
		}
	}
	return len(files)
}

// leave moves the thread back to tend's own groups, whose `tasks` files
// stay open in the forker's table. A thread that cannot go back would
// give the next child someone else's groups: it ends instead (serve
// returns, and the runtime ends a locked thread whose goroutine exits),
// and forks go back to the callers' threads.
func (f *Forker) leave(files []string) {
	for i := len(files) - 1; i >= 0; i-- {
		fd, ok := f.homes[files[i]]
		if !ok {
			var err error
			if fd, err = unix.Open(files[i], unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
				f.stray = true
				continue
			}
			if f.homes == nil {
				f.homes = map[string]int{}
			}
			f.homes[files[i]] = fd
		}
		if _, err := unix.Write(fd, []byte("0")); err != nil { // cgroup.JoinThread on a kept descriptor
			f.stray = true
		}
	}
}

// forkExecBorn is the forker's enter, fork and leave on a thread of the
// caller's, for a table small enough that the fork costs less there
// than the two thread hand-overs to the forker's thread and back (~0.1
// ms of a restart after kill -9 in a small instance, bench/README.md). It
// runs on a goroutine of its own, which usually takes over the caller's
// thread at once: a thread that cannot leave the unit's groups then ends
// with that goroutine instead of forking the caller's next child there.
// It does nothing, and reports here false, on the main thread: the v1
// memory controller charges the whole process to the group its leader
// is in, and the runtime never ends that thread.
func forkExecBorn(path string, argv []string, attr *syscall.ProcAttr, pidfd *int, b birth) (pid int, cloned, born, here bool, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			runtime.UnlockOSThread()
			return
		}
		here = true
		entered := enterGroups(b.enter)
		pid, cloned, err = forkExec(path, argv, attr, pidfd)
		born = entered == len(b.enter)
		for i := entered - 1; i >= 0; i-- {
			if cgroup.JoinThread(b.leave[i]) != nil {
				return // still locked: the runtime ends the thread
			}
		}
		runtime.UnlockOSThread()
	}()
	<-done
	return pid, cloned, born, here, err
}

// While the forker's thread waits in a vfork, every start behind it
// waits too, and on a busy machine (a bring-up, whose new services want
// both cores) the child first waits for a CPU, and again after its
// setsid: that moves it into a new autogroup, placed behind the task
// running. Measured at a bring-up of 1000 service directories, half of
// the time between two forks went there (bench/README.md). So the
// forker's thread runs with a short time slice, which lets a task
// preempt on wake-up, and, where tend may, a lower nice value; the child
// inherits both, reaches its execve at once, and gets tend's own
// settings back as soon as the fork returns (before the program it runs
// can have done anything: the vfork ends in the middle of its execve).
const (
	boostSlice = 100_000 // ns, the shortest the kernel takes
	boostNice  = 10
)

// boost makes the forker's thread's scheduling the boosted one and
// keeps in f.own what its children are to get back. It leaves a thread
// that is not under the fair scheduler, or whose children are reset by
// the kernel anyway (SCHED_RESET_ON_FORK), as it is.
func (f *Forker) boost() {
	own, err := unix.SchedGetAttr(0, 0)
	if err != nil || own.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0 {
		return
	}
	switch own.Policy {
	case unix.SCHED_NORMAL, unix.SCHED_BATCH, unix.SCHED_IDLE:
	default:
		return
	}
	own.Size = unix.SizeofSchedAttr
	own.Flags = 0
	was := *own
	// The system call reports the slice in use, the default one too;
	// a slice of 0 asks for the default, which is what tend's children
	// got before unless tend itself was given a slice of its own.
	probe := *own
	probe.Runtime = 0
	if unix.SchedSetAttr(0, &probe, 0) != nil {
		return
	}
	if def, err := unix.SchedGetAttr(0, 0); err == nil && def.Runtime == own.Runtime {
		own.Runtime = 0
	}
	fast := *own
	fast.Runtime = boostSlice
	fast.Nice = int32(max(int(own.Nice)-boostNice, -20))
	if unix.SchedSetAttr(0, &fast, 0) != nil { // a lower nice value needs CAP_SYS_NICE
		fast.Nice = own.Nice
		if unix.SchedSetAttr(0, &fast, 0) != nil {
			unix.SchedSetAttr(0, &was, 0)
			return
		}
	}
	f.own = own
}

// unboost gives the child of a fork on the forker's thread tend's own
// scheduling settings back.
func (f *Forker) unboost(pid int) {
	if f.own != nil {
		unix.SchedSetAttr(pid, f.own, 0)
	}
}
