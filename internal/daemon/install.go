package daemon

import (
	"errors"
	"fmt"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/install"
)

// unitFiles runs enable/disable/mask/… on the daemon's search path.
type unitFiles struct {
	in *install.Installer
}

// installer returns the installer for this instance: the standard system
// directories, the user's, or — with --units — the given directories, the
// first of which receives the symlinks.
func (d *daemon) installer() *unitFiles {
	l := d.loader
	in := install.System("")
	in.Env = l.env
	if d.cfg.User || len(d.cfg.UnitDirs) > 0 {
		in.Dirs = l.dirs
		in.Config = l.dirs[0]
		in.Runtime = l.dirs[0]
	}
	return &unitFiles{in: in}
}

func (f *unitFiles) apply(op string, names []string, o api.InstallOptions) (api.InstallChanges, error) {
	for i, n := range names {
		names[i] = completeName(n)
	}
	var ch install.Changes
	var err error
	switch op {
	case "enable":
		ch, err = f.in.Enable(names, o.Runtime, o.Force)
	case "disable":
		ch, err = f.in.Disable(names, o.Runtime)
	case "reenable":
		ch, err = f.in.Reenable(names, o.Runtime, o.Force)
	case "mask":
		ch, err = f.in.Mask(names, o.Runtime, o.Force)
	case "unmask":
		ch, err = f.in.Unmask(names, o.Runtime)
	case "preset":
		ch, err = f.in.Preset(names, o.Runtime)
	default:
		return api.InstallChanges{}, fmt.Errorf("%w: unknown unit file operation %q", api.ErrBadRequest, op)
	}
	out := api.InstallChanges{Removed: ch.Removed}
	for _, l := range ch.Created {
		out.Created = append(out.Created, api.Symlink{Path: l.Path, Target: l.Target})
	}
	if errors.Is(err, install.ErrNotFound) {
		err = fmt.Errorf("%w: %v", api.ErrNoSuchUnit, err)
	}
	return out, err
}

func (f *unitFiles) isEnabled(name string) (string, error) {
	return f.in.IsEnabled(name)
}

func (f *unitFiles) list(patterns []string) ([]api.UnitFile, error) {
	states, err := f.in.ListUnitFiles()
	if err != nil {
		return nil, err
	}
	var out []api.UnitFile
	for _, s := range states {
		if matchAny(patterns, s.Name) {
			out = append(out, api.UnitFile{Name: s.Name, Path: s.Path, State: s.State, Preset: s.Preset})
		}
	}
	return out, nil
}
