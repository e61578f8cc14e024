// Package notify receives sd_notify(3) messages on a NOTIFY_SOCKET: the
// datagrams services send to say READY=1, STATUS=…, MAINPID=… and so on.
// The sender's pid comes from the kernel (SCM_CREDENTIALS), never from the
// message, so a service cannot speak for another.
package notify

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdrole"
)

// Message is one parsed notification datagram.
type Message struct {
	PID int // sender, from its credentials
	UID int
	// PIDFD is a pidfd of the sender (SCM_PIDFD, Linux 6.5), which names
	// its cgroup even after it exited; 0 when the kernel sent none (tend's
	// fd 0 is always taken). The handler owns it and must close it.
	PIDFD int
	Ready bool // READY=1
	// Reloading and Stopping report RELOADING=1 / STOPPING=1.
	Reloading    bool
	Stopping     bool
	Watchdog     bool   // WATCHDOG=1 keep-alive
	Trigger      bool   // WATCHDOG=trigger
	Status       string // STATUS=…; HasStatus tells an empty status from none
	HasStatus    bool
	MainPID      int           // MAINPID=, 0 if absent
	Errno        int           // ERRNO=, 0 if absent
	Extend       time.Duration // EXTEND_TIMEOUT_USEC=, 0 if absent
	WatchdogUSec time.Duration // WATCHDOG_USEC=
	FDs          []*os.File    // FDSTORE=1 passes descriptors; tend closes them for now
	Raw          map[string]string
}

// Parse decodes the newline-separated KEY=VALUE assignments of a datagram.
// Unknown keys are kept in Raw; malformed lines are skipped, as systemd does.
func Parse(b []byte) (Message, error) {
	var m Message
	m.Raw = map[string]string{}
	if len(b) == 0 {
		return m, errors.New("empty notification")
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{'='})
		if !ok || len(k) == 0 {
			continue
		}
		key, val := string(k), string(v)
		m.Raw[key] = val
		m.apply(key, val)
	}
	return m, nil
}

func (m *Message) apply(key, val string) {
	switch key {
	case "READY":
		m.Ready = val == "1"
	case "RELOADING":
		m.Reloading = val == "1"
	case "STOPPING":
		m.Stopping = val == "1"
	case "WATCHDOG":
		m.Watchdog = val == "1"
		m.Trigger = val == "trigger"
	case "STATUS":
		m.Status, m.HasStatus = val, true
	case "MAINPID":
		if n, err := strconv.Atoi(val); err == nil && n > 0 {
			m.MainPID = n
		}
	case "ERRNO":
		if n, err := strconv.Atoi(val); err == nil && n >= 0 {
			m.Errno = n
		}
	case "EXTEND_TIMEOUT_USEC":
		if n, err := strconv.ParseUint(val, 10, 63); err == nil {
			m.Extend = time.Duration(n) * time.Microsecond
		}
	case "WATCHDOG_USEC":
		if n, err := strconv.ParseUint(val, 10, 63); err == nil {
			m.WatchdogUSec = time.Duration(n) * time.Microsecond
		}
	}
}

// Socket is the bound notification socket.
type Socket struct {
	Path string
	conn *net.UnixConn

	mu sync.Mutex
	// guards reading the socket and the buffers below
	buf, oob []byte
}

// Listen binds a datagram socket at path (removing a stale one) with
// SO_PASSCRED so every message carries its sender's pid.
func Listen(path string) (*Socket, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		// A message from a helper that exits at once (systemd-notify,
		// a shell's child) is still attributed through its pidfd; older
		// kernels refuse the option and attribution uses /proc only.
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1)
	}); err != nil || serr != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: SO_PASSCRED: %w", errors.Join(err, serr))
	}
	// Services may run as any user, so everyone may send (connecting to a
	// unix socket needs write permission, nothing else): the kernel's
	// credentials on each datagram, not the file mode, decide what a
	// message may do. Execute bits mean nothing on a socket.
	if err := os.Chmod(path, 0o666); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &Socket{Path: path, conn: conn, buf: make([]byte, 4096),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4)+unix.CmsgSpace(4*16))}, nil
}

// FromFile makes a Socket of a bound socket a previous manager handed
// over across a re-exec (File), at path. f is consumed.
func FromFile(path string, f *os.File) (*Socket, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("notify socket: inherited descriptor is not a unix socket")
	}
	return &Socket{Path: path, conn: uc, buf: make([]byte, 4096),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4)+unix.CmsgSpace(4*16))}, nil
}

// SyscallConn gives the socket's descriptor, which a re-exec duplicates
// to keep the socket (and the datagrams queued in it) alive after Serve
// closed its own, for the next process.
func (s *Socket) SyscallConn() (syscall.RawConn, error) { return s.conn.SyscallConn() }

// Serve reads datagrams until ctx ends, calling h for each well-formed
// message. h runs on Serve's goroutine and must not block for long.
// Reading a datagram and calling h for it happen under one lock, which
// Sync takes too: see there.
func (s *Socket) Serve(ctx context.Context, h func(Message)) error {
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return err
	}
	for {
		// Drain what waits, then let the poller wait for more: it is
		// edge-triggered, so returning after one datagram could sleep
		// on others already queued. Never true: only closing ends it.
		err := raw.Read(func(fd uintptr) bool {
			for {
				s.mu.Lock()
				more := s.readOneLocked(int(fd), h)
				s.mu.Unlock()
				if !more {
					return false
				}
			}
		})
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// Sync lets the manager see, before it acts on a process's exit, every
// message the process sent before it exited, as systemd gives its notify
// socket priority over SIGCHLD. With Serve held off, before handles the
// messages Serve already passed on (queued in the manager), then every
// datagram still waiting in the socket goes to h.
func (s *Socket) Sync(before func(), h func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before()
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		for s.readOneLocked(int(fd), h) {
		}
	})
}

// readOneLocked reads one waiting datagram without blocking and hands a
// well-formed one to h; false when none was waiting (or the socket
// failed), so that Serve waits for the next.
func (s *Socket) readOneLocked(fd int, h func(Message)) bool {
	n, oobn, _, _, err := unix.Recvmsg(fd, s.buf, s.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return errors.Is(err, unix.EINTR)
	}
	m, perr := Parse(s.buf[:n])
	cred, pidfd, fds := parseOOB(s.oob[:oobn])
	for _, f := range fds {
		f.Close()
	}
	if perr != nil || cred == nil { // no credentials: the sender cannot be attributed
		if pidfd > 0 {
			unix.Close(pidfd)
		}
		return true
	}
	m.PID, m.UID, m.PIDFD = int(cred.Pid), int(cred.Uid), pidfd
	h(m)
	return true
}

// Close closes the socket and removes its file.
func (s *Socket) Close() error {
	err := s.conn.Close()
	_ = os.Remove(s.Path)
	return err
}

func parseOOB(oob []byte) (cred *unix.Ucred, pidfd int, fds []*os.File) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, pidfd, nil
	}
	for _, m := range msgs {
		if c, err := unix.ParseUnixCredentials(&m); err == nil {
			cred = c
			continue
		}
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_PIDFD && len(m.Data) >= 4 {
			pidfd = int(int32(binary.NativeEndian.Uint32(m.Data)))
			continue
		}
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			for _, fd := range rights {
				fds = append(fds, os.NewFile(uintptr(fd), "fdstore"))
			}
		}
	}
	return cred, pidfd, fds
}

// FDs names the socket's descriptor, for `tend fds`.
func (s *Socket) FDs() map[int]string {
	r := fdrole.Roles{}
	r.Add(s.conn, "notify socket "+s.Path)
	return r
}

// Env returns the NOTIFY_SOCKET assignment for a child.
func (s *Socket) Env() string { return "NOTIFY_SOCKET=" + s.Path }

// String describes the socket for logs.
func (s *Socket) String() string { return strings.TrimSpace(s.Path) }
