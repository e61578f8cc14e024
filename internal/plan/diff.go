package plan

import (
	"slices"

	"github.com/tendproject/tend/internal/unit"
)

// Changes is what differs between two plans.
type Changes struct {
	Added   []string // units only in the new plan
	Removed []string // units only in the old plan
	// Changed lists units in both whose definition differs: fragment or
	// drop-in paths, load state, aliases, any assignment, or effective
	// dependencies (e.g. a new .wants/ link).
	Changed []string
	// Edited is the part of Changed whose own files changed (assignments,
	// fragment or drop-in paths, load state, aliases), not only the
	// dependencies other units give them: what "changed on disk" means.
	Edited []string
}

// Diff compares two plans by canonical unit name; all lists are sorted.
// Synthetic built-in units compare like others, so a target that gains a
// file on disk shows as changed.
func Diff(old, new *Plan) Changes {
	var c Changes
	for _, n := range new.names {
		ou, ok := old.units[n]
		switch {
		case !ok:
			c.Added = append(c.Added, n)
		case !sameDefinition(ou, new.units[n]):
			c.Changed = append(c.Changed, n)
			c.Edited = append(c.Edited, n)
		case !sameDeps(old.edges[n], new.edges[n]):
			c.Changed = append(c.Changed, n)
		}
	}
	for _, n := range old.names {
		if _, ok := new.units[n]; !ok {
			c.Removed = append(c.Removed, n)
		}
	}
	return c
}

// sameDefinition compares what a unit is made of. Line numbers are left
// out: moving an assignment or adding a comment changes nothing. Typed
// fields are derived from the entries, except for units built in code
// (synthetic targets, tests), so those are compared too where cheap.
func sameDefinition(a, b *unit.Unit) bool {
	if a == b {
		return true
	}
	if a.Name != b.Name || a.Kind != b.Kind || a.Load != b.Load || a.Path != b.Path ||
		a.Description != b.Description || a.DefaultDependencies != b.DefaultDependencies ||
		!slices.Equal(a.DropIns, b.DropIns) || !sameSet(a.Aliases, b.Aliases) ||
		len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		x, y := a.Entries[i], b.Entries[i]
		if x.Section != y.Section || x.Key != y.Key || x.Value != y.Value || x.File != y.File {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
