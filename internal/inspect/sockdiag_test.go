package inspect

import (
	"encoding/binary"
	"testing"
)

// unixMsg builds a unix_diag_msg with a name and a peer attribute.
func unixMsg(ino, peer uint32, name string) []byte {
	b := make([]byte, 16)
	b[0], b[1], b[2] = 1, 1, 1 // AF_UNIX, SOCK_STREAM, connected
	binary.NativeEndian.PutUint32(b[4:], ino)
	attr := func(typ uint16, v []byte) {
		a := make([]byte, 4, 4+len(v)+3)
		binary.NativeEndian.PutUint16(a, uint16(4+len(v)))
		binary.NativeEndian.PutUint16(a[2:], typ)
		a = append(a, v...)
		for len(a)%4 != 0 {
			a = append(a, 0)
		}
		b = append(b, a...)
	}
	attr(unixDiagName, []byte(name))
	p := make([]byte, 4)
	binary.NativeEndian.PutUint32(p, peer)
	attr(unixDiagPeer, p)
	return b
}

func TestParseUnixDiag(t *testing.T) {
	s := &Sockets{Unix: map[uint64]UnixSocket{}}
	s.addUnix(unixMsg(10, 11, "/run/x.sock"))
	s.addUnix(unixMsg(12, 0, "\x00abstract"))
	if got := s.Unix[10]; got != (UnixSocket{Type: "stream", State: "connected", Path: "/run/x.sock", Peer: 11}) {
		t.Errorf("socket 10 = %+v", got)
	}
	if got := s.Unix[12]; got.Path != "@abstract" || got.Peer != 0 {
		t.Errorf("socket 12 = %+v; want @abstract without a peer", got)
	}
}

func FuzzSockDiag(f *testing.F) {
	f.Add(unixMsg(1, 2, "/a"))
	f.Add(make([]byte, 72))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &Sockets{Unix: map[uint64]UnixSocket{}, Inet: map[uint64]InetSocket{}}
		s.addUnix(b)
		s.addInet(6, b)
		s.addInet(17, b)
	})
}
