package daemon

import (
	"os"

	"github.com/tendproject/tend/internal/install"
)

// installer returns the unit-file operations for this instance: the
// standard system or user directories, or — with --units — the given
// directories, the first of which receives the symlinks.
func (d *daemon) installer() UnitFiles {
	l := d.loader
	var in *install.Installer
	switch {
	case len(d.cfg.UnitDirs) > 0:
		in = install.System("")
		in.Dirs, in.Config, in.Runtime = l.dirs, l.dirs[0], l.dirs[0]
	case d.cfg.User:
		getenv := d.cfg.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		in = install.User(home, getenv)
	default:
		in = install.System("")
	}
	in.Env = l.env
	if l.gen != "" {
		in.Dirs = l.dirs // with the generator directory, so generated units are listed
	}
	return NewUnitFiles(in)
}
