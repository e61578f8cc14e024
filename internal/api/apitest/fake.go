// Package apitest provides a fake api.Manager that keeps units in memory,
// for tests of the API server, the client and the CLI.
package apitest

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tendproject/tend/internal/api"
)

// Call records one Manager call.
type Call struct {
	Method string
	Names  []string
	Opts   api.JobOptions
	Inst   api.InstallOptions
	Op     string // install op, kill whom
	Signal int
}

// Fake is an in-memory api.Manager. Set its fields before use; read them
// after through Lock/Unlock or the accessors.
type Fake struct {
	mu sync.Mutex // guards every field below

	Units map[string]*api.UnitStatus
	Files []api.UnitFile
	Props map[string]map[string]string
	Texts map[string][]api.UnitText
	Deps  map[string]api.DepTree
	// FailStart maps a unit to the Result its start jobs end with
	// ("exit-code", "timeout", …).
	FailStart    map[string]string
	ReloadReport api.ReloadReport
	Changes      api.InstallChanges
	Procs        map[int]string
	// Self is what SelfFDs answers: the daemon's pid and its descriptors'
	// roles.
	Self api.SelfFDs
	// ManagerInfo is what Info answers.
	ManagerInfo api.ManagerInfo
	Entries     []api.LogEntry
	// Follow feeds entries to followers after Entries; nil means a follow
	// just waits for the end of its context, closed ends every follow.
	Follow chan api.LogEntry
	calls  []Call
}

// New returns a Fake with the given units.
func New(units ...api.UnitStatus) *Fake {
	f := &Fake{Units: map[string]*api.UnitStatus{}, Props: map[string]map[string]string{},
		Texts: map[string][]api.UnitText{}, Deps: map[string]api.DepTree{}, FailStart: map[string]string{}}
	for _, u := range units {
		f.Units[u.Name] = &u
	}
	return f
}

// Calls returns the calls made so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Unit returns a copy of a unit's status.
func (f *Fake) Unit(name string) api.UnitStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.Units[name]; u != nil {
		return *u
	}
	return api.UnitStatus{}
}

func (f *Fake) record(c Call) { f.calls = append(f.calls, c) }

// lookupLocked checks that every name is a known unit.
func (f *Fake) lookupLocked(names []string) error {
	for _, n := range names {
		if f.Units[n] == nil {
			return api.NoSuchUnit(n)
		}
	}
	return nil
}

func (f *Fake) job(method string, names []string, opts api.JobOptions, set func(u *api.UnitStatus) string) ([]api.JobResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: method, Names: names, Opts: opts})
	if err := f.lookupLocked(names); err != nil {
		return nil, err
	}
	var res []api.JobResult
	for _, n := range names {
		u := f.Units[n]
		r := "done"
		if opts.NoWait {
			r = "queued"
		}
		if set != nil {
			if got := set(u); got != "" {
				r = got
			}
		}
		res = append(res, api.JobResult{Unit: n, Job: method, Result: r})
	}
	return res, nil
}

// start makes a unit active, or failed when FailStart says so; it runs
// with f.mu held.
func (f *Fake) start(u *api.UnitStatus) string {
	u.Since = time.Now()
	if r, ok := f.FailStart[u.Name]; ok {
		u.ActiveState, u.SubState, u.Result = "failed", "failed", r
		return "failed"
	}
	u.ActiveState, u.SubState, u.Result = "active", "running", "success"
	return ""
}

func stop(u *api.UnitStatus) string {
	u.ActiveState, u.SubState, u.Since = "inactive", "dead", time.Now()
	return ""
}

// Start implements api.Manager.
func (f *Fake) Start(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("start", names, o, f.start)
}

// Stop implements api.Manager.
func (f *Fake) Stop(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("stop", names, o, stop)
}

// Restart implements api.Manager.
func (f *Fake) Restart(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("restart", names, o, f.start)
}

// TryRestart implements api.Manager.
func (f *Fake) TryRestart(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("try-restart", names, o, func(u *api.UnitStatus) string {
		if u.ActiveState != "active" {
			return "skipped"
		}
		return f.start(u)
	})
}

// Reload implements api.Manager.
func (f *Fake) Reload(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("reload", names, o, nil)
}

// ReloadOrRestart implements api.Manager.
func (f *Fake) ReloadOrRestart(_ context.Context, names []string, o api.JobOptions) ([]api.JobResult, error) {
	return f.job("reload-or-restart", names, o, f.start)
}

// Kill implements api.Manager.
func (f *Fake) Kill(_ context.Context, names []string, who string, sig int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "kill", Names: names, Op: who, Signal: sig})
	return f.lookupLocked(names)
}

// ResetFailed implements api.Manager.
func (f *Fake) ResetFailed(_ context.Context, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "reset-failed", Names: names})
	if err := f.lookupLocked(names); err != nil {
		return err
	}
	for _, u := range f.Units {
		if u.ActiveState == "failed" && (len(names) == 0 || slices.Contains(names, u.Name)) {
			u.ActiveState, u.SubState, u.Result = "inactive", "dead", "success"
		}
	}
	return nil
}

func matchAny(pats []string, name string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// ListUnits implements api.Manager: without all, inactive units are left
// out, as systemctl does.
func (f *Fake) ListUnits(_ context.Context, pats []string, all bool) ([]api.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res []api.UnitStatus
	for _, u := range f.Units {
		if matchAny(pats, u.Name) && (all || u.ActiveState != "inactive") {
			res = append(res, *u)
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
	return res, nil
}

// ListUnitFiles implements api.Manager.
func (f *Fake) ListUnitFiles(_ context.Context, pats []string) ([]api.UnitFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res []api.UnitFile
	for _, uf := range f.Files {
		if matchAny(pats, uf.Name) {
			res = append(res, uf)
		}
	}
	return res, nil
}

// Status implements api.Manager.
func (f *Fake) Status(_ context.Context, name string) (api.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.Units[name]; u != nil {
		return *u, nil
	}
	return api.UnitStatus{}, api.NoSuchUnit(name)
}

// Show implements api.Manager.
func (f *Fake) Show(_ context.Context, name string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.Units[name]
	if u == nil {
		return nil, api.NoSuchUnit(name)
	}
	p := map[string]string{"Id": u.Name, "Description": u.Description, "LoadState": u.LoadState,
		"ActiveState": u.ActiveState, "SubState": u.SubState, "MainPID": fmt.Sprint(u.MainPID)}
	for k, v := range f.Props[name] {
		p[k] = v
	}
	return p, nil
}

// Cat implements api.Manager.
func (f *Fake) Cat(_ context.Context, name string) ([]api.UnitText, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Units[name] == nil {
		return nil, api.NoSuchUnit(name)
	}
	return f.Texts[name], nil
}

// ListDependencies implements api.Manager.
func (f *Fake) ListDependencies(_ context.Context, name string, q api.DepQuery) (api.DepTree, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "list-dependencies", Names: []string{name}, Op: fmt.Sprintf("%s all=%v", q.Kind, q.All)})
	if f.Units[name] == nil {
		return api.DepTree{}, api.NoSuchUnit(name)
	}
	if t, ok := f.Deps[name]; ok {
		return t, nil
	}
	return api.DepTree{Name: name, ActiveState: f.Units[name].ActiveState}, nil
}

// DaemonReexec implements api.Manager.
func (f *Fake) DaemonReexec(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "daemon-reexec"})
	return nil
}

// DaemonReload implements api.Manager.
func (f *Fake) DaemonReload(context.Context) (api.ReloadReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "daemon-reload"})
	return f.ReloadReport, nil
}

// UnitFiles implements api.Manager.
func (f *Fake) UnitFiles(_ context.Context, op string, names []string, o api.InstallOptions) (api.InstallChanges, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "unit-files", Op: op, Names: names, Inst: o})
	for _, n := range names {
		if !slices.ContainsFunc(f.Files, func(uf api.UnitFile) bool { return uf.Name == n }) {
			return api.InstallChanges{}, api.NoSuchUnit(n)
		}
	}
	return f.Changes, nil
}

// IsEnabled implements api.Manager.
func (f *Fake) IsEnabled(_ context.Context, names []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res []string
	for _, n := range names {
		i := slices.IndexFunc(f.Files, func(uf api.UnitFile) bool { return uf.Name == n })
		if i < 0 {
			return nil, api.NoSuchUnit(n)
		}
		res = append(res, f.Files[i].State)
	}
	return res, nil
}

// ProcessUnits implements api.Manager.
func (f *Fake) ProcessUnits(context.Context) (map[int]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Procs, nil
}

// SelfFDs implements api.Manager.
func (f *Fake) SelfFDs(context.Context) (api.SelfFDs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.SelfFDs{PID: f.Self.PID, FDs: maps.Clone(f.Self.FDs)}, nil
}

// Info implements api.Manager: Info, as set.
func (f *Fake) Info(context.Context) (api.ManagerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ManagerInfo, nil
}

// Logs implements api.Manager: the stored entries of matching units (the
// last q.Lines of them), then, with q.Follow, whatever arrives on Follow
// until ctx ends.
func (f *Fake) Logs(ctx context.Context, q api.LogQuery) (<-chan api.LogEntry, error) {
	f.mu.Lock()
	var sel []api.LogEntry
	for _, e := range f.Entries {
		if matchAny(q.Units, e.Unit) {
			sel = append(sel, e)
		}
	}
	follow := f.Follow
	f.mu.Unlock()
	if q.Lines > 0 && len(sel) > q.Lines {
		sel = sel[len(sel)-q.Lines:]
	}
	// Buffered like a real journal reader would be, so the server can batch.
	ch := make(chan api.LogEntry, 64)
	go func() {
		defer close(ch)
		for _, e := range sel {
			select {
			case ch <- e:
			case <-ctx.Done():
				return
			}
		}
		if !q.Follow {
			return
		}
		for {
			select {
			case e, ok := <-follow:
				if !ok {
					return
				}
				if !matchAny(q.Units, e.Unit) {
					continue
				}
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
