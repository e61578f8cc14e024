package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
)

// queryCommands are the read-only control verbs.
func queryCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{
		statusCommand(env), listUnitsCommand(env), listUnitFilesCommand(env),
		catCommand(env), showCommand(env),
		isStateCommand(env, "is-active", "Check whether units are active", []string{"active", "reloading"}, exitNotRunning),
		isStateCommand(env, "is-failed", "Check whether units have failed", []string{"failed"}, exitFailure),
		listDependenciesCommand(env),
	}
}

func statusCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "status [UNIT...|PID...]",
		Short: "Show the runtime status of units and their latest log lines (of the instance, without units)",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		if len(args) == 0 {
			return x.systemStatus(ctx)
		}
		units, code, err := x.statuses(ctx, args)
		if err != nil {
			return err
		}
		if x.json() {
			if perr := x.printJSON(units); perr != nil {
				return perr
			}
		} else {
			host, _ := os.Hostname()
			v := statusView{now: time.Now(), host: host, color: x.color}
			for i, st := range units {
				if i > 0 {
					x.outf("\n")
				}
				v.writeStatus(x.env.Stdout, st)
			}
			x.statusWarnings(units)
		}
		if code != 0 {
			return &ExitError{Code: code}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

// statuses fetches the units named (globs expanded) and the exit status
// systemctl would give: the first non-zero one of 3 (a unit is not
// active) and 4 (a unit is unknown).
func (x *ctl) statuses(ctx context.Context, args []string) ([]api.UnitStatus, int, error) {
	var units []api.UnitStatus
	code := 0
	setCode := func(c int) {
		if code == 0 {
			code = c
		}
	}
	names, err := x.pidsToUnits(ctx, args)
	if err != nil {
		return nil, 0, err
	}
	for _, name := range mangleAll(names) {
		var found []api.UnitStatus
		if isGlob(name) {
			matched, err := x.c.ListUnits(ctx, []string{name}, true)
			if err != nil {
				return nil, 0, err
			}
			found = matched
		} else {
			st, err := x.c.Status(ctx, name)
			if errors.Is(err, api.ErrNoSuchUnit) {
				x.errf("Unit %s could not be found.\n", name)
				setCode(exitNoSuchUnit)
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			found = []api.UnitStatus{st}
		}
		for _, st := range found {
			setCode(statusCode(st))
		}
		units = append(units, found...)
	}
	return units, code, nil
}

// pidsToUnits replaces process IDs among args by the units they belong
// to, as `systemctl status PID` does.
func (x *ctl) pidsToUnits(ctx context.Context, args []string) ([]string, error) {
	var procs map[int]string
	out := make([]string, 0, len(args))
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil || pid <= 0 {
			out = append(out, a)
			continue
		}
		if procs == nil {
			if procs, err = x.c.ProcessUnits(ctx); err != nil {
				return nil, err
			}
		}
		u, ok := procs[pid]
		if !ok {
			return nil, &ExitError{Code: exitNoSuchUnit, Msg: fmt.Sprintf("PID %d does not belong to any loaded unit", pid)}
		}
		out = append(out, u)
	}
	return out, nil
}

// statusCode is the LSB status of one unit.
func statusCode(st api.UnitStatus) int {
	switch {
	case st.ActiveState == "active" || st.ActiveState == "reloading":
		return 0
	case st.LoadState == "not-found":
		return exitNoSuchUnit
	}
	return exitNotRunning
}

// changedOnDisk is systemctl's hint that a unit needs daemon-reload.
const changedOnDisk = "Warning: The unit file, source configuration file or drop-ins of %s changed on disk. Run 'tend daemon-reload' to reload units.\n"

// statusWarnings prints load diagnostics and the daemon-reload hint.
func (x *ctl) statusWarnings(units []api.UnitStatus) {
	for _, st := range units {
		for _, w := range st.Warnings {
			x.warnf("Warning: %s\n", w)
		}
		if st.NeedReload {
			x.warnf(changedOnDisk, st.Name)
		}
	}
}

func listUnitsCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var all, failed, plain bool
	var states, types []string
	cmd := &cobra.Command{
		Use:     "list-units [PATTERN...]",
		Aliases: []string{"list"},
		Short:   "List loaded units",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		if failed {
			states = append(states, "failed")
		}
		units, err := x.c.ListUnits(ctx, mangleAll(args), all || len(states) > 0)
		if err != nil {
			return err
		}
		units = filterUnits(units, splitList(states), splitList(types))
		if x.json() {
			return x.printJSON(units)
		}
		writeUnitTable(x.env.Stdout, units, tableOpts{color: x.color, legend: !f.noLegend, all: all, plain: plain})
		return nil
	})
	f.add(cmd)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include inactive units")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only units in these load, active or sub states (comma-separated)")
	cmd.Flags().StringSliceVarP(&types, "type", "t", nil, "only units of these types (service, socket, …)")
	cmd.Flags().BoolVar(&failed, "failed", false, "only failed units (--state=failed)")
	cmd.Flags().BoolVar(&plain, "plain", false, "no marker column before the unit names")
	return cmd
}

// splitList flattens repeated, comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// filterUnits keeps the units in one of states (load, active or sub) and
// of one of types.
func filterUnits(units []api.UnitStatus, states, types []string) []api.UnitStatus {
	out := []api.UnitStatus{}
	for _, u := range units {
		if len(states) > 0 && !containsAny(states, u.LoadState, u.ActiveState, u.SubState) {
			continue
		}
		if len(types) > 0 && !hasTypeSuffix(u.Name, types) {
			continue
		}
		out = append(out, u)
	}
	return out
}

func containsAny(set []string, vals ...string) bool {
	for _, s := range set {
		for _, v := range vals {
			if s == v {
				return true
			}
		}
	}
	return false
}

func hasTypeSuffix(name string, types []string) bool {
	for _, t := range types {
		if strings.HasSuffix(name, "."+strings.TrimPrefix(t, ".")) {
			return true
		}
	}
	return false
}

func listUnitFilesCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var states, types []string
	cmd := &cobra.Command{
		Use:   "list-unit-files [PATTERN...]",
		Short: "List installed unit files and their enablement state",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		files, err := x.unitFileList(ctx, mangleAll(args))
		if err != nil {
			return err
		}
		st, ty := splitList(states), splitList(types)
		out := []api.UnitFile{}
		for _, uf := range files {
			if (len(st) == 0 || containsAny(st, uf.State)) && (len(ty) == 0 || hasTypeSuffix(uf.Name, ty)) {
				out = append(out, uf)
			}
		}
		if x.json() {
			return x.printJSON(out)
		}
		writeUnitFileTable(x.env.Stdout, out, !f.noLegend)
		return nil
	})
	f.add(cmd)
	f.addRoot(cmd)
	cmd.Flags().StringSliceVar(&states, "state", nil, "only unit files in these states (comma-separated)")
	cmd.Flags().StringSliceVarP(&types, "type", "t", nil, "only unit files of these types")
	return cmd
}

func catCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "cat UNIT...",
		Short: "Show the unit files of units, with their drop-ins",
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names, err := x.expand(ctx, args)
		if err != nil {
			return err
		}
		var all [][]api.UnitText
		for _, n := range names {
			texts, err := x.c.Cat(ctx, n)
			if err != nil {
				return x.noUnit(n, err)
			}
			all = append(all, texts)
		}
		if x.json() {
			return x.printJSON(all)
		}
		first := true
		for _, texts := range all {
			for _, t := range texts {
				if !first {
					x.outf("\n")
				}
				first = false
				x.outf("# %s\n%s", t.Path, t.Text)
				if !strings.HasSuffix(t.Text, "\n") {
					x.outf("\n")
				}
			}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

// noUnit reports a unit lookup error: "No files found for x.service." for
// a unit the daemon does not know.
func (x *ctl) noUnit(name string, err error) error {
	if statusOf(err) == http.StatusNotFound {
		x.errf("No files found for %s.\n", unitOf(err, name))
		return &ExitError{Code: exitFailure}
	}
	return err
}

// isStateCommand builds is-active and is-failed: print each unit's active
// state, succeed when at least one is in a good state (systemctl(1)).
func isStateCommand(env *Env, verb, short string, good []string, failCode int) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   verb + " UNIT...",
		Short: short,
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names, err := x.expand(ctx, args)
		if err != nil {
			return err
		}
		found := false
		for _, n := range names {
			state := "inactive" // what systemctl says of unknown units
			st, err := x.c.Status(ctx, n)
			switch {
			case err == nil:
				state = st.ActiveState
			case !errors.Is(err, api.ErrNoSuchUnit):
				return err
			}
			if !x.f.quiet {
				x.outf("%s\n", state)
			}
			found = found || containsAny(good, state)
		}
		if !found {
			return &ExitError{Code: failCode}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

func listDependenciesCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var q api.DepQuery
	var plain bool
	kind := func(k string) func(string) error {
		// The last of --reverse, --after and --before wins, as in systemctl.
		return func(v string) error {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			if on {
				q.Kind = k
			} else if q.Kind == k {
				q.Kind = api.DepRequires
			}
			return nil
		}
	}
	cmd := &cobra.Command{
		Use:   "list-dependencies [UNIT...]",
		Short: "Show the units a unit depends on (or, with --reverse, that depend on it; --after, --before: ordering)",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names := []string{"default.target"}
		if len(args) > 0 {
			var err error
			if names, err = x.expand(ctx, args); err != nil {
				return err
			}
		}
		var trees []api.DepTree
		for _, name := range names {
			tree, err := x.c.ListDependencies(ctx, name, q)
			if err != nil {
				if statusOf(err) == http.StatusNotFound {
					return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("unit %s not found", name)}
				}
				return err
			}
			trees = append(trees, tree)
		}
		if x.json() {
			if len(trees) == 1 {
				return x.printJSON(trees[0])
			}
			return x.printJSON(trees)
		}
		for i, tree := range trees {
			if i > 0 {
				x.outf("\n")
			}
			if plain {
				writeDepPlain(x.env.Stdout, tree)
			} else {
				writeDepTree(x.env.Stdout, tree, x.color)
			}
		}
		return nil
	})
	f.add(cmd)
	fs := cmd.Flags()
	fs.BoolFunc("reverse", "show the units that depend on the unit (WantedBy=, RequiredBy=, …)", kind(api.DepReverse))
	fs.BoolFunc("after", "show the units ordered before the unit (its After=)", kind(api.DepAfter))
	fs.BoolFunc("before", "show the units ordered after the unit (its Before=)", kind(api.DepBefore))
	fs.BoolVarP(&q.All, "all", "a", false, "expand every unit, not only targets")
	fs.BoolVar(&plain, "plain", false, "a flat list instead of a tree")
	return cmd
}
