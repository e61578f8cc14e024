//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package holderproc

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The holder's life is bounded by its manager's (docs/decisions.md,
// "The fd holder ends a grace period after its manager"): it watches a
// pidfd of the tend that manages it, and when that process ends it arms
// a timer of the grace period. A tend that takes it over meanwhile (the
// 'M' request: after a crash, the next `tend run`) becomes its manager
// and disarms the timer; when the timer fires the holder exits, and
// what it held is closed with it. All of it is events of the one epoll
// loop: nothing wakes the holder while its manager runs.

// timespec, itimerspec and pollfd are the kernel's.
type timespec struct{ sec, nsec int64 }

type itimerspec struct{ interval, value timespec }

type pollfd struct {
	fd              int32
	events, revents int16
}

// watchManager adds the manager's pidfd and the grace timer to the
// loop, at the start.
//
//go:nosplit
//go:norace
func (st *child) watchManager() {
	if st.mgr >= 0 && !st.watch(st.mgr) {
		sys(syscall.SYS_CLOSE, uintptr(st.mgr), 0, 0, 0, 0, 0)
		st.mgr = -1
	}
	tfd, e := sys(unix.SYS_TIMERFD_CREATE, unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK, 0, 0, 0, 0)
	if e != 0 {
		return // the holder outlives its manager, as without a pidfd
	}
	st.tfd = int32(tfd)
	if !st.watch(st.tfd) {
		sys(syscall.SYS_CLOSE, tfd, 0, 0, 0, 0, 0)
		st.tfd = -1
	}
}

// managerEnded handles the manager's pidfd becoming readable: the
// manager has ended, unless the event is stale (the pidfd was replaced
// by a new manager's, under the same number, earlier in the batch).
//
//go:nosplit
//go:norace
func (st *child) managerEnded() {
	st.pfd = pollfd{fd: st.mgr, events: unix.POLLIN}
	st.ts = timespec{}
	n, e := sys(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&st.pfd)), 1, uintptr(unsafe.Pointer(&st.ts)), 0, 0, 0)
	if e != 0 || n == 0 {
		return
	}
	st.dropManager()
	if st.graceMS > 0 {
		st.setTimer(st.graceMS)
	}
}

// graceOver says whether the grace timer has fired (not a stale event
// of a timer disarmed earlier in the batch: disarming clears its count).
//
//go:nosplit
//go:norace
func (st *child) graceOver() bool {
	_, e := sys(syscall.SYS_READ, uintptr(st.tfd), uintptr(unsafe.Pointer(&st.ticks)), 8, 0, 0, 0)
	return e == 0
}

// manage makes the client on c the holder's manager: the holder watches
// its process (the peer of the connection) from now on, and the grace
// timer is disarmed. The request may carry the grace period to use
// from now on, as 8 bytes little-endian, in milliseconds. It returns the
// reason of a refusal, or "".
//
//go:nosplit
//go:norace
func (st *child) manage(c int32, arg []byte) string {
	if len(arg) != 0 && len(arg) != 8 {
		return "manage: bad grace period"
	}
	st.credLen = uint32(unsafe.Sizeof(st.cred))
	_, e := sys(syscall.SYS_GETSOCKOPT, uintptr(c), syscall.SOL_SOCKET, syscall.SO_PEERCRED,
		uintptr(unsafe.Pointer(&st.cred)), uintptr(unsafe.Pointer(&st.credLen)), 0)
	if e != 0 || st.cred.Pid <= 0 {
		return "manage: no pid of the client"
	}
	pfd, e := sys(unix.SYS_PIDFD_OPEN, uintptr(st.cred.Pid), 0, 0, 0, 0, 0)
	if e != 0 {
		return "manage: cannot watch the client's process"
	}
	st.dropManager()
	st.mgr = int32(pfd)
	if !st.watch(st.mgr) {
		st.dropManager()
		return "manage: cannot watch the client's process"
	}
	if len(arg) == 8 {
		st.graceMS = 0
		for i := 7; i >= 0; i-- {
			st.graceMS = st.graceMS<<8 | uint64(arg[i])
		}
	}
	st.setTimer(0)
	return ""
}

// dropManager stops watching the manager's pidfd and closes it.
//
//go:nosplit
//go:norace
func (st *child) dropManager() {
	if st.mgr < 0 {
		return
	}
	sys(syscall.SYS_EPOLL_CTL, uintptr(st.ep), syscall.EPOLL_CTL_DEL, uintptr(st.mgr), 0, 0, 0)
	sys(syscall.SYS_CLOSE, uintptr(st.mgr), 0, 0, 0, 0, 0)
	st.mgr = -1
}

// setTimer arms the grace timer to fire once in ms milliseconds, or
// disarms it (0).
//
//go:nosplit
//go:norace
func (st *child) setTimer(ms uint64) {
	if st.tfd < 0 {
		return
	}
	st.its = itimerspec{value: timespec{sec: int64(ms / 1000), nsec: int64(ms%1000) * 1e6}}
	sys(unix.SYS_TIMERFD_SETTIME, uintptr(st.tfd), 0, uintptr(unsafe.Pointer(&st.its)), 0, 0, 0)
}
