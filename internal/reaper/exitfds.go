package reaper

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// exitFDs is an epoll instance holding a pidfd (clone's CLONE_PIDFD) of
// every child started with one; a pidfd becomes readable when its process
// exits. Go's poller watches the epoll instance itself, so a child's exit
// wakes the goroutine in wait directly, instead of travelling through
// SIGCHLD's signal handler, os/signal's goroutine and a channel to Run —
// a few thread wake-ups that showed as restart latency. The children cost
// a descriptor each and no goroutine.
//
// It only says when to reap: reaping stays wait4 under the reaper's lock,
// on whichever path (SIGCHLD or pidfd) comes first, so each exit is
// collected and delivered once.
type exitFDs struct {
	f  *os.File // the epoll instance; non-blocking, so registered with Go's poller
	rc syscall.RawConn
}

func newExitFDs() (*exitFDs, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll for child pidfds: %w", err)
	}
	// os.NewFile hands only a non-blocking descriptor to Go's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("epoll for child pidfds: %w", err)
	}
	f := os.NewFile(uintptr(fd), "reaper child pidfds (epoll)")
	rc, err := f.SyscallConn()
	if err == nil {
		// Only a file the poller took has deadlines: this checks it did.
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("epoll for child pidfds: %w", err)
	}
	return &exitFDs{f: f, rc: rc}, nil
}

// add watches pidfd. It fails on a kernel that cannot poll pidfds (5.2)
// and once the set is closed.
func (x *exitFDs) add(pidfd int) error {
	var err error
	cerr := x.rc.Control(func(ep uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(pidfd)}
		err = unix.EpollCtl(int(ep), unix.EPOLL_CTL_ADD, pidfd, &ev)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// wait calls reap whenever a watched process may have exited, until
// interrupt or close; it returns the error that ended it.
//
// reap must close the pidfds of the children it reaped, which also takes
// them out of the set. A pidfd left readable (a child a tracer holds
// until it lets go) costs no busy loop: Go's poller waits for the set's
// next change, not for it to become empty.
func (x *exitFDs) wait(reap func()) error {
	events := make([]unix.EpollEvent, 1) // whether any is ready is all reap needs
	return x.rc.Read(func(ep uintptr) bool {
		if n, _ := unix.EpollWait(int(ep), events, 0); n > 0 {
			reap()
		}
		return false // the loop ends only through the poller's error
	})
}

// interrupt makes wait return, leaving the set open for close.
func (x *exitFDs) interrupt() { _ = x.f.SetReadDeadline(time.Unix(1, 0)) }

func (x *exitFDs) close() { x.f.Close() }
