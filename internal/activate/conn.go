package activate

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

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

// Describe reads the addresses (or, for AF_UNIX, the peer credentials)
// of connected socket fd.
func Describe(fd int) Conn {
	c := Conn{PID: -1, UID: -1}
	rsa, err1 := unix.Getpeername(fd)
	lsa, err2 := unix.Getsockname(fd)
	if err1 == nil && err2 == nil {
		if r, ok := addrPort(rsa); ok {
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

func addrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
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
