package plan

import (
	"slices"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

func TestDiff(t *testing.T) {
	withEntry := func(v string, line int) func(*unit.Unit) {
		return func(u *unit.Unit) {
			u.Entries = []unit.Entry{{Section: "Service", Key: "ExecStart", Value: v, File: u.Path, Line: line}}
		}
	}
	old := newPlan(
		mk("same.service", withEntry("/bin/a", 3)),
		mk("moved.service", withEntry("/bin/a", 3)),
		mk("edited.service", withEntry("/bin/a", 3)),
		mk("gone.service"),
		mk("dropin.service"),
		mk("target-wants.target"),
		mk("w.service"),
	)
	newer := newPlan(
		mk("same.service", withEntry("/bin/a", 3)),
		mk("moved.service", withEntry("/bin/a", 7)), // only the line moved
		mk("edited.service", withEntry("/bin/b", 3)),
		mk("added.service"),
		mk("dropin.service", func(u *unit.Unit) { u.DropIns = []string{"/etc/tend/dropin.service.d/x.conf"} }),
		mk("target-wants.target", wants("w.service")), // a new .wants/ link
		mk("w.service"),
	)
	got := Diff(old, newer)
	want := Changes{
		Added:   []string{"added.service"},
		Removed: []string{"gone.service"},
		Changed: []string{"dropin.service", "edited.service", "target-wants.target"},
		Edited:  []string{"dropin.service", "edited.service"}, // the target only gained a dependency
	}
	if !slices.Equal(got.Added, want.Added) || !slices.Equal(got.Removed, want.Removed) || !slices.Equal(got.Changed, want.Changed) || !slices.Equal(got.Edited, want.Edited) {
		t.Errorf("Diff = %+v; want %+v", got, want)
	}
	if c := Diff(newer, newer); len(c.Added)+len(c.Removed)+len(c.Changed) != 0 {
		t.Errorf("Diff of a plan with itself = %+v", c)
	}
}
