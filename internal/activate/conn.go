package activate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

func netInterfaceIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

// Conn describes an accepted connection: what systemd puts in the
// instance name of a per-connection service and in REMOTE_ADDR and
// REMOTE_PORT.
type Conn struct {
	Local, Remote netip.AddrPort // zero for AF_UNIX
	IP            bool           // an Internet connection
	PID, UID      int            // AF_UNIX peer credentials; -1 when unknown
}

// Accept takes a connection from listening socket fd (close-on-exec)
// and describes it. The peer's address comes with the accept; the
// standard library's calls are used rather than x/sys/unix's, whose
// address conversion asks each Internet socket for its protocol
// (getsockopt) to tell L2TP apart: three system calls per connection.
func Accept(fd int) (int, Conn, error) {
	nfd, rsa, err := syscall.Accept4(fd, syscall.SOCK_CLOEXEC)
	if err != nil {
		return -1, Conn{}, err
	}
	return nfd, describe(nfd, rsa), nil
}

// Describe reads the addresses (or, for AF_UNIX, the peer credentials)
// of connected socket fd.
func Describe(fd int) Conn {
	rsa, err := syscall.Getpeername(fd)
	if err != nil {
		rsa = nil
	}
	return describe(fd, rsa)
}

func describe(fd int, rsa syscall.Sockaddr) Conn {
	c := Conn{PID: -1, UID: -1}
	if r, ok := addrPort(rsa); ok {
		if lsa, err := syscall.Getsockname(fd); err == nil {
			l, _ := addrPort(lsa)
			c.Local, c.Remote, c.IP = l, r, true
			return c
		}
	}
	if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
		c.PID, c.UID = int(cred.Pid), int(cred.Uid)
	}
	return c
}

func addrPort(sa syscall.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// Instance is the instance name systemd gives the service of connection
// number n (counted from 0): "N-LOCAL:PORT-REMOTE:PORT" for IP (IPv4-
// mapped addresses written as IPv4), "N-PID-UID" for AF_UNIX, and
// "N-unknown" when the peer's credentials are not known.
func (c Conn) Instance(n uint64) string {
	switch {
	case c.IP:
		return fmt.Sprintf("%d-%s:%d-%s:%d", n, c.Local.Addr().Unmap(), c.Local.Port(), c.Remote.Addr().Unmap(), c.Remote.Port())
	case c.PID >= 0:
		return fmt.Sprintf("%d-%d-%d", n, c.PID, c.UID)
	}
	return fmt.Sprintf("%d-unknown", n)
}

// Env is REMOTE_ADDR and REMOTE_PORT of an Internet connection.
func (c Conn) Env() []string {
	if !c.IP {
		return nil
	}
	return []string{"REMOTE_ADDR=" + c.Remote.Addr().Unmap().String(), "REMOTE_PORT=" + strconv.Itoa(int(c.Remote.Port()))}
}
