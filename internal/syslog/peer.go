package syslog

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// errPeerClosed reports a stream whose server has closed or reset it.
var errPeerClosed = errors.New("server closed the connection")

// peerClosed looks, without blocking and without consuming anything,
// whether the server closed c: a FIN reads as zero bytes, a reset as an
// error. Writing into such a connection would succeed once and lose the
// data, because the kernel only learns of the reset afterwards.
func peerClosed(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var closed error
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, rerr := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case rerr == nil && n == 0:
			closed = errPeerClosed
		case rerr != nil && rerr != unix.EAGAIN && rerr != unix.EINTR:
			closed = rerr
		}
	})
	if err != nil {
		return err
	}
	return closed
}
