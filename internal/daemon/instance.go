package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/flock"
	"github.com/tendproject/tend/internal/rundir"
)

// Lock files: <runtime>/lock and <journal>/instance.lock, each holding the
// owner's pid. They are never removed (see flock.File).
const (
	runtimeLockName = "lock"
	journalLockName = "instance.lock"
)

// instanceLock makes a runtime directory and a journal directory one
// instance's. It is the first thing an instance takes, before it creates
// or removes anything (sockets, journal segments, cgroups), so a refused
// second instance leaves the running one untouched; it is held until the
// process ends.
type instanceLock struct {
	files []*os.File
}

// lockInstance takes the locks, or says which running tend holds them.
func lockInstance(p Paths) (*instanceLock, error) {
	l := &instanceLock{}
	for _, d := range []struct{ dir, name, what string }{
		{p.Runtime, runtimeLockName, "runtime directory"},
		{p.Journal, journalLockName, "journal directory"},
	} {
		if err := makeDir(d.dir, d.name == runtimeLockName); err != nil {
			l.release()
			return nil, err
		}
		f, err := lockFile(filepath.Join(d.dir, d.name))
		if err != nil {
			l.release()
			var held *flock.HeldError
			if !errors.As(err, &held) {
				return nil, fmt.Errorf("cannot lock %s %s: %w", d.what, d.dir, err)
			}
			who := "another tend"
			if held.PID > 0 {
				who = fmt.Sprintf("another tend (pid %d)", held.PID)
			}
			return nil, fmt.Errorf("%s is running with %s %s; not starting a second instance there", who, d.what, d.dir)
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

// release drops the locks (for tests and failed starts; a running
// instance keeps them until it exits).
func (l *instanceLock) release() {
	for _, f := range l.files {
		f.Close()
	}
	l.files = nil
}

// makeDir creates an instance directory. A runtime directory's parent
// that does not exist yet (the /tmp/tend-UID fallback) is made private,
// and the runtime directory must not be one another user controls.
func makeDir(dir string, runtime bool) error {
	if runtime {
		_ = os.Mkdir(filepath.Dir(dir), 0o700)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	if runtime {
		return rundir.Check(dir, os.Geteuid())
	}
	return nil
}

// orphanLockWait bounds how long a lock whose taker is dead may stay
// held: by a child the dead tend forked, between its fork and its exec
// (which closes the copy), descheduled on a loaded machine.
const orphanLockWait = 2 * time.Second

// lockFile is flock.File, which waits a little for a lock whose taker
// is gone: a tend started right after a kill -9 of the last one must
// not be refused because a service it was starting had not exec'd yet.
// A lock whose taker lives is refused at once.
func lockFile(path string) (*os.File, error) {
	deadline := time.Now().Add(orphanLockWait)
	for {
		f, err := flock.File(path)
		var held *flock.HeldError
		if err == nil || !errors.As(err, &held) || held.PID <= 0 || time.Now().After(deadline) {
			return f, err
		}
		if kerr := unix.Kill(held.PID, 0); !errors.Is(kerr, unix.ESRCH) {
			return nil, err // its taker runs: another tend
		}
		time.Sleep(10 * time.Millisecond) // no event says when a copy closes
	}
}
