package syslog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestListenUnixgram(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")

	conn, err := ListenUnixgram(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, %v; want 0666", fi.Mode(), err)
	}
	if _, err := ListenUnixgram(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listener on a live socket: %v; want an in-use error", err)
	}
	conn.Close() // leaves the socket file behind, as a crash would

	conn, err = ListenUnixgram(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	conn.Close()

	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnixgram(file); err == nil {
		t.Errorf("ListenUnixgram over a regular file succeeded")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("regular file was touched: %q", b)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnixgram(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("ListenUnixgram over a symlink: %v; want a symlink error", err)
	}
}

// TestPassedFDsAreClosed sends a datagram with a file descriptor attached
// and checks that the receiver does not keep the copy it got.
func TestPassedFDsAreClosed(t *testing.T) {
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	path := unixgramReceiver(t, r)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	before := countFDs(t)
	err = unix.Sendmsg(fd, []byte("<13>t: with fd"), unix.UnixRights(int(f.Fd())), &unix.SockaddrUnix{Name: path}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.next(t); string(g.m.Msg) != "with fd" {
		t.Fatalf("got %q", g.m.Msg)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d open fds after receiving, %d before", after, before)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
