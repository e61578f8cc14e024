package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Limits bound what API clients may hold of the daemon. The socket is
// open to every local user; without bounds one of them can take every
// descriptor tend may open (then a restarting service gets no log pipe)
// and the memory of thousands of idle connections. Zero fields take the
// defaults.
type Limits struct {
	// MaxConns bounds all open connections (default 512).
	MaxConns int
	// PrivilegedReserve of MaxConns are kept for root and the instance's
	// owner, so they are answered while others hold the rest (default 64).
	PrivilegedReserve int
	// MaxConnsPerUID bounds the connections of each other uid (default 32).
	MaxConnsPerUID int
	// FDReserve is how many descriptors below the process's limit the
	// manager keeps for its own work (pipes, pidfds, journal files):
	// other callers' connections are refused past limit-FDReserve,
	// privileged ones past limit-FDReserve/2 (default: a tenth of the
	// limit, at least 256).
	FDReserve int
}

const (
	defaultMaxConns          = 512
	defaultPrivilegedReserve = 64
	defaultMaxConnsPerUID    = 32
	minFDReserve             = 256
	// A burst is over when the open connections fall back to lowWater
	// after having reached burstConns, or after refusals; the heap it
	// grew is then given back to the system.
	burstConns = 64
	lowWater   = 8
)

func (l Limits) withDefaults() Limits {
	if l.MaxConns <= 0 {
		l.MaxConns = defaultMaxConns
	}
	if l.PrivilegedReserve <= 0 {
		l.PrivilegedReserve = min(defaultPrivilegedReserve, l.MaxConns/2)
	}
	if l.MaxConnsPerUID <= 0 {
		l.MaxConnsPerUID = defaultMaxConnsPerUID
	}
	return l
}

// limiter admits connections within Limits.
type limiter struct {
	lim   Limits
	owner uint32
	log   *slog.Logger
	// fds returns the number of open descriptors and the limit; a test
	// may replace it.
	fds func() (open, limit int, err error)
	// freeMemory returns the heap to the system after a burst.
	freeMemory func()

	mu     sync.Mutex // guards total, perUID, burst, refused
	total  int
	perUID map[uint32]int
	// burst is set while connections are many or refused, and cleared
	// (with the heap returned) when they are few again.
	burst   bool
	refused int
}

func newLimiter(lim Limits, owner uint32, log *slog.Logger) *limiter {
	return &limiter{lim: lim.withDefaults(), owner: owner, log: log, fds: openFDs,
		freeMemory: debug.FreeOSMemory, perUID: map[uint32]int{}}
}

// admit decides on one accepted connection, from its credentials alone:
// nothing is read from it. ok false means close it at once.
func (l *limiter) admit(p Peer, known bool) (release func(), ok bool) {
	privileged := known && (p.UID == 0 || p.UID == l.owner)
	uid := p.UID
	if !known {
		uid = ^uint32(0) // one bucket for all callers without credentials
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	reason := l.refuseLocked(uid, privileged)
	if reason != "" {
		if l.refused == 0 {
			l.log.Warn("refusing control connections", "uid", uid, "reason", reason)
		}
		l.refused++
		l.burst = true
		return nil, false
	}
	l.total++
	l.perUID[uid]++
	if l.total >= burstConns {
		l.burst = true
	}
	var once sync.Once
	return func() { once.Do(func() { l.release(uid) }) }, true
}

// refuseLocked says why a connection of uid cannot be taken, or "".
func (l *limiter) refuseLocked(uid uint32, privileged bool) string {
	switch {
	case l.total >= l.lim.MaxConns:
		return "too many connections"
	case !privileged && l.total >= l.lim.MaxConns-l.lim.PrivilegedReserve:
		return "too many connections; the rest are kept for root"
	case !privileged && l.perUID[uid] >= l.lim.MaxConnsPerUID:
		return "too many connections of this uid"
	}
	open, limit, err := l.fds()
	if err != nil {
		return ""
	}
	reserve := l.lim.FDReserve
	if reserve <= 0 {
		reserve = max(minFDReserve, limit/10)
	}
	if privileged {
		reserve /= 2
	}
	if open >= limit-reserve {
		return "too few file descriptors left for the manager"
	}
	return ""
}

func (l *limiter) release(uid uint32) {
	l.mu.Lock()
	l.total--
	if l.perUID[uid]--; l.perUID[uid] <= 0 {
		delete(l.perUID, uid)
	}
	over := l.burst && l.total <= lowWater
	refused := l.refused
	if over {
		l.burst, l.refused = false, 0
	}
	l.mu.Unlock()
	if !over {
		return
	}
	if refused > 0 {
		l.log.Warn("refused control connections", "count", refused)
	}
	// Thousands of connections leave a heap sized for them; without this
	// the daemon keeps it until the runtime's scavenger gets round to it.
	l.freeMemory()
}

// openFDs counts the process's open descriptors and reads its limit.
// Since Linux 6.2 the size of /proc/self/fd is the count (one stat);
// older kernels need the directory read.
func openFDs() (open, limit int, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	limit = int(min(rl.Cur, 1<<31))
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/fd", &st); err != nil {
		return 0, 0, err
	}
	if st.Size > 0 {
		return int(st.Size), limit, nil
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names), limit, err
}

// limitListener admits connections through a limiter and closes the
// others as soon as they are accepted, before anything is read from them.
// Not accepting at all would leave the refused connections queued in the
// kernel's backlog, and root's connection behind them. A refusal costs
// three system calls (accept4, SO_PEERCRED, close): while a flood fills the
// backlog, a new connection waits for everything queued before it.
type limitListener struct {
	net.Listener
	// dup is the listening socket duplicated as a pollable file, whose
	// RawConn can wait for a connection and accept it as a bare
	// descriptor (a net.Listener's RawConn cannot); nil for listeners
	// that are not unix sockets.
	dup *os.File
	raw syscall.RawConn
	lim *limiter
	// closed, if set, runs once the listener is closed (Options.OnListenerClosed).
	closed func()
}

func newLimitListener(l net.Listener, lim *limiter) *limitListener {
	ll := &limitListener{Listener: l, lim: lim}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		return ll
	}
	rc, err := ul.SyscallConn()
	if err != nil {
		return ll
	}
	dupfd := -1
	_ = rc.Control(func(fd uintptr) { dupfd, _ = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	if dupfd < 0 {
		return ll
	}
	// Non-blocking, so that os.NewFile puts it in Go's poller.
	if err := unix.SetNonblock(dupfd, true); err != nil {
		unix.Close(dupfd)
		return ll
	}
	f := os.NewFile(uintptr(dupfd), "control socket")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return ll
	}
	ll.dup, ll.raw = f, raw
	return ll
}

// Close closes the listener and its duplicate, which ends a pending
// Accept.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	if l.dup != nil {
		l.dup.Close()
	}
	if l.closed != nil {
		l.closed()
	}
	return err
}

func (l *limitListener) Accept() (net.Conn, error) {
	if l.raw == nil {
		return l.Listener.Accept()
	}
	for {
		fd, err := l.accept()
		if err != nil {
			return nil, err
		}
		p, perr := peerCred(fd)
		release, ok := l.lim.admit(p, perr == nil)
		if !ok {
			unix.Close(fd)
			continue
		}
		if perr == nil {
			p.Groups, p.GroupsKnown = peerGroups(fd)
		}
		f := os.NewFile(uintptr(fd), "api connection")
		c, err := net.FileConn(f) // a duplicate, in Go's poller
		f.Close()
		if err != nil {
			release()
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			release()
			c.Close()
			return nil, fmt.Errorf("accepted a %T", c)
		}
		return &admittedConn{UnixConn: uc, peer: p, peerKnown: perr == nil, release: release}, nil
	}
}

// accept takes the next connection off the backlog as a bare descriptor,
// waiting in Go's poller while there is none.
func (l *limitListener) accept() (int, error) {
	for {
		nfd := -1
		var aerr error
		err := l.raw.Read(func(fd uintptr) bool {
			// No address: a client's socket is usually unbound, and
			// x/sys's Accept4 refuses its empty address (EINVAL).
			r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, fd, 0, 0, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0)
			nfd, aerr = int(r), nil
			if errno != 0 {
				aerr = errno
			}
			return aerr != unix.EAGAIN
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				err = net.ErrClosed
			}
			return -1, &net.OpError{Op: "accept", Net: "unix", Addr: l.Addr(), Err: err}
		}
		switch aerr {
		case nil:
			return nfd, nil
		case unix.ECONNABORTED, unix.EINTR:
			continue
		}
		// EMFILE and the like: net/http backs off on temporary errors.
		return -1, &net.OpError{Op: "accept", Net: "unix", Addr: l.Addr(), Err: os.NewSyscallError("accept4", aerr)}
	}
}

// admittedConn is a connection the limiter counts until it is closed; it
// carries the credentials read when it was admitted.
type admittedConn struct {
	*net.UnixConn
	peer      Peer
	peerKnown bool
	release   func()
}

func (c *admittedConn) Close() error {
	err := c.UnixConn.Close()
	c.release()
	return err
}
