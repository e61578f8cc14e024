package inspect

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/procfs"
)

// fakeDaemon answers SelfFDs as the daemon would and counts the questions.
type fakeDaemon struct {
	fakeUnits
	pid   int
	roles map[int]string
	asked int
}

func (f *fakeDaemon) SelfFDs(context.Context) (int, map[int]string, error) {
	f.asked++
	return f.pid, f.roles, nil
}

// startHolder runs /bin/sh under the name argv0 (a symlink, so its comm is
// argv0) with files as fds 3…, until the test ends.
func startHolder(t *testing.T, argv0 string, stdout, stderr *os.File, files ...*os.File) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), argv0)
	if err := os.Symlink("/bin/sh", path); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-c", "read x")
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = stdout, stderr, files
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Start returns once the exec happened: the comm is already argv0.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// peerOf returns the peer of fd in l.
func peerOf(t *testing.T, l *FDList, fd int) *Peer {
	t.Helper()
	for _, f := range l.Files {
		if f.FD == strconv.Itoa(fd) {
			if f.Peer == nil {
				t.Fatalf("fd %d of pid %d has no peer: %+v", fd, l.PID, f)
			}
			return f.Peer
		}
	}
	t.Fatalf("pid %d has no fd %d", l.PID, fd)
	return nil
}

// TestPeerRolesOfTheDaemon: a "service" writes into two pipes a "tend"
// reads and one a plain sh reads; the tend's descriptors are labelled with
// the roles the daemon reports, asked for once, and only when the daemon
// is its pid.
func TestPeerRolesOfTheDaemon(t *testing.T) {
	out, outW := pipe(t)
	extra, extraW := pipe(t)
	other, otherW := pipe(t)
	tend := startHolder(t, "tend", nil, nil, out, extra)
	sh := startHolder(t, "sh", nil, nil, other)
	svc := startHolder(t, "svc", outW, otherW, extraW)
	for _, f := range []*os.File{out, outW, extra, extraW, other, otherW} {
		f.Close()
	}
	roles := map[int]string{3: "journal: web.service stdout", 4: "journal: web.service stderr"}

	list := func(units UnitSource, pid int) *FDList {
		t.Helper()
		l, err := FDs(context.Background(), NewCollector(procfs.New("/proc"), units), pid)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	d := &fakeDaemon{pid: tend, roles: roles}
	l := list(d, svc)
	for fd, want := range map[int]string{
		1: "tend (journal: web.service stdout) pid " + strconv.Itoa(tend) + " fd 3",
		3: "tend (journal: web.service stderr) pid " + strconv.Itoa(tend) + " fd 4",
	} {
		if got := peerOf(t, l, fd).String(); got != want {
			t.Errorf("peer of fd %d = %q; want %q", fd, got, want)
		}
	}
	if p := peerOf(t, l, 2); p.PID != sh || p.Unit == roles[3] {
		t.Errorf("peer of fd 2 = %+v; want sh pid %d without a role", p, sh)
	}
	if d.asked != 1 {
		t.Errorf("asked the daemon %d times; want once", d.asked)
	}

	// Without a daemon, or when the daemon is another tend, the peer is
	// the plain "tend pid N fd 3" of before.
	plain := peerOf(t, list(nil, svc), 1).String()
	if !strings.HasPrefix(plain, "tend") || !strings.HasSuffix(plain, " pid "+strconv.Itoa(tend)+" fd 3") || strings.Contains(plain, "journal") {
		t.Errorf("without a daemon: peer %q; want tend pid %d fd 3 without a role", plain, tend)
	}
	other2 := &fakeDaemon{pid: os.Getpid(), roles: roles}
	if got := peerOf(t, list(other2, svc), 1).String(); got != plain || other2.asked != 1 {
		t.Errorf("another daemon: peer %q after %d questions; want %q after 1", got, other2.asked, plain)
	}

	// No tend among the peers: the daemon is not asked.
	lazy := &fakeDaemon{pid: tend, roles: roles}
	if p := peerOf(t, list(lazy, sh), 3); p.PID != svc || lazy.asked != 0 {
		t.Errorf("peer of sh's fd 3 = %+v after %d questions; want svc pid %d and none", p, lazy.asked, svc)
	}
}

// TestPeerRolesNotAskedForTheSameEnd: a "tend" that holds the same end of
// a pipe as the asker (a second writer, as a child the daemon forked holds
// the daemon's ends until it execs) is not the asker's peer, so finding it
// must not ask the daemon; the reader is the peer. It is met twice: while
// scanning /proc (started first, its pid comes before the reader's) and
// among the askers' own descriptors when it is listed too.
func TestPeerRolesNotAskedForTheSameEnd(t *testing.T) {
	r, w := pipe(t)
	tend := startHolder(t, "tend", nil, nil, w)
	sh := startHolder(t, "sh", nil, nil, w)
	reader := startHolder(t, "svc", nil, nil, r)
	r.Close()
	w.Close()
	c := func(units UnitSource) *Collector { return NewCollector(procfs.New("/proc"), units) }

	d := &fakeDaemon{pid: tend, roles: map[int]string{3: "journal: web.service stdout"}}
	l, err := FDs(context.Background(), c(d), sh)
	if err != nil {
		t.Fatal(err)
	}
	if p := peerOf(t, l, 3); p.PID != reader || p.FD != 3 || d.asked != 0 {
		t.Errorf("peer of sh's fd 3 = %+v after %d questions; want svc pid %d fd 3 and none", p, d.asked, reader)
	}

	d = &fakeDaemon{pid: tend, roles: d.roles}
	lists, err := fdLists(context.Background(), c(d), []int{tend, sh})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if p := peerOf(t, l, 3); p.PID != reader || p.FD != 3 {
			t.Errorf("peer of pid %d fd 3 = %+v; want svc pid %d fd 3", l.PID, p, reader)
		}
	}
	if d.asked != 0 {
		t.Errorf("asked the daemon %d times for a tend no descriptor has as its peer; want none", d.asked)
	}
}
