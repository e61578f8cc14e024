package svdir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// keep duplicates the descriptors d names, as exec keeps them for the
// next process; the caller then closes d as the old process's end would.
func keep(t *testing.T, d *Dir) map[string]*os.File {
	t.Helper()
	out := map[string]*os.File{}
	for name, fd := range d.Files() {
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = os.NewFile(uintptr(nfd), name)
	}
	return out
}

// TestResume: supervise/ taken back from kept descriptors keeps its lock
// throughout (another supervisor is refused), delivers a command written
// while nobody read, and releases the lock when closed.
func TestResume(t *testing.T) {
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	d, err := Open(svc, hub, Status{})
	if err != nil {
		t.Fatal(err)
	}
	files := keep(t, d)
	d.Close() // the old process's descriptors; the kept ones remain
	var locked *LockedError
	if _, err := Open(svc, hub, Status{}); !errors.As(err, &locked) {
		t.Fatalf("Open while the kept lock is held: %v; want a LockedError", err)
	}
	// A command written while no one reads waits in the FIFO.
	w, err := os.OpenFile(filepath.Join(svc, "supervise", "control"), os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("control has no reader across the hand-over: %v", err)
	}
	w.Write([]byte("t"))
	w.Close()

	hub2, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub2.Close()
	d2, err := Resume(svc, hub2, files, Status{State: StateRun, PID: os.Getpid(), Want: WantUp})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-hub2.Controls():
		if c.Dir != d2 || c.Cmd != CmdTerm {
			t.Fatalf("command %+v; want t for the resumed Dir", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("command written during the hand-over never arrived")
	}
	if st, err := os.ReadFile(filepath.Join(svc, "supervise", "stat")); err != nil || string(st) != "run\n" {
		t.Errorf("stat after Resume = %q, %v", st, err)
	}
	d2.Close()
	d3, err := Open(svc, hub, Status{})
	if err != nil {
		t.Fatalf("Open after the resumed Dir closed: %v", err)
	}
	d3.Close()
}

// TestResumeRefusesOtherFiles: descriptors that are not this directory's
// supervise/ files are refused and closed, so the lock they hold lapses.
func TestResumeRefusesOtherFiles(t *testing.T) {
	parent := t.TempDir()
	a, b := newServiceDir(t, parent, "a", nil), newServiceDir(t, parent, "b", nil)
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	d, err := Open(a, hub, Status{})
	if err != nil {
		t.Fatal(err)
	}
	files := keep(t, d)
	d.Close()
	if _, err := Resume(b, hub, files, Status{}); err == nil {
		t.Fatal("Resume took a's files for b")
	}
	d2, err := Open(a, hub, Status{})
	if err != nil {
		t.Fatalf("a's lock still held after the refusal closed its files: %v", err)
	}
	d2.Close()
}
