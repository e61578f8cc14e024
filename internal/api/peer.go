package api

import (
	"context"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Peer is the process at the other end of a control connection, as the
// kernel reports it (SO_PEERCRED, SO_PEERGROUPS): it cannot be forged by
// the client.
type Peer struct {
	PID int32
	UID uint32
	GID uint32
	// Groups are the peer's supplementary groups when it connected;
	// GroupsKnown is false on kernels without SO_PEERGROUPS (before 4.13),
	// where the group database is asked instead.
	Groups      []uint32
	GroupsKnown bool
}

type peerKey struct{}

// PeerFromContext returns the peer credentials of the connection a request
// came on; ok is false when they are unknown (not a unix socket).
func PeerFromContext(ctx context.Context) (p Peer, ok bool) {
	p, ok = ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// WithPeer returns ctx carrying p; the server does this for every
// connection, tests may do it for handlers they call directly.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// withPeerFromConn is the http.Server ConnContext hook: it hands on the
// credentials the listener read when it admitted the connection, or reads
// them now for a connection that did not come through it.
func withPeerFromConn(ctx context.Context, c net.Conn) context.Context {
	if ac, ok := c.(*admittedConn); ok {
		if ac.peerKnown {
			return WithPeer(ctx, ac.peer)
		}
		return ctx
	}
	p, err := peerOf(c)
	if err != nil {
		return ctx
	}
	return WithPeer(ctx, p)
}

func peerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, net.UnknownNetworkError(c.LocalAddr().Network())
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	var cerr error
	err = raw.Control(func(fd uintptr) {
		if p, cerr = peerCred(int(fd)); cerr == nil {
			p.Groups, p.GroupsKnown = peerGroups(int(fd))
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return Peer{}, err
	}
	return p, nil
}

// peerCred reads SO_PEERCRED: the peer's pid, uid and gid when it
// connected.
func peerCred(fd int) (Peer, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Peer{}, err
	}
	return Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}

// peerGroups reads SO_PEERGROUPS: the supplementary groups the kernel
// recorded when the peer connected. ok is false where the kernel does not
// know the option.
func peerGroups(fd int) (groups []uint32, ok bool) {
	buf := make([]uint32, 32)
	for {
		n := uint32(len(buf) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch errno {
		case 0:
			return buf[:n/4], true
		case unix.ERANGE:
			// n is the size needed; NGROUPS_MAX bounds it.
			if n <= uint32(len(buf)*4) || n > 65536*4 {
				return nil, false
			}
			buf = make([]uint32, n/4)
		default:
			return nil, false
		}
	}
}
