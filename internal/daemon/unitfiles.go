package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/install"
)

// UnitFiles runs the unit-file operations (enable, disable, mask, …) of
// the control API directly on the files, for the daemon and for clients
// working without one (as systemctl enable works without a manager).
type UnitFiles struct{ i *install.Installer }

// NewUnitFiles wraps an installer.
func NewUnitFiles(i *install.Installer) UnitFiles { return UnitFiles{i: i} }

// Dirs returns the persistent and the runtime configuration directories
// (where enable and edit write; runtime may be "") and the search path.
func (o UnitFiles) Dirs() (config, runtime string, search []string) {
	return o.i.Config, o.i.Runtime, o.i.Dirs
}

// UnitFiles performs op on names.
func (o UnitFiles) UnitFiles(_ context.Context, op string, names []string, opts api.InstallOptions) (api.InstallChanges, error) {
	var ch install.Changes
	var err error
	switch op {
	case api.OpEnable:
		ch, err = o.i.Enable(names, opts.Runtime, opts.Force)
	case api.OpDisable:
		ch, err = o.i.Disable(names, opts.Runtime)
	case api.OpReenable:
		ch, err = o.i.Reenable(names, opts.Runtime, opts.Force)
	case api.OpMask:
		ch, err = o.i.Mask(names, opts.Runtime, opts.Force)
	case api.OpUnmask:
		ch, err = o.i.Unmask(names, opts.Runtime)
	case api.OpPreset:
		ch, err = o.i.Preset(names, opts.Runtime)
	default:
		return api.InstallChanges{}, fmt.Errorf("unknown unit-file operation %q", op)
	}
	if errors.Is(err, install.ErrNotFound) {
		err = fmt.Errorf("%w: %w", api.ErrNoSuchUnit, err)
	}
	out := api.InstallChanges{Removed: ch.Removed, Warnings: ch.Warnings}
	for _, l := range ch.Created {
		out.Created = append(out.Created, api.Symlink{Path: l.Path, Target: l.Target})
	}
	return out, err
}

// IsEnabled returns the enablement state of each name.
func (o UnitFiles) IsEnabled(_ context.Context, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		st, err := o.i.IsEnabled(n)
		if errors.Is(err, install.ErrNotFound) {
			return nil, api.NoSuchUnit(n)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ListUnitFiles lists unit files matching the glob patterns.
func (o UnitFiles) ListUnitFiles(_ context.Context, pats []string) ([]api.UnitFile, error) {
	files, err := o.i.ListUnitFiles()
	if err != nil {
		return nil, err
	}
	out := []api.UnitFile{}
	for _, f := range files {
		if matchAny(pats, f.Name) {
			out = append(out, api.UnitFile{Name: f.Name, Path: f.Path, State: f.State, Preset: f.Preset})
		}
	}
	return out, nil
}
