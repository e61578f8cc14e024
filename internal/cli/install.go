package cli

import (
	"context"
	"errors"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
)

// installCommands are the unit-file verbs: enable, disable, reenable,
// mask, unmask, preset, is-enabled. They go through the daemon when it
// runs (so it can reload and, with --now, start or stop) and otherwise
// work on the files directly.
func installCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{
		unitFileCommand(env, api.OpEnable, "Enable unit files (create their [Install] symlinks)", true),
		unitFileCommand(env, api.OpDisable, "Disable unit files (remove their symlinks)", true),
		unitFileCommand(env, api.OpReenable, "Disable, then enable unit files", true),
		unitFileCommand(env, api.OpMask, "Mask units so that they cannot be started", true),
		unitFileCommand(env, api.OpUnmask, "Unmask units", false),
		unitFileCommand(env, api.OpPreset, "Enable or disable unit files as the presets say", false),
		isEnabledCommand(env),
	}
}

// unitFiles is the part of api.Manager the install verbs need; both the
// client and the offline installer provide it.
type unitFiles interface {
	UnitFiles(ctx context.Context, op string, names []string, opts api.InstallOptions) (api.InstallChanges, error)
	IsEnabled(ctx context.Context, names []string) ([]string, error)
	ListUnitFiles(ctx context.Context, patterns []string) ([]api.UnitFile, error)
}

// withUnitFiles runs fn against the daemon, or on the files directly with
// --root or when no daemon answers; offline tells fn which one it got.
func (x *ctl) withUnitFiles(fn func(m unitFiles, offline bool) error) error {
	if x.f.root != "" {
		off, err := offlineUnitFiles(x.f.user, x.f.root)
		if err != nil {
			return err
		}
		return fn(off, true)
	}
	err := fn(x.c, false)
	if !errors.Is(err, client.ErrNotRunning) {
		return err
	}
	off, oerr := offlineUnitFiles(x.f.user, "")
	if oerr != nil {
		return errors.Join(err, oerr)
	}
	return fn(off, true)
}

func (x *ctl) unitFileList(ctx context.Context, pats []string) ([]api.UnitFile, error) {
	var files []api.UnitFile
	err := x.withUnitFiles(func(m unitFiles, _ bool) error {
		var err error
		files, err = m.ListUnitFiles(ctx, pats)
		return err
	})
	return files, err
}

func unitFileCommand(env *Env, op, short string, now bool) *cobra.Command {
	f := &ctlFlags{}
	var opts api.InstallOptions
	cmd := &cobra.Command{
		Use:   op + " UNIT...",
		Short: short,
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names := mangleAll(args)
		var ch api.InstallChanges
		err := x.withUnitFiles(func(m unitFiles, offline bool) error {
			if offline && opts.Now {
				return errors.New("--now needs a running tend to start or stop units")
			}
			var err error
			ch, err = m.UnitFiles(ctx, op, names, opts)
			return err
		})
		if err != nil {
			return x.unitFileError(op, names, err)
		}
		if x.json() {
			return x.printJSON(ch)
		}
		x.reportChanges(ch)
		return nil
	})
	f.add(cmd)
	f.addRoot(cmd)
	cmd.Flags().BoolVar(&opts.Runtime, "runtime", false, "make the change only until the next reboot (under /run)")
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "overwrite conflicting symlinks")
	if now {
		cmd.Flags().BoolVar(&opts.Now, "now", false, "also start (enable) or stop (disable, mask) the units")
	}
	return cmd
}

// reportChanges prints the symlinks removed and created, on stderr as
// systemctl does, unless --quiet.
func (x *ctl) reportChanges(ch api.InstallChanges) {
	for _, p := range ch.Removed {
		x.warnf("Removed %q.\n", p)
	}
	for _, l := range ch.Created {
		x.warnf("Created symlink %s → %s.\n", l.Path, l.Target)
	}
	for _, w := range ch.Warnings {
		x.warnf("%s\n", w)
	}
}

func (x *ctl) unitFileError(op string, names []string, err error) error {
	if errors.Is(err, api.ErrNoSuchUnit) {
		x.errf("Failed to %s unit: Unit file %s does not exist.\n", op, unitOf(err, names[0]))
		return &ExitError{Code: exitFailure}
	}
	switch statusOf(err) {
	case http.StatusForbidden:
		x.errf("Failed to %s unit: %v\n", op, err)
		return &ExitError{Code: exitNoSuchUnit}
	}
	x.errf("Failed to %s unit: %v\n", op, err)
	return &ExitError{Code: exitFailure}
}

// enabledStates are the is-enabled answers that count as success
// (systemctl(1), "is-enabled output").
var enabledStates = []string{"enabled", "enabled-runtime", "alias", "static", "indirect", "generated", "transient"}

func isEnabledCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "is-enabled UNIT...",
		Short: "Check whether unit files are enabled",
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names := mangleAll(args)
		var states []string
		err := x.withUnitFiles(func(m unitFiles, _ bool) error {
			var err error
			states, err = m.IsEnabled(ctx, names)
			return err
		})
		if errors.Is(err, api.ErrNoSuchUnit) {
			x.errf("Failed to get unit file state for %s: No such file or directory\n", unitOf(err, names[0]))
			return &ExitError{Code: exitFailure}
		}
		if err != nil {
			return err
		}
		if x.json() {
			return x.printJSON(states)
		}
		found := false
		for _, s := range states {
			if !x.f.quiet {
				x.outf("%s\n", s)
			}
			found = found || containsAny(enabledStates, s)
		}
		if !found {
			return &ExitError{Code: exitFailure}
		}
		return nil
	})
	f.add(cmd)
	f.addRoot(cmd)
	return cmd
}
