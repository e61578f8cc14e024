package install

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/unit"
)

// Mask links each name to /dev/null in the configuration directory (the
// runtime one if runtime). It refuses to replace a real file, and a
// symlink elsewhere unless force.
func (i *Installer) Mask(names []string, runtime, force bool) (Changes, error) {
	var ch Changes
	if err := i.checkDir(runtime); err != nil {
		return ch, err
	}
	for _, n := range names {
		if err := unit.ValidName(n); err != nil {
			return ch, fmt.Errorf("cannot mask %s: %w", n, err)
		}
		p := filepath.Join(i.configDir(runtime), n)
		st, err := os.Lstat(i.host(p))
		if err == nil && st.Mode()&fs.ModeSymlink == 0 {
			return ch, fmt.Errorf("cannot mask %s: file %q already exists", n, p)
		}
		if err := i.link(p, "/dev/null", force, &ch); err != nil {
			return ch, fmt.Errorf("cannot mask %s: %w", n, err)
		}
	}
	return ch, nil
}

// Unmask removes the /dev/null links of names from the configuration
// directory (the runtime one if runtime).
func (i *Installer) Unmask(names []string, runtime bool) (Changes, error) {
	var ch Changes
	if err := i.checkDir(runtime); err != nil {
		return ch, err
	}
	for _, n := range names {
		if err := unit.ValidName(n); err != nil {
			return ch, fmt.Errorf("cannot unmask %s: %w", n, err)
		}
		p := filepath.Join(i.configDir(runtime), n)
		if t, err := os.Readlink(i.host(p)); err != nil || t != "/dev/null" {
			continue
		}
		if err := os.Remove(i.host(p)); err != nil {
			return ch, fmt.Errorf("cannot unmask %s: %w", n, err)
		}
		ch.Removed = append(ch.Removed, p)
	}
	return ch, nil
}

// LinkFile makes a unit file outside the search path available by
// linking it into the configuration directory under its own name, like
// `systemctl link`.
func (i *Installer) LinkFile(paths []string, runtime, force bool) (Changes, error) {
	var ch Changes
	if err := i.checkDir(runtime); err != nil {
		return ch, err
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return ch, fmt.Errorf("cannot link %s: path is not absolute", p)
		}
		name := filepath.Base(p)
		if err := unit.ValidName(name); err != nil {
			return ch, fmt.Errorf("cannot link %s: %w", p, err)
		}
		if st, err := os.Stat(i.host(p)); err != nil || !st.Mode().IsRegular() {
			return ch, fmt.Errorf("cannot link %s: not a regular file", p)
		}
		if err := i.link(filepath.Join(i.configDir(runtime), name), p, force, &ch); err != nil {
			return ch, fmt.Errorf("cannot link %s: %w", p, err)
		}
	}
	return ch, nil
}
