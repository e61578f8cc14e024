package syslog

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// rcvBuf is the receive buffer asked for on /dev/log, as journald does, so
// that bursts queue in the kernel instead of blocking senders.
const rcvBuf = 8 << 20

// ListenUnixgram binds a datagram socket at path for syslog(3) clients:
// mode 0666 so that every user can log, SO_PASSCRED so that each datagram
// carries the sender's pid, uid and gid. A stale socket left at path by a
// previous run is replaced; a live one (something answers) or a file that
// is not a socket is an error.
func ListenUnixgram(path string) (*net.UnixConn, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	if err := setupUnixgram(conn, path); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func setupUnixgram(conn *net.UnixConn, path string) error {
	if err := os.Chmod(path, 0o666); err != nil {
		return fmt.Errorf("syslog socket: %w", err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("syslog socket %s: %w", path, err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		// A pidfd of each sender (Linux 6.5) still names its cgroup
		// after it exited; older kernels refuse the option.
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1)
		raiseRcvBuf(fd)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("syslog socket %s: set SO_PASSCRED: %w", path, err)
	}
	return nil
}

// removeStale removes a socket at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("syslog socket: %w", err)
	}
	if fi.Mode().Type() == fs.ModeSymlink {
		// Often a link to another syslog daemon's socket: not ours to remove.
		target, _ := os.Readlink(path)
		return fmt.Errorf("syslog socket %s: is a symlink to %s; remove it to let tend listen there", path, target)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("syslog socket %s: exists and is not a socket", path)
	}
	c, err := net.Dial("unixgram", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("syslog socket %s: in use by another process", path)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		return fmt.Errorf("syslog socket %s: probe: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("syslog socket: remove stale: %w", err)
	}
	return nil
}

// raiseRcvBuf asks for rcvBuf bytes of receive buffer. Best effort: FORCE
// ignores rmem_max but needs CAP_NET_ADMIN.
func raiseRcvBuf(fd uintptr) {
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
}

// ListenUDP binds a syslog UDP listener with the same large receive
// buffer as /dev/log, so that a burst from a remote host queues in the
// kernel instead of being dropped.
func ListenUDP(addr string) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return nil, err
	}
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(raiseRcvBuf)
	}
	return c, nil
}
