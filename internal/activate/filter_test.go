package activate

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAccessFilter binds Accept=no listeners with IPAddressAllow= and
// IPAddressDeny= and sends them a probe from a given loopback address:
// the kernel must deliver exactly what Allowed lets in. Each probe is
// followed, once the filter is detached, by a marker from the same
// address; whichever the listener gets first tells whether the probe
// got through (loopback delivers during the sending call).
func TestAccessFilter(t *testing.T) {
	tests := []struct {
		listen, allow, deny, from string
		want                      bool
	}{
		{"127.0.0.1:1", "127.0.0.2", "any", "127.0.0.2", true},
		{"127.0.0.1:1", "127.0.0.2", "any", "127.0.0.1", false},
		{"127.0.0.1:1", "", "127.0.0.0/8", "127.0.0.1", false},
		{"127.0.0.1:1", "", "0.0.0.0/0", "127.0.0.3", false},
		{"127.0.0.1:1", "127.0.0.0/30", "any", "127.0.0.3", true},
		{"127.0.0.1:1", "127.0.0.0/30", "any", "127.0.0.4", false},
		{"127.0.0.1:1", "127.0.0.9", "", "127.0.0.4", true},       // allow alone refuses nobody
		{"127.0.0.1:1", "", "::/0 10.0.0.0/8", "127.0.0.1", true}, // other family, other net
		{"[::1]:1", "", "::1", "::1", false},
		{"[::1]:1", "::1", "any", "::1", true},
		{"[::1]:1", "", "2001:db8::/32 ::/65", "::1", false},
		{"[::1]:1", "", "::1/127", "::1", false},
		{"[::1]:1", "", "::2/127", "::1", true},
		{"[::1]:1", "", "::/96 127.0.0.1", "::1", false},
		{"[::1]:1", "localhost", "any", "::1", true},
		{"[::]:1", "127.0.0.2", "any", "127.0.0.2", true}, // dual-stack: IPv4 peers match IPv4 prefixes
		{"[::]:1", "127.0.0.2", "any", "127.0.0.1", false},
		{"[::]:1", "127.0.0.2", "any", "::1", false},
	}
	for _, tt := range tests {
		for _, typ := range []SocketType{Datagram, Stream} {
			name := string(typ) + " " + tt.listen + " allow=" + tt.allow + " deny=" + tt.deny + " from " + tt.from
			t.Run(name, func(t *testing.T) {
				got, err := probe(t, typ, tt.listen, tt.allow, tt.deny, tt.from)
				if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT) {
					t.Skipf("no such loopback address here: %v", err)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("delivered %v; want %v", got, tt.want)
				}
			})
		}
	}
}

// probe binds one listener of type typ on listen with the access lists
// and reports whether a probe from from reached it.
func probe(t *testing.T, typ SocketType, listen, allow, deny, from string) (bool, error) {
	t.Helper()
	directive := map[SocketType]string{Stream: "ListenStream", Datagram: "ListenDatagram"}[typ]
	u := loadUnit(t, "p.socket", "[Socket]\n"+directive+"="+listen+"\nIPAddressAllow="+allow+"\nIPAddressDeny="+deny+"\n")
	spec, diags, ok := ParseSpec(u, nil)
	if !ok || len(diags) > 0 {
		t.Fatalf("ParseSpec: %v", diags)
	}
	spec.Listen[0].Address.Port = 0 // any free port (a unit may not say 0)
	bound, err := spec.Open(NoOwner, nil)
	if err != nil {
		return false, err
	}
	b := bound[0]
	defer b.File.Close()
	if !b.filtered {
		t.Fatal("no filter attached")
	}
	lfd := int(b.File.Fd())
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddr(from)
	var ports [2]int
	for i := range ports {
		if i == 1 {
			if err := unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
				t.Fatal(err)
			}
		}
		fd, err := sendFrom(typ, src, sockPort(sa))
		if err != nil {
			return false, err
		}
		defer unix.Close(fd)
		own, _ := unix.Getsockname(fd)
		ports[i] = sockPort(own)
	}
	switch got := receive(t, typ, lfd); got {
	case ports[0]:
		return true, nil
	case ports[1]:
		return false, nil
	default:
		t.Fatalf("received from port %d; sent from %v", got, ports)
	}
	return false, nil
}

// sendFrom sends a datagram, or starts a connection, from src to the
// loopback address of src's family at port.
func sendFrom(typ SocketType, src netip.Addr, port int) (int, error) {
	family, to := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: port, Addr: netip.IPv6Loopback().As16()})
	var from unix.Sockaddr = &unix.SockaddrInet6{Addr: src.As16()}
	if src.Is4() {
		family, to = unix.AF_INET, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		from = &unix.SockaddrInet4{Addr: src.As4()}
	}
	st := unix.SOCK_DGRAM
	if typ == Stream {
		st = unix.SOCK_STREAM | unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, st|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, from); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if typ == Stream {
		err = unix.Connect(fd, to)
		if errors.Is(err, unix.EINPROGRESS) {
			err = nil
		}
	} else {
		err = unix.Sendto(fd, []byte("probe"), 0, to)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// receive returns the source port of the first datagram or connection
// on listener fd (within 10 s; the marker always comes).
func receive(t *testing.T, typ SocketType, fd int) int {
	t.Helper()
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	var from unix.Sockaddr
	var err error
	if typ == Stream {
		var nfd int
		nfd, from, err = unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if err == nil {
			unix.Close(nfd)
		}
	} else {
		var buf [16]byte
		_, from, err = unix.Recvfrom(fd, buf[:], 0)
	}
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return sockPort(from)
}

func sockPort(sa unix.Sockaddr) int {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return -1
}

// TestNeedsFilter: the filter goes where tend does not see each peer
// itself — Accept=no listeners and every datagram listener — and only
// on Internet sockets with a list.
func TestNeedsFilter(t *testing.T) {
	tests := []struct {
		unit string
		want bool
	}{
		{"ListenStream=127.0.0.1:1\nIPAddressDeny=any", true},
		{"ListenDatagram=127.0.0.1:1\nIPAddressDeny=any", true},
		{"ListenStream=127.0.0.1:1", false},
		{"ListenStream=127.0.0.1:1\nIPAddressDeny=any\nAccept=yes", false},
		{"ListenStream=127.0.0.1:1\nIPAddressDeny=any\nX-Tend-Internal=echo", false},
		{"ListenDatagram=127.0.0.1:1\nIPAddressDeny=any\nX-Tend-Internal=echo", true},
		{"ListenStream=/run/x.sock\nIPAddressDeny=any", false},
		{"ListenFIFO=/run/x.fifo\nIPAddressDeny=any", false},
	}
	for _, tt := range tests {
		u := loadUnit(t, "n.socket", "[Socket]\n"+tt.unit+"\n")
		spec, _, _ := ParseSpec(u, nil)
		if got := spec.needsFilter(spec.Listen[0]); got != tt.want {
			t.Errorf("%q: needsFilter %v; want %v", tt.unit, got, tt.want)
		}
	}
}

// FuzzAccessProgram runs the compiled filter, in a small interpreter of
// the instructions it uses, on IPv4 and IPv6 headers and compares the
// verdict with Allowed.
func FuzzAccessProgram(f *testing.F) {
	f.Add("127.0.0.2", "any", "127.0.0.1")
	f.Add("10.0.0.0/8 ::1", "::/0", "10.9.8.7")
	f.Add("", "fe80::/10 2001:db8::/33", "2001:db8:7fff::1")
	f.Add("1.2.3.4/31", "localhost", "1.2.3.5")
	f.Fuzz(func(t *testing.T, allow, deny, peer string) {
		a, err1 := ParsePrefixes(allow)
		d, err2 := ParsePrefixes(deny)
		p, err3 := netip.ParseAddr(peer)
		if err1 != nil || err2 != nil || err3 != nil || p.Zone() != "" {
			return
		}
		prog, err := AccessProgram(a, d)
		if err != nil {
			return
		}
		p = p.Unmap()
		var hdr []byte
		if p.Is4() {
			hdr = make([]byte, 20)
			hdr[0] = 0x45
			copy(hdr[12:], p.AsSlice())
		} else {
			hdr = make([]byte, 40)
			hdr[0] = 0x60
			copy(hdr[8:], p.AsSlice())
		}
		got := runFilter(t, prog, hdr) != 0
		if want := Allowed(p, a, d); got != want {
			t.Errorf("allow=%q deny=%q peer %s: filter passes=%v; Allowed=%v", allow, deny, p, got, want)
		}
	})
}

// runFilter interprets prog over an IP header reached through
// SKF_NET_OFF, as the kernel does for a socket filter.
func runFilter(t *testing.T, prog []unix.SockFilter, hdr []byte) uint32 {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			off := int(int32(in.K) - skfNetOff)
			n := 4
			if in.Code&0x18 == unix.BPF_B {
				n = 1
			}
			if off < 0 || off+n > len(hdr) {
				return 0 // an out-of-bounds load ends the filter with 0
			}
			if n == 1 {
				a = uint32(hdr[off])
			} else {
				a = binary.BigEndian.Uint32(hdr[off:])
			}
		case unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K:
			a >>= in.K
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if a == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program runs off its end")
	return 0
}
