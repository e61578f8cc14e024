package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// apiManager serves the control API from the daemon's parts.
type apiManager struct {
	d     *daemon
	since time.Time // when the manager started
}

var _ api.Manager = (*apiManager)(nil)

func (a *apiManager) jobs(ctx context.Context, kind plan.JobKind, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	mode, err := plan.ParseMode(opts.Mode)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	if kind == plan.Start || kind == plan.Restart {
		if err := a.instantiate(ctx, names); err != nil {
			return nil, err
		}
	}
	names, err = a.canonical(ctx, names)
	if err != nil {
		return nil, err
	}
	if kind == plan.Start || kind == plan.Stop || kind == plan.Restart {
		if err := a.checkManual(kind, names); err != nil {
			return nil, err
		}
	}
	res, err := a.d.mgr.Jobs(ctx, kind, names, mode, opts.NoWait)
	if err != nil {
		return nil, mapErr(err)
	}
	if !opts.NoWait && len(res) > 0 && res[0].TxJobs >= trimJobs {
		a.d.settle(ctx) // the jobs are done: what they made and dropped is garbage now
	}
	out := make([]api.JobResult, len(res))
	for i, r := range res {
		out[i] = api.JobResult{Unit: r.Unit, Job: r.Kind, Result: r.Result, Error: r.Err}
	}
	return out, nil
}

// checkManual enforces RefuseManualStart=/RefuseManualStop=.
func (a *apiManager) checkManual(kind plan.JobKind, names []string) error {
	pl := a.d.mgr.CurrentPlan()
	for _, n := range names {
		u, ok := pl.Unit(n)
		if !ok {
			continue
		}
		if kind != plan.Stop && u.RefuseManualStart {
			return fmt.Errorf("%w: operation refused, unit %s may be requested by dependency only (it is configured to refuse manual start/stop)", api.ErrRefused, n)
		}
		if kind != plan.Start && u.RefuseManualStop {
			return fmt.Errorf("%w: operation refused, unit %s may be requested by dependency only (it is configured to refuse manual start/stop)", api.ErrRefused, n)
		}
	}
	return nil
}

// instantiate adds to the plan the instances of templates that a start
// names and the plan does not hold yet ("tend start getty@tty3"), as
// systemd loads a unit on first reference. Instances the supervisor
// already runs on its own (Accept=yes connections) are left alone.
func (a *apiManager) instantiate(ctx context.Context, names []string) error {
	pl := a.d.mgr.CurrentPlan()
	var add []string
	for _, n := range names {
		full := unit.CompleteName(n)
		if _, inst, _ := unit.SplitName(full); inst == "" || unit.ValidName(full) != nil {
			continue
		}
		if _, ok := pl.Unit(full); ok {
			continue
		}
		if _, err := a.d.mgr.Status(ctx, full); err == nil {
			continue
		}
		add = append(add, full)
	}
	if len(add) == 0 {
		return nil
	}
	return a.d.addInstances(ctx, add)
}

// canonical completes bare names ("web" → "web.service"), validates them
// and resolves aliases and templates' instances.
func (a *apiManager) canonical(ctx context.Context, names []string) ([]string, error) {
	pl := a.d.mgr.CurrentPlan()
	out := make([]string, 0, len(names))
	for _, n := range names {
		full := unit.CompleteName(n)
		if err := unit.ValidName(full); err != nil {
			return nil, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
		}
		u, ok := pl.Unit(full)
		if !ok || u.Load == unit.NotFound {
			// Per-connection instances of Accept=yes sockets live in
			// the supervisor only; it answers for them (or "not found").
			// So does it for a unit that still runs though its file is
			// gone: it can be shown and stopped.
			if _, inst, _ := unit.SplitName(full); inst != "" && strings.HasSuffix(full, ".service") || a.running(ctx, full) {
				out = append(out, full)
				continue
			}
			return nil, api.NoSuchUnit(full)
		}
		out = append(out, u.Name)
	}
	return out, nil
}

// running: the supervisor has name and it is not inactive.
func (a *apiManager) running(ctx context.Context, name string) bool {
	st, err := a.d.mgr.Status(ctx, name)
	return err == nil && st.Active != supervise.Inactive
}

func mapErr(err error) error {
	if errors.Is(err, supervise.ErrNoSuchUnit) {
		return fmt.Errorf("%w: %v", api.ErrNoSuchUnit, err)
	}
	return err
}

func (a *apiManager) Start(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.Start, names, o)
}

func (a *apiManager) Stop(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.Stop, names, o)
}

func (a *apiManager) Restart(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.Restart, names, o)
}

func (a *apiManager) TryRestart(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.TryRestart, names, o)
}

func (a *apiManager) Reload(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.Reload, names, o)
}

func (a *apiManager) ReloadOrRestart(ctx context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return a.jobs(ctx, plan.ReloadOrRestart, names, o)
}

func (a *apiManager) Kill(ctx context.Context, names []string, who string, sig int) error {
	names, err := a.canonical(ctx, names)
	if err != nil {
		return err
	}
	if sig <= 0 || sig > 64 {
		return fmt.Errorf("%w: invalid signal %d", api.ErrBadRequest, sig)
	}
	return mapErr(a.d.mgr.Kill(ctx, names, who, syscall.Signal(sig)))
}

func (a *apiManager) ResetFailed(ctx context.Context, names []string) error {
	names, err := a.canonical(ctx, names)
	if err != nil {
		return err
	}
	return mapErr(a.d.mgr.ResetFailed(ctx, names))
}

func (a *apiManager) ListUnits(ctx context.Context, patterns []string, all bool) ([]api.UnitStatus, error) {
	list, err := a.d.mgr.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.UnitStatus
	for _, st := range list {
		if !matchAny(patterns, st.Name) {
			continue
		}
		if !all && st.Active == supervise.Inactive && st.Job == "" && st.Def.Load == unit.Loaded {
			continue
		}
		out = append(out, a.status(st, false))
	}
	return out, nil
}

func matchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok || p == name || unit.CompleteName(p) == name {
			return true
		}
	}
	return false
}

func (a *apiManager) Status(ctx context.Context, name string) (api.UnitStatus, error) {
	names, err := a.canonical(ctx, []string{name})
	if err != nil {
		return api.UnitStatus{}, err
	}
	st, err := a.d.mgr.Status(ctx, names[0])
	if err != nil {
		return api.UnitStatus{}, mapErr(err)
	}
	out := a.status(st, true)
	for _, refs := range [][]api.UnitRef{out.Triggers, out.TriggeredBy} {
		for i := range refs {
			if rs, err := a.d.mgr.Status(ctx, refs[i].Name); err == nil {
				refs[i].ActiveState = string(rs.Active)
			}
		}
	}
	out.Logs = a.lastLogs(ctx, st.Name, 10)
	return out, nil
}

// status converts a supervisor snapshot to the wire form.
func (a *apiManager) status(st supervise.Status, detail bool) api.UnitStatus {
	def := st.Def
	out := api.UnitStatus{
		Name: st.Name, Description: def.Description, LoadState: string(def.Load),
		ActiveState: string(st.Active), SubState: st.Sub, FragmentPath: def.Path,
		DropIns: def.DropIns, Since: st.Since, Result: string(st.Result),
		MainPID: st.MainPID, ControlPID: st.ControlPID,
		ExecMainCode: st.ExecMainCode, ExecMainStatus: st.ExecMainStat, Job: st.Job, JobState: st.JobState,
		StatusText: st.StatusText, NRestarts: st.NRestarts, Tasks: st.Tasks,
		MemoryBytes: st.MemoryBytes, CPUNanos: st.CPUNanos, Cgroup: st.Cgroup,
		MemoryMax: max(st.MemoryMax, 0), TasksMax: max(st.TasksMax, 0),
		NAccepted: st.NAccepted, NConnections: st.NConnections, NRefused: st.NRefused,
	}
	for _, l := range st.Listen {
		out.Listen = append(out.Listen, api.Listener{Kind: l.Kind, Address: l.Address})
	}
	for _, n := range st.Triggers {
		out.Triggers = append(out.Triggers, api.UnitRef{Name: n})
	}
	for _, n := range st.TriggeredBy {
		out.TriggeredBy = append(out.TriggeredBy, api.UnitRef{Name: n})
	}
	out.Timer = timerInfo(st.Timer)
	if out.Description == "" {
		out.Description = st.Name
	}
	if out.MainPID == 0 && out.ExecMainCode != "" {
		// status shows the last main process with how it ended.
		out.MainPID = st.ExecMainPID
	}
	if !detail {
		return out
	}
	out.UnitFileState = a.unitFileState(st.Name)
	out.Documentation = def.Documentation
	for _, dg := range def.Diags {
		out.Warnings = append(out.Warnings, dg.Error())
	}
	if st.External != "" {
		out.Warnings = append(out.Warnings, "not run by tend: "+st.External)
	}
	if st.SkippedBy != "" {
		out.Warnings = append(out.Warnings, "skipped: unmet condition "+st.SkippedBy)
	}
	out.NeedReload = changedOnDisk(def, a.d.loader.loadedAt())
	out.Processes = processes(st.PIDs)
	for _, r := range st.ExecRuns {
		out.ExecRuns = append(out.ExecRuns, api.ExecRun{Kind: r.Kind, Index: r.Index, Path: r.Command.Path,
			Argv: r.Command.Argv, PID: r.PID, Code: r.Code, Status: r.Status, Exited: r.Exited})
	}
	return out
}

// lastLogs returns the unit's newest n journal entries that the caller
// may read, oldest first (none, rather than an error, for a unit whose
// logs it may not read: status still answers).
func (a *apiManager) lastLogs(ctx context.Context, name string, n int) []api.LogEntry {
	var out []api.LogEntry
	jq := journal.Query{Units: []string{name}, Lines: n}
	if none, err := a.logFilter(ctx, &jq); none || err != nil {
		return nil
	}
	_ = a.d.journal.Query(ctx, jq, func(e journal.Entry) error {
		out = append(out, wireEntry(e))
		return nil
	})
	return out
}

func (a *apiManager) ListUnitFiles(ctx context.Context, patterns []string) ([]api.UnitFile, error) {
	return a.d.installer().ListUnitFiles(ctx, patterns)
}

func (a *apiManager) Show(ctx context.Context, name string) (map[string]string, error) {
	names, err := a.canonical(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	st, err := a.d.mgr.Status(ctx, names[0])
	if err != nil {
		return nil, mapErr(err)
	}
	props := properties(st)
	props["UnitFileState"] = a.unitFileState(st.Name)
	props["NeedDaemonReload"] = yesNo(changedOnDisk(st.Def, a.d.loader.loadedAt()))
	return props, nil
}

func (a *apiManager) Cat(ctx context.Context, name string) ([]api.UnitText, error) {
	names, err := a.canonical(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	u, _ := a.d.mgr.CurrentPlan().Unit(names[0])
	var out []api.UnitText
	for _, p := range append([]string{u.Path}, u.DropIns...) {
		if p == "" {
			continue
		}
		b, err := readUnitText(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
		out = append(out, api.UnitText{Path: p, Text: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: No files found for %s.", api.ErrNoSuchUnit, names[0])
	}
	return out, nil
}

func (a *apiManager) ListDependencies(ctx context.Context, name string, q api.DepQuery) (api.DepTree, error) {
	names, err := a.canonical(ctx, []string{name})
	if err != nil {
		return api.DepTree{}, err
	}
	list, err := a.d.mgr.List(ctx)
	if err != nil {
		return api.DepTree{}, err
	}
	states := map[string]string{}
	for _, st := range list {
		states[st.Name] = string(st.Active)
	}
	kind := map[string]plan.TreeKind{api.DepReverse: plan.TreeReverse, api.DepAfter: plan.TreeAfter, api.DepBefore: plan.TreeBefore}[q.Kind]
	return depTree(a.d.mgr.CurrentPlan().DependencyTreeOf(names[0], kind, q.All), states), nil
}

// depTree adds active states to the plan's dependency tree.
func depTree(t plan.Tree, states map[string]string) api.DepTree {
	out := api.DepTree{Name: t.Name, ActiveState: stateOr(states[t.Name])}
	for _, c := range t.Children {
		out.Children = append(out.Children, depTree(c, states))
	}
	return out
}

func stateOr(s string) string {
	if s == "" {
		return "inactive"
	}
	return s
}

func (a *apiManager) DaemonReload(ctx context.Context) (api.ReloadReport, error) {
	ch, err := a.d.reloadPlan(ctx)
	if err != nil {
		return api.ReloadReport{}, err
	}
	defer a.d.settle(ctx) // after the report, whose garbage is the trim's
	rep := api.ReloadReport{Added: ch.Added, Removed: ch.Removed}
	list, _ := a.d.mgr.List(ctx)
	running := map[string]bool{}
	for _, st := range list {
		if st.Active != supervise.Inactive && st.Active != supervise.FailedState {
			running[st.Name] = true
		}
		for _, dg := range st.Def.Diags {
			if dg.Severity == unit.Error {
				rep.Errors = append(rep.Errors, dg.Error())
			}
		}
	}
	pl := a.d.mgr.CurrentPlan()
	for _, n := range ch.Edited {
		// A running unit whose file went keeps running until stopped,
		// never with a new definition: no hint to restart it.
		if u, ok := pl.Unit(n); running[n] && ok && u.Load != unit.NotFound {
			rep.Changed = append(rep.Changed, n)
		}
	}
	return rep, nil
}

func (a *apiManager) UnitFiles(ctx context.Context, op string, names []string, opts api.InstallOptions) (api.InstallChanges, error) {
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = unit.CompleteName(n)
	}
	ch, err := a.d.installer().UnitFiles(ctx, op, full, opts)
	if err != nil {
		return ch, err
	}
	if _, err := a.d.reload(ctx); err != nil {
		return ch, err
	}
	if opts.Now {
		switch op {
		case "enable", "reenable":
			_, err = a.Start(ctx, names, api.JobOptions{})
		case "disable", "mask":
			_, err = a.Stop(ctx, names, api.JobOptions{})
		}
	}
	return ch, err
}

func (a *apiManager) IsEnabled(ctx context.Context, names []string) ([]string, error) {
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = unit.CompleteName(n)
	}
	return a.d.installer().IsEnabled(ctx, full)
}

func (a *apiManager) unitFileState(name string) string {
	st, err := a.d.installer().IsEnabled(context.Background(), []string{name})
	if err != nil || len(st) == 0 {
		return ""
	}
	return st[0]
}

func (a *apiManager) Logs(ctx context.Context, q api.LogQuery) (<-chan api.LogEntry, error) {
	jq := journalQuery(q)
	if err := checkLogQuery(jq); err != nil {
		return nil, err
	}
	none, err := a.logFilter(ctx, &jq)
	if err != nil {
		return nil, err
	}
	ch := make(chan api.LogEntry, 64)
	if none {
		close(ch)
		return ch, nil
	}
	go func() {
		defer close(ch)
		send := func(e journal.Entry) error {
			select {
			case ch <- wireEntry(e):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if q.Follow {
			_ = a.d.journal.Follow(ctx, jq, send)
			return
		}
		_ = a.d.journal.Query(ctx, jq, send)
	}()
	return ch, nil
}

func (a *apiManager) ProcessUnits(ctx context.Context) (map[int]string, error) {
	return a.d.mgr.ProcessUnits(ctx)
}

func (a *apiManager) DaemonReexec(ctx context.Context) error {
	ask := reexecAsk{done: make(chan error, 1)}
	select {
	case a.d.reexecReq <- ask:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Not ctx: the re-exec cancels it as it stops the API; the answer
	// still goes out on this connection.
	return <-ask.done
}

func (a *apiManager) Info(context.Context) (api.ManagerInfo, error) {
	config, runtime, search := a.d.installer().Dirs()
	return api.ManagerInfo{Since: a.since, ConfigDir: config, RuntimeDir: runtime, SearchPath: search,
		PID: os.Getpid(), Version: a.d.cfg.Version}, nil
}

func (a *apiManager) SelfFDs(context.Context) (api.SelfFDs, error) {
	return api.SelfFDs{PID: os.Getpid(), FDs: a.d.fds()}, nil
}

// readUnitText reads a unit file for `tend cat`. A FIFO there reads as
// empty, as the loader reads it, instead of holding the request (and a
// shutdown or re-exec, which wait for every request) until a writer came.
func readUnitText(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
