package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/flock"
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
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			l.release()
			return nil, fmt.Errorf("cannot create %s: %w", d.dir, err)
		}
		f, err := flock.File(filepath.Join(d.dir, d.name))
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
