package notify

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want func(Message) bool
	}{
		{"READY=1", func(m Message) bool { return m.Ready }},
		{"READY=0", func(m Message) bool { return !m.Ready }},
		{"STATUS=Serving on :80\nREADY=1", func(m Message) bool { return m.Ready && m.Status == "Serving on :80" && m.HasStatus }},
		{"STATUS=", func(m Message) bool { return m.HasStatus && m.Status == "" }},
		{"MAINPID=4242", func(m Message) bool { return m.MainPID == 4242 }},
		{"MAINPID=-3", func(m Message) bool { return m.MainPID == 0 }},
		{"RELOADING=1\nMONOTONIC_USEC=5", func(m Message) bool { return m.Reloading && m.Raw["MONOTONIC_USEC"] == "5" }},
		{"STOPPING=1", func(m Message) bool { return m.Stopping }},
		{"EXTEND_TIMEOUT_USEC=2500000", func(m Message) bool { return m.Extend == 2500*time.Millisecond }},
		{"ERRNO=2", func(m Message) bool { return m.Errno == 2 }},
		{"WATCHDOG=1", func(m Message) bool { return m.Watchdog }},
		{"WATCHDOG=trigger", func(m Message) bool { return m.Trigger && !m.Watchdog }},
		{"garbage\n=x\nREADY=1", func(m Message) bool { return m.Ready && len(m.Raw) == 1 }},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.in))
		if err != nil || !tt.want(m) {
			t.Errorf("Parse(%q) = %+v, %v", tt.in, m, err)
		}
	}
	if _, err := Parse(nil); err == nil {
		t.Error("Parse(empty): got nil error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("READY=1\nSTATUS=x\nMAINPID=12"))
	f.Add([]byte("EXTEND_TIMEOUT_USEC=99999999999999999999"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil && m.MainPID < 0 {
			t.Fatalf("negative MAINPID from %q", b)
		}
	})
}

func listen(t *testing.T) (*Socket, chan Message) {
	t.Helper()
	return listenIn(t, t.TempDir())
}

// listenIn serves a notify socket in dir until the test ends.
func listenIn(t *testing.T, dir string) (*Socket, chan Message) {
	t.Helper()
	s, err := Listen(filepath.Join(dir, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Message, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx, func(m Message) {
			if m.PIDFD > 0 {
				unix.Close(m.PIDFD)
			}
			ch <- m
		})
	}()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return s, ch
}

func TestServeCredentials(t *testing.T) {
	s, ch := listen(t)
	c, err := net.Dial("unixgram", s.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("READY=1\nSTATUS=up")); err != nil {
		t.Fatal(err)
	}
	m := <-ch
	if m.PID != os.Getpid() || !m.Ready || m.Status != "up" {
		t.Fatalf("got %+v; want pid %d ready status up", m, os.Getpid())
	}
}

// A real sd_notify client in another process: systemd-notify works without
// systemd as PID 1 when NOTIFY_SOCKET is set.
func TestServeRealClient(t *testing.T) {
	bin, err := exec.LookPath("systemd-notify")
	if err != nil {
		t.Skip("systemd-notify not installed")
	}
	s, ch := listen(t)
	cmd := exec.Command(bin, "--pid=self", "--ready", "STATUS=from child")
	cmd.Env = append(os.Environ(), s.Env())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-notify: %v: %s", err, out)
	}
	m := <-ch
	if !m.Ready || m.Status != "from child" || m.PID == os.Getpid() || m.PID == 0 {
		t.Fatalf("got %+v; want ready from the child's pid", m)
	}
}

func TestFDs(t *testing.T) {
	s, err := Listen(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	fds := s.FDs()
	if len(fds) != 1 {
		t.Fatalf("FDs() = %v; want the socket", fds)
	}
	for fd, role := range fds {
		// The number must be the socket bound at Path, not just any fd.
		sa, err := unix.Getsockname(fd)
		if ua, ok := sa.(*unix.SockaddrUnix); err != nil || !ok || ua.Name != s.Path {
			t.Errorf("fd %d is bound to %+v (%v); want %s", fd, sa, err, s.Path)
		}
		if want := "notify socket " + s.Path; role != want {
			t.Errorf("role %q; want %q", role, want)
		}
	}
	s.Close()
	if fds := s.FDs(); len(fds) != 0 {
		t.Errorf("closed socket lists %v", fds)
	}
}

// The socket lets every user send (services run as any user) and nothing
// more: 0666, no execute bits. A service running as nobody reaches it.
func TestSocketModeOtherUsers(t *testing.T) {
	bin, err := exec.LookPath("systemd-notify")
	if err != nil {
		t.Skip("systemd-notify not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("sending as nobody needs root")
	}
	dir, err := os.MkdirTemp("", "tend-notify-mode-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, ch := listenIn(t, dir)

	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o666 {
		t.Errorf("notify socket mode %#o; want 0666", got)
	}
	cmd := exec.Command(bin, "--pid=self", "--ready", "STATUS=as nobody")
	cmd.Env = []string{s.Env()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-notify as nobody: %v: %s", err, out)
	}
	select {
	case m := <-ch:
		if m.UID != 65534 || m.Status != "as nobody" {
			t.Errorf("got %+v; want STATUS from uid 65534", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message from nobody within 10s")
	}
}

// TestSyncReadsWaiting: a datagram waiting in the socket is handed to
// Sync's handler, after before ran and with Serve held off, so that the
// manager sees what an exiting process sent before its exit. Without a
// Serve running, nothing else can take it.
func TestSyncReadsWaiting(t *testing.T) {
	s, err := Listen(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("unixgram", s.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, msg := range []string{"STOPPING=1", "STATUS=second"} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	s.Sync(func() { order = append(order, "before") }, func(m Message) {
		if m.PIDFD > 0 {
			unix.Close(m.PIDFD)
		}
		switch {
		case m.Stopping:
			order = append(order, "stopping")
		case m.HasStatus:
			order = append(order, m.Status)
		}
	})
	if got := strings.Join(order, " "); got != "before stopping second" {
		t.Fatalf("Sync handled %q; want before, then both datagrams in order", got)
	}
	s.Sync(func() {}, func(m Message) { t.Errorf("a second Sync found %+v", m) })
}
