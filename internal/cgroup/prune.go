package cgroup

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Prune removes every empty unit group below the base directory, also
// ones left by an earlier run, in the tracking hierarchy and the v1
// stats hierarchies, and then the base directories themselves if they
// are empty. Groups that still hold processes stay. The daemon calls it
// at shutdown, tests at cleanup.
func (m *Manager) Prune() error {
	m.mu.Lock()
	var gs []*Group
	for _, g := range m.groups {
		gs = append(gs, g)
	}
	m.mu.Unlock()
	var errs []error
	for _, g := range gs {
		if err := g.Remove(); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, err)
		}
	}
	bases := []string{m.base}
	for _, b := range m.statBase {
		bases = append(bases, b)
	}
	for _, base := range bases {
		if base == "" {
			continue
		}
		ents, err := os.ReadDir(base)
		if err != nil {
			if !os.IsNotExist(err) {
				errs = append(errs, err)
			}
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				rmdirIfEmpty(filepath.Join(base, e.Name()), &errs)
			}
		}
		rmdirIfEmpty(base, &errs)
	}
	return errors.Join(errs...)
}

// rmdirIfEmpty removes a cgroup directory unless processes or child
// groups keep it busy.
func rmdirIfEmpty(dir string, errs *[]error) {
	err := unix.Rmdir(dir)
	if err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTEMPTY) {
		*errs = append(*errs, &os.PathError{Op: "rmdir", Path: dir, Err: err})
	}
}
