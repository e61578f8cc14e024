package activate

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// listenFD listens on network/address and returns a duplicate of the
// listener's descriptor (the net package's stays open with the listener).
func listenFD(t *testing.T, network, address string) (int, net.Addr) {
	t.Helper()
	l, err := net.Listen(network, address)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { l.Close() })
	f, err := l.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd()), l.Addr()
}

// Accept describes a connection as systemd names its instance: both
// addresses of an Internet connection (an IPv4 peer on a dual-stack
// listener written as IPv4), the peer's credentials on AF_UNIX.
func TestAccept(t *testing.T) {
	for _, tt := range []struct{ network, listen, dial string }{
		{"tcp4", "127.0.0.1:0", ""},
		{"tcp6", "[::1]:0", ""},
		{"tcp", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			fd, addr := listenFD(t, tt.network, tt.listen)
			target := addr.String()
			if tt.dial != "" {
				target = net.JoinHostPort(tt.dial, strconv.Itoa(int(netip.MustParseAddrPort(addr.String()).Port())))
			}
			c, err := net.Dial("tcp", target)
			if err != nil {
				t.Skip(err)
			}
			defer c.Close()
			nfd, conn, err := Accept(fd)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(nfd)
			if flags, err := unix.FcntlInt(uintptr(nfd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("accepted descriptor without close-on-exec (flags %#x, %v)", flags, err)
			}
			local := netip.MustParseAddrPort(c.RemoteAddr().String())
			remote := netip.MustParseAddrPort(c.LocalAddr().String())
			if !conn.IP || conn.Local.Addr().Unmap() != local.Addr().Unmap() || conn.Local.Port() != local.Port() ||
				conn.Remote.Addr().Unmap() != remote.Addr().Unmap() || conn.Remote.Port() != remote.Port() {
				t.Fatalf("Accept = %+v; want local %v, remote %v", conn, local, remote)
			}
			if got := Describe(nfd); got != conn {
				t.Errorf("Describe = %+v; Accept said %+v", got, conn)
			}
		})
	}
	t.Run("unix", func(t *testing.T) {
		fd, addr := listenFD(t, "unix", filepath.Join(t.TempDir(), "s"))
		c, err := net.Dial("unix", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		nfd, conn, err := Accept(fd)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(nfd)
		if conn.IP || conn.PID != os.Getpid() || conn.UID != os.Getuid() {
			t.Fatalf("Accept = %+v; want the peer credentials pid %d uid %d", conn, os.Getpid(), os.Getuid())
		}
	})
	t.Run("nothing queued", func(t *testing.T) {
		fd, _ := listenFD(t, "tcp4", "127.0.0.1:0")
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Accept(fd); err != syscall.EAGAIN {
			t.Fatalf("Accept on an empty queue: %v; want EAGAIN", err)
		}
	})
}
