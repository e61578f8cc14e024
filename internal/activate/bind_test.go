package activate

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseNetlink(t *testing.T) {
	tests := []struct {
		in     string
		family int
		group  uint32
		ok     bool
	}{
		{"route", unix.NETLINK_ROUTE, 0, true},
		{"kobject-uevent 1", unix.NETLINK_KOBJECT_UEVENT, 1, true},
		{"audit 4294967295", unix.NETLINK_AUDIT, 1<<32 - 1, true},
		{"", 0, 0, false},
		{"nosuch", 0, 0, false},
		{"route x", 0, 0, false},
		{"route 1 2", 0, 0, false},
	}
	for _, tt := range tests {
		f, g, err := ParseNetlink(tt.in)
		if (err == nil) != tt.ok || f != tt.family || g != tt.group {
			t.Errorf("ParseNetlink(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, f, g, err, tt.family, tt.group, tt.ok)
		}
	}
}

func FuzzParseNetlink(f *testing.F) {
	for _, s := range []string{"route", "kobject-uevent 1", "audit 99999999999", " generic  3 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fam, _, err := ParseNetlink(s); err == nil && fam < 0 {
			t.Fatalf("negative family for %q", s)
		}
	})
}

// TestOpenApplies binds a unit's listeners and reads the options back
// from the kernel.
func TestOpenApplies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "s.sock")
	fifo := filepath.Join(dir, "f")
	u := loadUnit(t, "x.socket", "[Socket]\nListenStream=127.0.0.1:0\n")
	s, _, _ := ParseSpec(u, nil)
	tcp, _ := ParseAddress(Stream, "127.0.0.1:1")
	uds, _ := ParseAddress(Stream, path)
	s.Listen = []Listener{{Directive: "ListenStream", Address: tcp}, {Directive: "ListenStream", Address: uds}, {Directive: "ListenFIFO", Path: fifo}}
	l, err := net.Listen("tcp", "127.0.0.1:0") // find a free port
	if err != nil {
		t.Fatal(err)
	}
	s.Listen[0].Address.Port = uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s.KeepAlive, s.NoDelay, s.ReusePort, s.Backlog = true, true, true, 7
	s.SocketMode, s.DirectoryMode, s.RemoveOnStop = 0o640, 0o710, true
	s.Symlinks = []string{filepath.Join(dir, "link")}
	bound, err := s.Open(NoOwner, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, b := range bound {
			b.File.Close()
		}
	}()
	fd := int(bound[0].File.Fd())
	for name, opt := range map[string][2]int{"SO_KEEPALIVE": {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		"TCP_NODELAY": {unix.IPPROTO_TCP, unix.TCP_NODELAY}, "SO_REUSEPORT": {unix.SOL_SOCKET, unix.SO_REUSEPORT},
		"SO_ACCEPTCONN": {unix.SOL_SOCKET, unix.SO_ACCEPTCONN}} {
		if v, err := unix.GetsockoptInt(fd, opt[0], opt[1]); err != nil || v == 0 {
			t.Errorf("%s = %d, %v; want set", name, v, err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket file: %v %v; want a socket with mode 0640", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o710 {
		t.Errorf("directory: %v %v; want mode 0710", fi, err)
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("FIFO: %v %v", fi, err)
	}
	if err := s.LinkSymlinks(); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(s.Symlinks[0]); err != nil || target != path {
		t.Errorf("symlink: %q %v; want %s", target, err, path)
	}
	// A second Open keeps what a reload offers, by key.
	keep := map[string]*Bound{}
	for _, b := range bound {
		keep[b.Key] = b
	}
	again, err := s.Open(NoOwner, keep)
	if err != nil || len(keep) != 0 || again[0] != bound[0] {
		t.Errorf("reopen with everything kept: %v, %d left over", err, len(keep))
	}
	// The address is taken now (without ReusePort=): a fresh Open fails.
	tcpOnly := *s
	tcpOnly.ReusePort, tcpOnly.Listen = false, s.Listen[:1]
	if _, err := tcpOnly.Open(NoOwner, nil); err == nil {
		t.Errorf("second bind of the same address succeeded")
	}
	s.Cleanup()
	for _, p := range []string{path, fifo, s.Symlinks[0]} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("RemoveOnStop left %s", p)
		}
	}
}

// TestOpenSpecial: ListenSpecial= takes a regular file or a character
// device, in blocking mode; a FIFO (whose open would wait for a writer,
// on the manager's loop) and a directory are refused at once.
func TestOpenSpecial(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, "/dev/null"} {
		f, err := openSpecial(path)
		if err != nil {
			t.Errorf("openSpecial(%s): %v", path, err)
			continue
		}
		if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
			t.Errorf("openSpecial(%s): flags %#x, %v; want blocking", path, fl, err)
		}
		f.Close()
	}
	for _, path := range []string{fifo, dir} {
		if f, err := openSpecial(path); err == nil {
			f.Close()
			t.Errorf("openSpecial(%s) succeeded; want it refused", path)
		}
	}
}
