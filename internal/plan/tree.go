package plan

import (
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Tree is one node of a dependency tree, as list-dependencies prints it.
type Tree struct {
	Name string
	// Repeat marks a unit with dependencies of its own that was expanded
	// earlier in the tree, above or in another branch (a dependency loop
	// or a shared dependency); its children are not repeated, which keeps
	// the tree linear in the size of the graph.
	Repeat   bool
	Children []Tree
}

// TreeKind says which dependencies a tree follows.
type TreeKind int

// Kinds of dependency trees, as systemctl list-dependencies has them.
const (
	TreeRequires TreeKind = iota // Requires=, Requisite=, Wants=, BindsTo=, ConsistsOf
	TreeReverse                  // RequiredBy, RequisiteOf, WantedBy, BoundBy, PartOf=
	TreeAfter                    // After=: the units ordered before name (--after)
	TreeBefore                   // Before=: the units ordered after name (--before)
)

// DependencyTree returns the units name requires or wants (Requires=,
// Requisite=, Wants=, BindsTo=, and units that are PartOf= it), or with
// reverse the units that require or want it (RequiredBy, RequisiteOf,
// WantedBy, BoundBy, PartOf). As systemctl list-dependencies does, only
// targets are expanded further unless all is set. Children are sorted by
// name, targets after other units.
func (p *Plan) DependencyTree(name string, reverse, all bool) Tree {
	kind := TreeRequires
	if reverse {
		kind = TreeReverse
	}
	return p.DependencyTreeOf(name, kind, all)
}

// DependencyTreeOf is DependencyTree for any kind of dependency,
// including the ordering ones (implicit orderings included).
func (p *Plan) DependencyTreeOf(name string, kind TreeKind, all bool) Tree {
	name = p.canonical(name)
	return p.tree(name, kind, all, map[string]bool{}, true)
}

func (p *Plan) tree(name string, kind TreeKind, all bool, expanded map[string]bool, root bool) Tree {
	t := Tree{Name: name}
	if !root && !all && kindOf(name, p.units[name]) != unit.KindTarget {
		return t
	}
	children := p.treeChildren(name, kind)
	if expanded[name] {
		t.Repeat = len(children) > 0
		return t
	}
	expanded[name] = true
	for _, c := range children {
		t.Children = append(t.Children, p.tree(c, kind, all, expanded, false))
	}
	return t
}

func (p *Plan) treeChildren(name string, kind TreeKind) []string {
	var l []string
	e := p.edges[p.canonical(name)]
	switch kind {
	case TreeReverse:
		l = slices.Concat(e.get(listRequiredBy), e.get(listRequisiteOf), e.get(listWantedBy), e.get(listBoundBy),
			e.get(list(relPartOf)))
	case TreeAfter:
		l = slices.Clone(e.get(list(relAfter)))
	case TreeBefore:
		l = slices.Clone(e.get(list(relBefore)))
	default:
		l = slices.Concat(e.get(list(relRequires)), e.get(list(relRequisite)), e.get(list(relWants)), e.get(list(relBindsTo)),
			e.get(listConsistsOf))
	}
	sort.Slice(l, func(i, k int) bool {
		ti, tk := strings.HasSuffix(l[i], ".target"), strings.HasSuffix(l[k], ".target")
		if ti != tk {
			return tk
		}
		return l[i] < l[k]
	})
	return slices.Compact(l)
}

// StopOrder returns names in an order safe for stopping one by one: a
// unit ordered after another (After=) is stopped first. Names unknown to
// the plan keep their place relative to nothing and come last. Ordering
// cycles are broken as in [Plan.Transaction]; the returned warnings say
// how. For parallel shutdown use Transaction(Stop, names, Replace, …),
// whose jobs carry the same order as a graph.
func (p *Plan) StopOrder(names []string) (order []string, warnings []string) {
	b := &builder{p: p, mode: Replace, state: func(string) State { return Active },
		start: map[string]*tjob{}, stop: map[string]*tjob{}}
	var unknown []string
	for _, n := range names {
		n = p.canonical(n)
		if _, ok := p.units[n]; !ok {
			unknown = append(unknown, n)
			continue
		}
		if b.stop[n] != nil {
			continue
		}
		j := &tjob{unit: n, kind: Stop, anchor: true, required: true}
		b.stop[n] = j
		b.all = append(b.all, j)
	}
	t := b.finish()
	for _, j := range t.Jobs {
		order = append(order, j.Unit)
	}
	return append(order, unknown...), t.Warnings
}
