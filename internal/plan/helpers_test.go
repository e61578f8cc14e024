package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// mk builds a loaded unit without default dependencies (so transactions
// in tests stay small) and applies the options.
func mk(name string, opts ...func(*unit.Unit)) *unit.Unit {
	u := &unit.Unit{Name: name, Kind: kindOf(name, nil), Load: unit.Loaded, Path: "/etc/tend/" + name}
	if u.Kind == unit.KindService {
		u.Service = &unit.Service{Type: unit.TypeSimple, ExecStart: []unit.Command{{Path: "/bin/true"}}}
	}
	for _, o := range opts {
		o(u)
	}
	return u
}

func requires(n ...string) func(*unit.Unit) {
	return func(u *unit.Unit) { u.EnsureDeps().Requires = n }
}
func requisite(n ...string) func(*unit.Unit) {
	return func(u *unit.Unit) { u.EnsureDeps().Requisite = n }
}
func wants(n ...string) func(*unit.Unit)   { return func(u *unit.Unit) { u.EnsureDeps().Wants = n } }
func bindsTo(n ...string) func(*unit.Unit) { return func(u *unit.Unit) { u.EnsureDeps().BindsTo = n } }
func partOf(n ...string) func(*unit.Unit)  { return func(u *unit.Unit) { u.EnsureDeps().PartOf = n } }
func upholds(n ...string) func(*unit.Unit) { return func(u *unit.Unit) { u.EnsureDeps().Upholds = n } }
func conflicts(n ...string) func(*unit.Unit) {
	return func(u *unit.Unit) { u.EnsureDeps().Conflicts = n }
}
func after(n ...string) func(*unit.Unit)     { return func(u *unit.Unit) { u.EnsureDeps().After = n } }
func before(n ...string) func(*unit.Unit)    { return func(u *unit.Unit) { u.EnsureDeps().Before = n } }
func defaults(u *unit.Unit)                  { u.DefaultDependencies = true }
func load(s unit.LoadState) func(*unit.Unit) { return func(u *unit.Unit) { u.Load = s } }
func entries(kv ...string) func(*unit.Unit) {
	return func(u *unit.Unit) {
		for _, s := range kv {
			sec, rest, _ := strings.Cut(s, ".")
			k, v, _ := strings.Cut(rest, "=")
			u.Entries = append(u.Entries, unit.Entry{Section: sec, Key: k, Value: v, File: u.Path})
		}
	}
}
func reloadable(u *unit.Unit) {
	u.Service.ExecReload = []unit.Command{{Path: "/bin/kill", Argv: []string{"kill", "-HUP", "$MAINPID"}}}
}

func newPlan(units ...*unit.Unit) *Plan {
	m := map[string]*unit.Unit{}
	for _, u := range units {
		m[u.Name] = u
	}
	return New(m, Options{})
}

// states returns a State function: the listed units have the given
// states, all others are inactive.
func states(kv ...string) func(string) State {
	m := map[string]State{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = State(v)
	}
	return func(n string) State {
		if s, ok := m[n]; ok {
			return s
		}
		return Inactive
	}
}

// describe renders a transaction compactly for comparison:
// "unit:kind[*anchor][!required][<after,units]" per job, in job order.
func describe(t *Transaction) string {
	var parts []string
	for _, j := range t.Jobs {
		s := j.Unit + ":" + j.Kind.String()
		if j.Anchor {
			s += "*"
		}
		if j.Required {
			s += "!"
		}
		if len(j.After) > 0 {
			var a []string
			for _, i := range j.After {
				a = append(a, t.Jobs[i].Unit)
			}
			s += "<" + strings.Join(a, ",")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// checkInvariants verifies what every transaction must satisfy.
func checkInvariants(t testing.TB, p *Plan, tr *Transaction) {
	t.Helper()
	seen := map[string]bool{}
	for i, j := range tr.Jobs {
		if seen[j.Unit] {
			t.Fatalf("unit %s has two jobs: %s", j.Unit, describe(tr))
		}
		seen[j.Unit] = true
		for _, a := range j.After {
			if a >= i {
				t.Fatalf("job %d (%s) ordered after job %d: %s", i, j.Unit, a, describe(tr))
			}
		}
		if !slices.IsSorted(j.After) {
			t.Fatalf("job %s: After not sorted: %v", j.Unit, j.After)
		}
	}
	if tr.Mode == IgnoreDependencies || tr.Mode == IgnoreRequirements {
		return
	}
	for _, j := range tr.Jobs {
		if j.Kind != Start && j.Kind != Restart {
			continue
		}
		d := p.Deps(j.Unit)
		for _, r := range slices.Concat(d.Requires, d.BindsTo, d.Requisite) {
			if _, ext := p.External(r); ext {
				continue
			}
			if k := tr.Index(r); k < 0 || tr.Jobs[k].Kind == Stop {
				t.Fatalf("%s requires %s, which has no start-like job: %s", j.Unit, r, describe(tr))
			}
		}
	}
	if len(tr.Warnings) > 0 {
		return // cycle breaking may have removed ordering edges
	}
	for i, j := range tr.Jobs {
		for _, a := range p.Deps(j.Unit).After {
			k := tr.Index(a)
			if k < 0 {
				continue
			}
			waiter, first := i, k
			if j.Kind == Stop {
				waiter, first = k, i
			}
			if !slices.Contains(tr.Jobs[waiter].After, first) {
				t.Fatalf("%s is after %s but job order lacks it: %s", j.Unit, a, describe(tr))
			}
		}
	}
}

func mustTx(t *testing.T, p *Plan, kind JobKind, names []string, mode Mode, st func(string) State) *Transaction {
	t.Helper()
	tr, err := p.Transaction(kind, names, mode, st)
	if err != nil {
		t.Fatalf("Transaction(%s %v %s): %v", kind, names, mode, err)
	}
	checkInvariants(t, p, tr)
	return tr
}

func skips(t *Transaction) string {
	var s []string
	for _, k := range t.Skipped {
		s = append(s, fmt.Sprintf("%s(%s)", k.Unit, k.Reason))
	}
	return strings.Join(s, " ")
}
