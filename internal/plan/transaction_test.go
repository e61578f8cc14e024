package plan

import (
	"errors"
	"slices"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

func TestTransaction(t *testing.T) {
	tests := []struct {
		name     string
		units    []*unit.Unit
		kind     JobKind
		req      []string
		mode     Mode
		state    []string
		want     string
		warnings []string
	}{
		{
			name: "requires and wants pull in transitively",
			units: []*unit.Unit{mk("a.service", requires("b.service"), wants("c.service")),
				mk("b.service", wants("d.service")), mk("c.service"), mk("d.service")},
			kind: Start, req: []string{"a.service"},
			want: "a.service:start*! b.service:start! c.service:start d.service:start",
		},
		{
			name:  "requisite pulls a verify job and nothing behind it",
			units: []*unit.Unit{mk("a.service", requisite("b.service"), after("b.service")), mk("b.service", requires("c.service")), mk("c.service")},
			kind:  Start, req: []string{"a.service"},
			want: "b.service:verify-active! a.service:start*!<b.service",
		},
		{
			name:  "bindsto and upholds",
			units: []*unit.Unit{mk("a.service", bindsTo("b.service"), upholds("c.service")), mk("b.service"), mk("c.service")},
			kind:  Start, req: []string{"a.service"},
			want: "a.service:start*! b.service:start! c.service:start",
		},
		{
			name:  "conflicts stop the other unit, both directions",
			units: []*unit.Unit{mk("a.service", conflicts("b.service")), mk("b.service"), mk("c.service", conflicts("a.service"))},
			kind:  Start, req: []string{"a.service"}, state: []string{"b.service=active", "c.service=active"},
			want: "a.service:start*! b.service:stop! c.service:stop!",
		},
		{
			name:  "conflicts with an inactive unit need no job",
			units: []*unit.Unit{mk("a.service", conflicts("b.service")), mk("b.service")},
			kind:  Start, req: []string{"a.service"},
			want: "a.service:start*!",
		},
		{
			name:  "wanted unit that conflicts is dropped",
			units: []*unit.Unit{mk("a.service", wants("b.service"), conflicts("b.service")), mk("b.service")},
			kind:  Start, req: []string{"a.service"}, state: []string{"b.service=active"},
			want:     "a.service:start*! b.service:stop!",
			warnings: []string{"conflicting jobs for a.service: dropped stop job pulled in by b.service, and with it start of b.service"},
		},
		{
			name:  "start ordering follows After and Before",
			units: []*unit.Unit{mk("a.service", requires("b.service", "c.service"), after("b.service")), mk("b.service"), mk("c.service", before("a.service"))},
			kind:  Start, req: []string{"a.service"},
			want: "b.service:start! c.service:start! a.service:start*!<b.service,c.service",
		},
		{
			name:  "without ordering jobs run in parallel",
			units: []*unit.Unit{mk("a.service", requires("b.service")), mk("b.service")},
			kind:  Start, req: []string{"a.service"},
			want: "a.service:start*! b.service:start!",
		},
		{
			name:  "stop runs in reverse order and propagates to Requires, BindsTo, PartOf",
			units: []*unit.Unit{mk("a.service", requires("b.service"), after("b.service")), mk("b.service"), mk("c.service", bindsTo("b.service")), mk("d.service", partOf("b.service"), after("b.service"))},
			kind:  Stop, req: []string{"b.service"}, state: []string{"a.service=active", "c.service=active", "d.service=active", "b.service=active"},
			want: "a.service:stop! c.service:stop! d.service:stop! b.service:stop*!<a.service,d.service",
		},
		{
			name:  "stop goes before start of a unit ordered before it",
			units: []*unit.Unit{mk("a.service", after("b.service"), conflicts("x.service")), mk("b.service"), mk("x.service", after("a.service"))},
			kind:  Start, req: []string{"a.service", "b.service"}, state: []string{"x.service=active"},
			want: "b.service:start*! x.service:stop! a.service:start*!<b.service,x.service",
		},
		{
			name:  "restart propagates to PartOf units that run",
			units: []*unit.Unit{mk("a.service"), mk("b.service", partOf("a.service"), after("a.service")), mk("c.service", partOf("a.service"))},
			kind:  Restart, req: []string{"a.service"}, state: []string{"a.service=active", "b.service=active"},
			want: "a.service:restart*! b.service:restart!<a.service",
		},
		{
			name:  "try-restart of an inactive unit does nothing",
			units: []*unit.Unit{mk("a.service")},
			kind:  TryRestart, req: []string{"a.service"},
			want: "",
		},
		{
			name:  "try-restart of an active unit restarts it",
			units: []*unit.Unit{mk("a.service")},
			kind:  TryRestart, req: []string{"a.service"}, state: []string{"a.service=active"},
			want: "a.service:restart*!",
		},
		{
			name:  "reload-or-restart reloads what can reload",
			units: []*unit.Unit{mk("a.service", reloadable)},
			kind:  ReloadOrRestart, req: []string{"a.service"}, state: []string{"a.service=active"},
			want: "a.service:reload*!",
		},
		{
			name:  "reload-or-restart restarts what cannot",
			units: []*unit.Unit{mk("a.service")},
			kind:  ReloadOrRestart, req: []string{"a.service"}, state: []string{"a.service=active"},
			want: "a.service:restart*!",
		},
		{
			name:  "reload-or-restart starts an inactive unit",
			units: []*unit.Unit{mk("a.service", reloadable, requires("b.service")), mk("b.service")},
			kind:  ReloadOrRestart, req: []string{"a.service"},
			want: "a.service:start*! b.service:start!",
		},
		{
			name: "reload propagates to running units only",
			units: []*unit.Unit{mk("a.service", reloadable, func(u *unit.Unit) { u.EnsureDeps().PropagatesReloadTo = []string{"b.service", "c.service"} }),
				mk("b.service", reloadable), mk("c.service", reloadable)},
			kind: Reload, req: []string{"a.service"}, state: []string{"a.service=active", "b.service=active"},
			want: "a.service:reload*! b.service:reload",
		},
		{
			name: "fail mode leaves running units alone unless required",
			units: []*unit.Unit{mk("a.service", wants("w.service"), conflicts("x.service")),
				mk("w.service", conflicts("y.service")), mk("x.service"), mk("y.service")},
			kind: Start, req: []string{"a.service"}, mode: Fail, state: []string{"x.service=active", "y.service=active"},
			want: "a.service:start*! x.service:stop!",
		},
		{
			name: "replace mode stops what wanted units conflict with",
			units: []*unit.Unit{mk("a.service", wants("w.service"), conflicts("x.service")),
				mk("w.service", conflicts("y.service")), mk("x.service"), mk("y.service")},
			kind: Start, req: []string{"a.service"}, state: []string{"x.service=active", "y.service=active"},
			want: "a.service:start*! w.service:start x.service:stop! y.service:stop",
		},
		{
			name:  "ignore-dependencies keeps only the requested jobs, unordered",
			units: []*unit.Unit{mk("a.service", requires("b.service"), after("b.service")), mk("b.service")},
			kind:  Start, req: []string{"a.service", "b.service"}, mode: IgnoreDependencies,
			want: "a.service:start*! b.service:start*!",
		},
		{
			name:  "ignore-requirements keeps ordering between requested jobs",
			units: []*unit.Unit{mk("a.service", requires("c.service"), after("b.service")), mk("b.service"), mk("c.service")},
			kind:  Start, req: []string{"a.service", "b.service"}, mode: IgnoreRequirements,
			want: "b.service:start*! a.service:start*!<b.service",
		},
		{
			name:  "cycle broken by dropping a wanted job",
			units: []*unit.Unit{mk("a.service", wants("b.service"), after("b.service")), mk("b.service", after("a.service"))},
			kind:  Start, req: []string{"a.service"},
			want:     "a.service:start*!",
			warnings: []string{"ordering cycle found: a.service → b.service → a.service; dropped job for b.service"},
		},
		{
			name: "cycle of required jobs broken by dropping an ordering",
			units: []*unit.Unit{mk("a.service", requires("b.service"), after("c.service")), mk("b.service", after("a.service")),
				mk("c.service", after("b.service"), before("d.service")), mk("d.service")},
			kind: Start, req: []string{"a.service", "c.service"},
			want:     "b.service:start! c.service:start*!<b.service a.service:start*!<c.service",
			warnings: []string{"ordering cycle found: a.service → c.service → b.service → a.service; dropped ordering of b.service after a.service"},
		},
		{
			name: "dropping a job for a cycle drops what required it",
			units: []*unit.Unit{mk("a.service", wants("w.service"), after("b.service")), mk("w.service", requires("b.service")),
				mk("b.service", after("a.service"))},
			kind: Start, req: []string{"a.service"},
			want:     "a.service:start*!",
			warnings: []string{"ordering cycle found: a.service → b.service → a.service; dropped job for b.service, and with it start of w.service"},
		},
		{
			name: "a stop job that does nothing still satisfies its requirer when a cycle is broken",
			units: []*unit.Unit{mk("a.service", requires("b.service"), wants("w.service"), after("w.service")),
				mk("b.service", conflicts("x.service")), mk("x.service"), mk("w.service", after("a.service"))},
			kind: Start, req: []string{"a.service"},
			want:     "a.service:start*! b.service:start!",
			warnings: []string{"ordering cycle found: a.service → w.service → a.service; dropped job for w.service"},
		},
		{
			name: "units managed elsewhere are skipped",
			units: []*unit.Unit{mk("a.service", requires("data.mount", "systemd-journald.service"), wants("dev-sda.device"), after("data.mount")),
				mk("data.mount")},
			kind: Start, req: []string{"a.service"},
			want: "a.service:start*!",
		},
		{
			name:  "wanted units that do not load are skipped",
			units: []*unit.Unit{mk("a.service", wants("missing.service", "masked.service")), mk("masked.service", load(unit.Masked))},
			kind:  Start, req: []string{"a.service"},
			want: "a.service:start*!",
		},
		{
			name: "isolate stops what the target does not pull in",
			units: []*unit.Unit{mk("iso.target", wants("a.service", "s.socket"), entries("Unit.AllowIsolate=yes")), mk("a.service"),
				mk("x.service"), mk("keep.service", entries("Unit.IgnoreOnIsolate=true")), mk("off.service"),
				mk("s.socket"), mk("s.service")},
			kind: Start, req: []string{"iso.target"}, mode: Isolate,
			state: []string{"x.service=active", "keep.service=active", "a.service=active", "s.service=active", "s.socket=active"},
			want:  "a.service:start iso.target:start*! s.socket:start x.service:stop!",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlan(tc.units...)
			tr := mustTx(t, p, tc.kind, tc.req, tc.mode, states(tc.state...))
			if got := describe(tr); got != tc.want {
				t.Errorf("jobs:\n got %s\nwant %s", got, tc.want)
			}
			if !slices.Equal(tr.Warnings, tc.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", tr.Warnings, tc.warnings)
			}
		})
	}
}

func TestTransactionErrors(t *testing.T) {
	p := newPlan(
		mk("a.service", requires("b.service"), conflicts("b.service")), mk("b.service"),
		mk("r.service", requires("missing.service")),
		mk("m.service", load(unit.Masked)),
		mk("req-masked.service", requires("m.service")),
		mk("plain.target"),
		mk("data.mount"),
		mk("noreload.service"),
	)
	tests := []struct {
		kind JobKind
		name string
		mode Mode
		want error
	}{
		{Start, "a.service", Replace, ErrConflict},
		{Start, "r.service", Replace, ErrNotFound},
		{Start, "nope.service", Replace, ErrNotFound},
		{Stop, "nope.service", Replace, ErrNotFound},
		{Start, "m.service", Replace, ErrRefused},
		{Start, "req-masked.service", Replace, ErrRefused},
		{Start, "plain.target", Isolate, ErrRefused},
		{Stop, "plain.target", Isolate, ErrRefused},
		{Start, "data.mount", Replace, ErrRefused},
		{Reload, "noreload.service", Replace, ErrRefused},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String()+" "+tc.name, func(t *testing.T) {
			_, err := p.Transaction(tc.kind, []string{tc.name}, tc.mode, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v; want %v", err, tc.want)
			}
		})
	}
	if _, err := p.Transaction(JobKind(42), []string{"b.service"}, Replace, nil); !errors.Is(err, ErrRefused) {
		t.Errorf("bad kind: %v", err)
	}
	if _, err := p.Transaction(Start, []string{"b.service"}, Mode(-1), nil); !errors.Is(err, ErrRefused) {
		t.Errorf("bad mode: %v", err)
	}
	// Stopping a masked unit is allowed.
	mustTx(t, p, Stop, []string{"m.service"}, Replace, nil)
}

func TestTransactionSkipped(t *testing.T) {
	p := newPlan(mk("a.service", requires("data.mount", "systemd-journald.service"), wants("missing.service")), mk("data.mount"))
	tr := mustTx(t, p, Start, []string{"a.service"}, Replace, nil)
	want := "data.mount(mount units are managed outside tend) missing.service(unit missing.service: unit not found) systemd-journald.service(provided by systemd)"
	if got := skips(tr); got != want {
		t.Errorf("skipped:\n got %s\nwant %s", got, want)
	}
}

func TestTransactionDependents(t *testing.T) {
	p := newPlan(mk("a.service", requires("b.service"), wants("c.service"), conflicts("x.service")),
		mk("b.service"), mk("c.service"), mk("x.service"))
	tr := mustTx(t, p, Start, []string{"a.service"}, Replace, states("x.service=active"))
	a, b, c, x := tr.Index("a.service"), tr.Index("b.service"), tr.Index("c.service"), tr.Index("x.service")
	for _, tc := range []struct {
		job  int
		want []int
	}{{b, []int{a}}, {c, nil}, {x, []int{a}}, {a, nil}} {
		if got := tr.Jobs[tc.job].Dependents; !slices.Equal(got, tc.want) {
			t.Errorf("%s: dependents %v; want %v", tr.Jobs[tc.job].Unit, got, tc.want)
		}
	}
}

// TestTransactionDependentsBothWays covers both ways of finding a failed
// job's dependents: through its own reverse lists when they are shorter
// than the transaction, through the transaction's jobs when they are not.
func TestTransactionDependentsBothWays(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []*unit.Unit // units outside the transaction that also need b
	}{
		{"reverse lists shorter", nil},
		{"jobs shorter", []*unit.Unit{mk("y.service", requires("b.service")), mk("z.service", bindsTo("b.service")),
			mk("w.service", requisite("b.service")), mk("v.service", requires("b.service"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			units := append([]*unit.Unit{mk("a.service", requires("b.service"), bindsTo("b.service"), wants("c.service")),
				mk("b.service"), mk("c.service"), mk("d.service", requisite("b.service"), wants("a.service"))}, tc.extra...)
			p := newPlan(units...)
			tr := mustTx(t, p, Start, []string{"d.service"}, Replace, states("b.service=active"))
			a, b, c, d := tr.Index("a.service"), tr.Index("b.service"), tr.Index("c.service"), tr.Index("d.service")
			if a < 0 || b < 0 || c < 0 || d < 0 {
				t.Fatalf("jobs %v; want a, b, c and d", tr.Jobs)
			}
			want := []int{a, d}
			slices.Sort(want)
			if got := tr.Jobs[b].Dependents; !slices.Equal(got, want) {
				t.Errorf("b.service: dependents %v; want %v", got, want)
			}
			if got := tr.Jobs[c].Dependents; got != nil {
				t.Errorf("c.service: dependents %v; want none", got)
			}
		})
	}
}

func TestDefaultTargetBoot(t *testing.T) {
	app := mk("app.service", defaults)
	p := New(map[string]*unit.Unit{
		"app.service":       app,
		"multi-user.target": {Name: "multi-user.target", Load: unit.NotFound, Deps: &unit.Deps{Wants: []string{"app.service"}}},
		"db.socket":         mk("db.socket", defaults),
		"db.service":        mk("db.service", defaults),
	}, Options{})
	tr := mustTx(t, p, Start, []string{"default.target"}, Replace, nil)
	for _, n := range []string{"multi-user.target", "basic.target", "sysinit.target", "sockets.target", "app.service"} {
		if tr.Index(n) < 0 {
			t.Errorf("no job for %s: %s", n, describe(tr))
		}
	}
	if tr.Index("shutdown.target") >= 0 {
		t.Errorf("shutdown.target pulled in: %s", describe(tr))
	}
	if !tr.Jobs[tr.Index("multi-user.target")].Anchor {
		t.Errorf("default.target did not resolve to the multi-user.target anchor")
	}
	waits := func(a, b string) bool { return slices.Contains(tr.Jobs[tr.Index(a)].After, tr.Index(b)) }
	if !waits("app.service", "basic.target") || !waits("multi-user.target", "app.service") || !waits("basic.target", "sysinit.target") {
		t.Errorf("boot order wrong: %s", describe(tr))
	}
	d := p.Deps("db.socket")
	if !slices.Contains(d.Before, "db.service") || !slices.Contains(d.Before, "sockets.target") {
		t.Errorf("socket implicit deps: %+v", d)
	}
	if r := p.Reverse("db.service"); !slices.Equal(r.TriggeredBy, []string{"db.socket"}) {
		t.Errorf("db.service triggered by %v", r.TriggeredBy)
	}
}

func TestShutdownTransaction(t *testing.T) {
	p := newPlan(
		mk("db.service", defaults), mk("app.service", defaults, requires("db.service"), after("db.service")),
		mk("lone.service"), // DefaultDependencies=no: only isolate stops it
		mk("keep.service", entries("Unit.IgnoreOnIsolate=yes")),
	)
	st := states("db.service=active", "app.service=active", "lone.service=active", "keep.service=active",
		"multi-user.target=active", "basic.target=active", "sysinit.target=active")
	tr := mustTx(t, p, Start, []string{"poweroff.target"}, Isolate, st)
	// Services stop before the targets they are ordered after, keep.service
	// is left alone, and shutdown.target is reached once everything
	// ordered before it has stopped.
	want := "app.service:stop! db.service:stop!<app.service lone.service:stop! multi-user.target:stop! " +
		"basic.target:stop!<app.service,db.service,multi-user.target " +
		"shutdown.target:start!<app.service,db.service,multi-user.target,basic.target " +
		"poweroff.target:start*!<shutdown.target sysinit.target:stop!<app.service,db.service,basic.target"
	if got := describe(tr); got != want {
		t.Errorf("poweroff:\n got %s\nwant %s", got, want)
	}
}
