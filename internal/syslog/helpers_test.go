package syslog

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitTimeout bounds every wait for an event in these tests; it is a
// guard against hangs, never the thing being measured.
const waitTimeout = 20 * time.Second

// got is one message a test receiver saw.
type got struct {
	m    Message
	cred Cred
}

// collector is a Handler that forwards messages into a channel.
type collector struct{ ch chan got }

func newCollector() *collector { return &collector{ch: make(chan got, 4096)} }

func (c *collector) handle(m Message, cred Cred) { c.ch <- got{m, cred} }

// next waits for the next message.
func (c *collector) next(t *testing.T) got {
	t.Helper()
	select {
	case g := <-c.ch:
		return g
	case <-time.After(waitTimeout):
		t.Fatal("no message received")
		return got{}
	}
}

// none checks that nothing is queued.
func (c *collector) none(t *testing.T) {
	t.Helper()
	select {
	case g := <-c.ch:
		t.Fatalf("unexpected message %+v from %+v", g.m, g.cred)
	default:
	}
}

// serve runs fn in a goroutine and registers its stop and join.
func serve(t *testing.T, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// publicDir makes a temporary directory that unprivileged users can enter.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tend-syslog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// unixgramReceiver listens on a fresh socket and serves it with r.
func unixgramReceiver(t *testing.T, r *Receiver) string {
	t.Helper()
	path := filepath.Join(publicDir(t), "log")
	conn, err := ListenUnixgram(path)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, func(ctx context.Context) error { return r.ServeUnixgram(ctx, conn) })
	return path
}

// run runs a command and returns its pid; it fails the test on error.
func run(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return cmd.Process.Pid
}

func needCommand(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return p
}

// waitFile waits, with inotify on its directory, until cond holds for the
// contents of path.
func waitFile(t *testing.T, path string, cond func([]byte) bool) []byte {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path),
		unix.IN_CREATE|unix.IN_MODIFY|unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 4096)
	for {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if cond(b) {
			return b
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out waiting for %s; it holds:\n%s", path, b)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatal(err)
		}
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break
			}
		}
	}
}
