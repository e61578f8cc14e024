package syslog

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSenderFDsKnown checks that a kept pidfd vouches for its pid only
// while its process lives: once it exited, its pid may name another
// process, and the pidfd is dropped.
func TestSenderFDsKnown(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Skipf("pidfd_open: %v", err)
	}
	s := newSenderFDs()
	defer s.close()
	s.keep(int32(pid), pidfd)
	if !s.known([]int32{int32(pid)}) {
		t.Errorf("live sender not known")
	}
	if s.known([]int32{int32(pid), 1 << 30}) {
		t.Errorf("a batch with an unknown pid is known")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if s.known([]int32{int32(pid)}) {
		t.Errorf("exited sender still known")
	}
	if s.get(int32(pid)) != 0 {
		t.Errorf("pidfd of an exited sender kept")
	}
}

// TestSenderFDsBound checks that at most maxSenderFDs pidfds are kept and
// that replacing one closes the old.
func TestSenderFDsBound(t *testing.T) {
	s := newSenderFDs()
	defer s.close()
	before := countFDs(t)
	for pid := range int32(maxSenderFDs + 10) {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.keep(pid%(maxSenderFDs+5), fd)
	}
	if n := countFDs(t) - before; n != maxSenderFDs {
		t.Errorf("%d descriptors kept; want %d", n, maxSenderFDs)
	}
	s.close()
	if n := countFDs(t) - before; n != 0 {
		t.Errorf("%d descriptors left after close", n)
	}
}

// TestSocketLeftPassingPIDFDs checks that a receiver that stops leaves its
// socket as it was listened (it may be handed to the next tend): passing
// pidfds, not peeking at an offset.
func TestSocketLeftPassingPIDFDs(t *testing.T) {
	conn, err := ListenUnixgram(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := conn.File() // a second descriptor of the socket, outliving conn
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD); err != nil || v != 1 {
		t.Skipf("no SO_PASSPIDFD (%d, %v)", v, err)
	}
	r := NewReceiver(func(Message, Cred) {}, ReceiverOptions{})
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ServeUnixgram(ctx, conn) }()
	if err := unix.Sendto(mustSocket(t), []byte("<13>t: hi"), 0, &unix.SockaddrUnix{Name: conn.LocalAddr().String()}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD); v != 1 {
		t.Errorf("SO_PASSPIDFD %d after the receiver stopped; want 1", v)
	}
	if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF); v != -1 {
		t.Errorf("SO_PEEK_OFF %d after the receiver stopped; want -1", v)
	}
}

func mustSocket(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
