// Package notify receives sd_notify(3) messages on a NOTIFY_SOCKET: the
// datagrams services send to say READY=1, STATUS=…, MAINPID=… and so on.
// The sender's pid comes from the kernel (SCM_CREDENTIALS), never from the
// message, so a service cannot speak for another.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdrole"
)

// Message is one parsed notification datagram.
type Message struct {
	PID   int // sender, from its credentials
	UID   int
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
	return &Socket{Path: path, conn: conn}, nil
}

// Serve reads datagrams until ctx ends, calling h for each well-formed
// message. h runs on Serve's goroutine and must not block for long.
func (s *Socket) Serve(ctx context.Context, h func(Message)) error {
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*16))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		m, perr := Parse(buf[:n])
		cred, fds := parseOOB(oob[:oobn])
		for _, f := range fds {
			f.Close()
		}
		if perr != nil || cred == nil {
			continue // no credentials: the sender cannot be attributed
		}
		m.PID, m.UID = int(cred.Pid), int(cred.Uid)
		h(m)
	}
}

// Close closes the socket and removes its file.
func (s *Socket) Close() error {
	err := s.conn.Close()
	_ = os.Remove(s.Path)
	return err
}

func parseOOB(oob []byte) (*unix.Ucred, []*os.File) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, nil
	}
	var cred *unix.Ucred
	var fds []*os.File
	for _, m := range msgs {
		if c, err := unix.ParseUnixCredentials(&m); err == nil {
			cred = c
			continue
		}
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			for _, fd := range rights {
				fds = append(fds, os.NewFile(uintptr(fd), "fdstore"))
			}
		}
	}
	return cred, fds
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
