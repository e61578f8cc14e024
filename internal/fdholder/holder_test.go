package fdholder

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdholder/holderproc"
)

// testServer is a holder (a fork of the test) admitting clients of
// uid; the test's end kills it if no client asked it to exit.
type testServer struct {
	path   string
	pid    int
	reaped bool
	ws     unix.WaitStatus
	err    error
}

// wait waits for the holder to exit.
func (s *testServer) wait() (unix.WaitStatus, error) {
	if !s.reaped {
		_, s.err = unix.Wait4(s.pid, &s.ws, 0, nil)
		s.reaped = true
	}
	return s.ws, s.err
}

func startServer(t testing.TB, uid int) *testServer {
	t.Helper()
	s := &testServer{path: filepath.Join(t.TempDir(), "h.sock")}
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: s.path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s.pid, err = holderproc.Fork(int(f.Fd()), uid, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.reaped { // then its pid is still its own
			_ = unix.Kill(s.pid, unix.SIGKILL)
			_, _ = s.wait()
		}
	})
	return s
}

// A pipe held survives its writer's reader: what the writer wrote while
// only the holder had the read end is read back, in order.
func TestStoreRetrieveDropExit(t *testing.T) {
	srv := startServer(t, os.Getuid())
	path := srv.path
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Store("journal:a.service:stdout:1", int(r.Fd())); err != nil {
		t.Fatal(err)
	}
	r.Close() // only the holder reads now: a write must not get EPIPE
	if _, err := w.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatalf("write with the read end held: %v", err)
	}
	w.Close()
	c.Close()

	c2, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c2.Retrieve()
	if err != nil {
		t.Fatal(err)
	}
	f := got["journal:a.service:stdout:1"]
	if len(got) != 1 || f == nil {
		t.Fatalf("retrieved %v", got)
	}
	data, _ := io.ReadAll(f)
	if string(data) != "one\ntwo\n" {
		t.Fatalf("read %q", data)
	}
	if err := c2.Drop("journal:a.service:stdout:1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c2.Retrieve(); len(got) != 0 {
		t.Fatalf("after drop: %v", got)
	}
	if err := c2.Store("", int(f.Fd())); err == nil {
		t.Fatal("empty name accepted")
	}
	if err := c2.Exit(); err != nil {
		t.Fatal(err)
	}
	if ws, err := srv.wait(); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("holder ended with %v, %v", ws, err)
	}
}

// Another uid is refused: it gets no answer and no descriptor.
func TestOtherUIDRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as nobody")
	}
	// As if the holder belonged to nobody: root is a stranger.
	path := startServer(t, 65534).path
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Retrieve(); err == nil {
		t.Fatal("a client of another uid was answered")
	}
}

// queueAndPipe starts a holder and a queue to it, and makes a pipe
// whose read end the test hands it.
func queueAndPipe(t *testing.T) (string, *Queue, [2]int) {
	t.Helper()
	path := startServer(t, os.Getuid()).path
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return path, NewQueue(c, slog.Default()), fds
}

// A store queued and released before it was sent never reaches the
// holder; stores and drops arrive in order.
func TestQueueOrder(t *testing.T) {
	path, q, fds := queueAndPipe(t)
	defer unix.Close(fds[1])
	for i := 0; i < 50; i++ {
		q.Hold("a", fds[0])
		q.Release("a")
	}
	q.Hold("b", fds[0])
	unix.Close(fds[0]) // the queue has its own duplicate
	q.Wait()
	q.Close()
	c2, _ := Dial(path)
	got, err := c2.Retrieve()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["a"]; ok {
		t.Fatalf("released name held: %v", got)
	}
	for _, f := range got {
		f.Close()
	}
}

// Retrieve takes back more entries than one batch holds, each the
// descriptor stored under its name, as the one-by-one list does.
func TestRetrieveBatches(t *testing.T) {
	srv := startServer(t, os.Getuid())
	path := srv.path
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{} // name: inode
	for i := range batchFDs + 10 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Fstat(int(r.Fd()), &st)
		name := fmt.Sprintf("journal:u%d.service:stdout:%d", i, st.Ino)
		if err := c.Store(name, int(r.Fd())); err != nil {
			t.Fatal(err)
		}
		want[name] = st.Ino
		r.Close()
		w.Close()
	}
	for _, op := range []byte{'B', 'L'} {
		c.mu.Lock()
		got, err := c.retrieve(op)
		c.mu.Unlock()
		if err != nil {
			t.Fatalf("%c: %v", op, err)
		}
		if len(got) != len(want) {
			t.Errorf("%c: %d entries; want %d", op, len(got), len(want))
		}
		for name, f := range got {
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != want[name] {
				t.Errorf("%c: %s: inode %d (%v); want %d", op, name, st.Ino, err, want[name])
			}
			f.Close()
		}
	}
	if err := c.Exit(); err != nil {
		t.Fatal(err)
	}
	if ws, err := srv.wait(); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("holder ended with %v, %v", ws, err)
	}
}

// A holder that does not know batches (started by an older tend) is
// asked one by one.
func TestRetrieveFromOldHolder(t *testing.T) {
	a, b, err := unixPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	go func() { // the old holder's answers
		defer b.Close()
		buf := make([]byte, 16)
		if n, _ := b.Read(buf); n != 1 || buf[0] != 'B' {
			return
		}
		b.Write([]byte("!unknown request 'B'"))
		if n, _ := b.Read(buf); n != 1 || buf[0] != 'L' {
			return
		}
		b.WriteMsgUnix([]byte("Fjournal:a.service:stdout:1"), unix.UnixRights(int(r.Fd())), nil)
		r.Close()
		b.Write([]byte{'E'})
	}()
	got, err := (&Client{c: a}).Retrieve()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["journal:a.service:stdout:1"] == nil {
		t.Fatalf("retrieved %v", got)
	}
	got["journal:a.service:stdout:1"].Close()
}

// unixPair is a connected pair of seqpacket sockets.
func unixPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var cs [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "seqpacket")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		cs[i] = c.(*net.UnixConn)
	}
	return cs[0], cs[1], nil
}

// More stores than one pipelined run holds, and drops among them, all
// reach the holder in order: what Wait returns after is what it holds.
func TestQueueRuns(t *testing.T) {
	path, q, fds := queueAndPipe(t)
	defer unix.Close(fds[1])
	const n = 3*pipelineMax + 5
	for i := range n {
		q.Hold(fmt.Sprintf("p%d", i), fds[0])
		if i%3 == 0 {
			q.Release(fmt.Sprintf("p%d", i))
		}
	}
	unix.Close(fds[0])
	q.Wait()
	q.Close()
	c2, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	got, err := c2.Retrieve()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		if _, ok := got[name]; ok == (i%3 == 0) {
			t.Errorf("%s held: %v; want %v", name, ok, i%3 != 0)
		}
	}
	for _, f := range got {
		f.Close()
	}
}
