package reaper

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watchPidfdLocked watches a process that is not our child. A pidfd
// becomes readable when the process exits; it is registered with the Go
// runtime's poller, so the waiting goroutine costs no thread and no
// wake-ups. Unwatch and Close close the file, which ends the goroutine
// without a delivery.
func (r *Reaper) watchPidfdLocked(pid int, onExit func(Exit)) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch pid %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("watch pid %d: %w", pid, err)
	}
	if old, ok := r.pidfds[pid]; ok {
		old.Close()
	}
	r.pidfds[pid] = f
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := rc.Read(func(fd uintptr) bool { return pidfdExited(int(fd)) })
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.pidfds[pid] != f {
			return // unwatched or replaced; f was closed by whoever did it
		}
		delete(r.pidfds, pid)
		f.Close()
		if err != nil && !errors.Is(err, os.ErrClosed) {
			r.log.Warn("pidfd watch failed", "pid", pid, "err", err)
			return
		}
		if err != nil || r.closed {
			return
		}
		// If the process was reparented to us before it died (its parent
		// exited first), wait4 has or will have its real status.
		if e, ok := r.recent[pid]; ok {
			r.forgetLocked(pid)
			r.queueLocked(delivery{onExit, e})
			return
		}
		if r.isChildLocked(pid) {
			r.watch[pid] = onExit
			return
		}
		r.queueLocked(delivery{onExit, Exit{PID: pid, Time: time.Now(), Foreign: true}})
	}()
	return nil
}

// pidfdExited polls the pidfd without blocking; readable means exited.
func pidfdExited(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || (n > 0 && fds[0].Revents != 0)
	}
}
