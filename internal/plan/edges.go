package plan

import (
	"slices"

	"github.com/tendproject/tend/internal/unit"
)

// list names one of a unit's effective edge lists in edges: the lists of
// unit.Deps in rel's order, then those of ReverseDeps.
type list uint8

const (
	listRequiredBy list = iota + list(relTriggers)
	listRequisiteOf
	listWantedBy
	listBoundBy
	listConsistsOf
	listUpheldBy
	listConflictedBy
	listTriggeredBy
	listTriggers
	numLists
)

// edges is what a plan keeps of one unit's effective dependencies and
// reverse dependencies: every list's names end to end in one slice, and
// where each list ends. A unit.Deps and a ReverseDeps are 22 slice
// headers (528 bytes) and each list had slots to grow; an idle daemon
// holds this for every unit, and most lists are empty.
type edges struct {
	names []string
	end   [numLists]uint32
}

// get returns list l, nil when empty; read only. A nil e (a name nothing
// depends on) has no edges.
func (e *edges) get(l list) []string {
	if e == nil {
		return nil
	}
	var start uint32
	if l > 0 {
		start = e.end[l-1]
	}
	if start == e.end[l] {
		return nil
	}
	return e.names[start:e.end[l]:e.end[l]]
}

// deps returns the unit.Deps lists of e, copied.
func (e *edges) deps() unit.Deps {
	var d unit.Deps
	for i, l := range depLists(&d) {
		*l = slices.Clone(e.get(list(i)))
	}
	return d
}

// reverse returns the ReverseDeps lists of e, copied.
func (e *edges) reverse() ReverseDeps {
	var r ReverseDeps
	for i, l := range r.lists() {
		*l = slices.Clone(e.get(listRequiredBy + list(i)))
	}
	return r
}

// sameDeps reports whether a and b have the same unit.Deps lists.
func sameDeps(a, b *edges) bool {
	for l := range listRequiredBy {
		if !slices.Equal(a.get(l), b.get(l)) {
			return false
		}
	}
	return true
}

// lists returns pointers to every list of r, in list order.
func (r *ReverseDeps) lists() []*[]string {
	return []*[]string{&r.RequiredBy, &r.RequisiteOf, &r.WantedBy, &r.BoundBy,
		&r.ConsistsOf, &r.UpheldBy, &r.ConflictedBy, &r.TriggeredBy, &r.Triggers}
}

// compactEdges turns the builder's lists into the plan's edges: one
// slice of names for all units and one of edges, exactly sized.
func compactEdges(deps map[string]*unit.Deps, rev map[string]*ReverseDeps) map[string]*edges {
	units, total := len(deps), 0
	for _, d := range deps {
		for _, l := range depLists(d) {
			total += len(*l)
		}
	}
	for name, r := range rev {
		if deps[name] == nil {
			units++
		}
		for _, l := range r.lists() {
			total += len(*l)
		}
	}
	out := make(map[string]*edges, units)
	slab := make([]edges, units)
	names := make([]string, 0, total)
	add := func(name string) {
		e := &slab[len(out)]
		out[name] = e
		var ls [numLists]*[]string // nil: empty
		if d := deps[name]; d != nil {
			copy(ls[:listRequiredBy], depLists(d))
		}
		if r := rev[name]; r != nil {
			copy(ls[listRequiredBy:], r.lists())
		}
		start := len(names)
		for l, p := range ls {
			if p != nil {
				names = append(names, *p...)
			}
			e.end[l] = uint32(len(names) - start)
		}
		e.names = names[start:len(names):len(names)]
	}
	for name := range deps {
		add(name)
	}
	for name := range rev {
		if deps[name] == nil {
			add(name)
		}
	}
	return out
}
