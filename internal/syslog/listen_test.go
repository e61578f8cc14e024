package syslog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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
// and checks that the receiver keeps neither the copy it got nor more
// than one pidfd of the sender once the messages were handled (the
// receiver's Flush, which comes after a batch is done).
func TestPassedFDsAreClosed(t *testing.T) {
	var handled atomic.Int32
	counts := make(chan int, 1)
	handle := func(m Message, cred Cred) { handled.Add(1) }
	flush := func() {
		if handled.Load() == 2 {
			select {
			case counts <- countFDs(t):
			default:
			}
		}
	}
	r := NewReceiver(handle, ReceiverOptions{Flush: flush})
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
	to := &unix.SockaddrUnix{Name: path}
	if err := unix.Sendmsg(fd, []byte("<13>t: with fd"), unix.UnixRights(int(f.Fd())), to, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendmsg(fd, []byte("<13>t: plain"), nil, to, 0); err != nil {
		t.Fatal(err)
	}
	if after := <-counts; after != before && after != before+1 {
		t.Errorf("%d open fds after receiving, %d before (one kept pidfd of the sender allowed)", after, before)
	}
}

// TestSenderPIDFDs checks that each datagram's pidfd is its own sender's,
// whether the receiver keeps one from an earlier datagram of that process
// or takes a new one from the kernel: for a live sender, for one that
// exited right after sending (logger), and for the live one again after it.
func TestSenderPIDFDs(t *testing.T) {
	needCommand(t, "logger")
	type seen struct {
		pid int
		ino uint64
	}
	ch := make(chan seen, 16)
	r := NewReceiver(func(m Message, cred Cred) {
		s := seen{pid: cred.PID}
		var st unix.Stat_t
		if cred.PIDFD > 0 && unix.Fstat(cred.PIDFD, &st) == nil {
			s.ino = st.Ino
		}
		ch <- s
	}, ReceiverOptions{})
	defer r.Close()
	path := unixgramReceiver(t, r)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	send := func() seen {
		t.Helper()
		if err := unix.Sendto(fd, []byte("<13>t: from the test"), 0, &unix.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		return <-ch
	}
	first := send()
	if first.ino == 0 {
		t.Skip("no pidfd passed")
	}
	for range 3 {
		if s := send(); s != first {
			t.Errorf("same sender, pidfd inode %d; first %d", s.ino, first.ino)
		}
	}
	for range 2 {
		pid := run(t, "logger", "-u", path, "short-lived")
		s := <-ch
		if s.pid != pid || s.ino == 0 || s.ino == first.ino {
			t.Errorf("logger %d: got pid %d, pidfd inode %d (the test's is %d)", pid, s.pid, s.ino, first.ino)
		}
	}
	if s := send(); s != first {
		t.Errorf("test process again: pid %d inode %d; want %+v", s.pid, s.ino, first)
	}
}

// TestSenderPIDFD checks that a datagram comes with a pidfd of its sender
// where the kernel passes one (SO_PASSPIDFD, Linux 6.5).
func TestSenderPIDFD(t *testing.T) {
	type seen struct {
		pid  int
		info string
	}
	ch := make(chan seen, 1)
	r := NewReceiver(func(m Message, cred Cred) {
		s := seen{pid: cred.PID}
		if cred.PIDFD > 0 {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", cred.PIDFD))
			s.info = string(b)
		}
		ch <- s
	}, ReceiverOptions{})
	defer r.Close()
	path := unixgramReceiver(t, r)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte("<13>t: hello"), 0, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	s := <-ch
	if s.info == "" {
		var u unix.Utsname
		unix.Uname(&u)
		t.Skipf("no pidfd passed (kernel %s)", unix.ByteSliceToString(u.Release[:]))
	}
	if !strings.Contains(s.info, fmt.Sprintf("Pid:\t%d\n", os.Getpid())) {
		t.Errorf("pidfd does not refer to the sender %d:\n%s", os.Getpid(), s.info)
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

// TestCloseAllClosesOnlyItsRuns closes a set of descriptors with holes
// (descriptors that stay open between them): those and no others close.
func TestCloseAllClosesOnlyItsRuns(t *testing.T) {
	var fds []int
	for range 12 {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	// Keep every fourth open: the others form runs broken by them.
	var mine, keep []int
	for i, fd := range fds {
		if i%4 == 3 {
			keep = append(keep, fd)
		} else {
			mine = append(mine, fd)
		}
	}
	defer func() {
		for _, fd := range keep {
			unix.Close(fd)
		}
	}()
	slices.Reverse(mine)
	closeAll(mine)
	isOpen := func(fd int) bool { _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); return err == nil }
	for _, fd := range keep {
		if !isOpen(fd) {
			t.Errorf("fd %d closed; it was not in the set", fd)
		}
	}
	for _, fd := range mine {
		if isOpen(fd) {
			t.Errorf("fd %d still open", fd)
		}
	}
}
