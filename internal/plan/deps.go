package plan

import (
	"slices"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// rel names one list of unit.Deps for the graph builder.
type rel int

const (
	relRequires rel = iota
	relRequisite
	relWants
	relBindsTo
	relPartOf
	relUpholds
	relConflicts
	relAfter
	relBefore
	relOnFailure
	relOnSuccess
	relPropagatesReloadTo
	relReloadPropagatedFrom
	relTriggers // not a Deps list: recorded in ReverseDeps only
)

// list returns the list of d that r names (nil for relTriggers).
func (r rel) list(d *unit.Deps) *[]string {
	switch r {
	case relRequires:
		return &d.Requires
	case relRequisite:
		return &d.Requisite
	case relWants:
		return &d.Wants
	case relBindsTo:
		return &d.BindsTo
	case relPartOf:
		return &d.PartOf
	case relUpholds:
		return &d.Upholds
	case relConflicts:
		return &d.Conflicts
	case relAfter:
		return &d.After
	case relBefore:
		return &d.Before
	case relOnFailure:
		return &d.OnFailure
	case relOnSuccess:
		return &d.OnSuccess
	case relPropagatesReloadTo:
		return &d.PropagatesReloadTo
	case relReloadPropagatedFrom:
		return &d.ReloadPropagatedFrom
	}
	return nil
}

// graphBuilder fills a plan's effective dependencies, each edge once.
type graphBuilder struct {
	p *Plan
	// deps and rev are the lists as they grow, the plan's edges once
	// built (compactEdges).
	deps map[string]*unit.Deps
	rev  map[string]*ReverseDeps
	// ids numbers every unit name an edge mentions, so that an edge is
	// one integer: a set keyed by two names and a relation hashed both
	// names on every link and was the larger part of building a plan.
	ids  map[string]uint32
	seen map[uint64]struct{} // edges, see key
	// from, fromID and fromDeps are the last edge's origin: a unit's
	// edges come one after the other.
	from     string
	fromID   uint32
	fromDeps *unit.Deps
	// slab is where a dependency list gets its first slots: a list
	// appended to from nil grew two or three times, the most of the
	// allocations of building a plan.
	slab []string
}

// id returns name's number, giving it one if it has none.
func (g *graphBuilder) id(name string) uint32 {
	n, ok := g.ids[name]
	if !ok {
		n = uint32(len(g.ids))
		g.ids[name] = n
	}
	return n
}

// key is the edge from→to of relation r as one integer: two 30-bit
// numbers and the relation in the low bits.
func (g *graphBuilder) key(from string, r rel, to string) uint64 {
	if from != g.from {
		g.from, g.fromID, g.fromDeps = from, g.id(from), g.deps[from]
	}
	return uint64(g.fromID)<<34 | uint64(g.id(to))<<4 | uint64(r)
}

// slabSlots is how many slots a dependency list starts with.
const slabSlots = 4

// appendTo appends name to l, giving an empty list its first slots from
// the slab.
func (g *graphBuilder) appendTo(l *[]string, name string) {
	if cap(*l) == 0 {
		if len(g.slab) < slabSlots {
			g.slab = make([]string, 256*slabSlots)
		}
		*l = g.slab[:0:slabSlots]
		g.slab = g.slab[slabSlots:]
	}
	*l = append(*l, name)
}

// has reports whether the edge from→to of relation r was added.
func (g *graphBuilder) has(from string, r rel, to string) bool {
	_, ok := g.seen[g.key(from, r, to)]
	return ok
}

// buildDeps computes the effective dependencies of every loaded unit.
func (p *Plan) buildDeps() {
	// Sized for the edges of a typical unit (its own, their reverse and
	// the implicit ones): growing the set a step at a time was a third
	// of building a plan of a thousand units.
	g := &graphBuilder{p: p, ids: make(map[string]uint32, len(p.names)+16), seen: make(map[uint64]struct{}, 16*len(p.names)),
		deps: make(map[string]*unit.Deps, len(p.names)), rev: make(map[string]*ReverseDeps, len(p.names))}
	// No unit is called "\x00": key's cache of the origin starts empty.
	g.from = "\x00"
	deps := make([]unit.Deps, len(p.names)) // one allocation, not one per unit
	for i, name := range p.names {
		g.deps[name] = &deps[i]
		g.id(name)
	}
	for _, name := range p.names {
		u := p.units[name]
		if u.Deps != nil {
			for r, l := range depLists(u.Deps) {
				for _, to := range *l {
					g.add(name, rel(r), to)
				}
			}
		}
		p.readFlags(name, u)
		if u.Load == unit.Loaded || u.Load == "" {
			// systemd adds implicit dependencies only to units that loaded.
			p.addImplicit(name, u, g.add)
		}
	}
	// Targets are ordered after what they pull in, once every other edge
	// is known so the loop check sees them all.
	for _, name := range p.names {
		if kindOf(name, p.units[name]) == unit.KindTarget {
			g.addTargetOrdering(name)
		}
	}
	for _, d := range g.deps {
		for _, l := range depLists(d) {
			slices.Sort(*l)
		}
	}
	for _, r := range g.rev {
		for _, l := range r.lists() {
			slices.Sort(*l)
		}
	}
	p.edges = compactEdges(g.deps, g.rev)
}

// add records from→to and the other side it implies: the mirror list of
// a symmetric relation, or the reverse requirement.
func (g *graphBuilder) add(from string, r rel, to string) {
	p := g.p
	to = p.canonical(to)
	if from == to {
		p.log.Debug("ignoring dependency on itself", "unit", from, "dependency", to)
		return
	}
	if !g.link(from, r, to) {
		return
	}
	switch r {
	case relAfter:
		g.link(to, relBefore, from)
	case relBefore:
		g.link(to, relAfter, from)
	case relConflicts:
		g.link(to, relConflicts, from)
	case relPropagatesReloadTo:
		g.link(to, relReloadPropagatedFrom, from)
	case relReloadPropagatedFrom:
		g.link(to, relPropagatesReloadTo, from)
	case relTriggers:
		g.revOf(from).Triggers = append(g.revOf(from).Triggers, to)
	}
	// Only these relations have a reverse entry: a unit that is merely
	// ordered against gets none (every user of the map expects that).
	if l := r.reverse(g, to); l != nil {
		*l = append(*l, from)
	}
}

// reverse returns the list of to's reverse dependencies that an edge of
// relation r to it joins, or nil for a relation with none.
func (r rel) reverse(g *graphBuilder, to string) *[]string {
	switch r {
	case relConflicts:
		return &g.revOf(to).ConflictedBy
	case relRequires:
		return &g.revOf(to).RequiredBy
	case relRequisite:
		return &g.revOf(to).RequisiteOf
	case relWants:
		return &g.revOf(to).WantedBy
	case relBindsTo:
		return &g.revOf(to).BoundBy
	case relPartOf:
		return &g.revOf(to).ConsistsOf
	case relUpholds:
		return &g.revOf(to).UpheldBy
	case relTriggers:
		return &g.revOf(to).TriggeredBy
	}
	return nil
}

// link appends to to from's list r unless it is there, and reports
// whether the edge is new. Edges from units that are not loaded are
// recorded as seen but have no list to go to.
func (g *graphBuilder) link(from string, r rel, to string) bool {
	// One hash of the edge instead of a lookup and an insert: the set's
	// lookups were a fifth of BenchmarkNew's CPU.
	n := len(g.seen)
	g.seen[g.key(from, r, to)] = struct{}{}
	if len(g.seen) == n {
		return false
	}
	// key left from's lists in fromDeps (nil for a unit not loaded).
	if d := g.fromDeps; d != nil && r != relTriggers {
		g.appendTo(r.list(d), to)
	}
	return true
}

func (g *graphBuilder) revOf(name string) *ReverseDeps {
	r, ok := g.rev[name]
	if !ok {
		r = &ReverseDeps{}
		g.rev[name] = r
	}
	return r
}

// readFlags reads the unit settings the plan needs from Entries.
func (p *Plan) readFlags(name string, u *unit.Unit) {
	if u.Path != "" || len(u.Entries) > 0 {
		if entryBool(u, "Unit", "AllowIsolate") {
			p.allowIsolate[name] = true
		}
		if entryBool(u, "Unit", "IgnoreOnIsolate") {
			p.ignoreOnIsolate[name] = true
		}
	}
	if r, ok := externalReason(name, u); ok {
		p.external[name] = r
	}
}

// addImplicit adds the dependencies systemd adds by unit kind (see the
// "Implicit Dependencies" and "Default Dependencies" sections of
// systemd.service(5), systemd.socket(5), systemd.timer(5), systemd.path(5)
// and systemd.target(5)).
func (p *Plan) addImplicit(name string, u *unit.Unit, add func(string, rel, string)) {
	defaults := u.DefaultDependencies
	kind := kindOf(name, u)
	if defaults && kind != unit.KindTarget {
		if kind == unit.KindService || kind == unit.KindSocket || kind == unit.KindTimer || kind == unit.KindPath {
			add(name, relRequires, "sysinit.target")
			add(name, relAfter, "sysinit.target")
		}
		add(name, relConflicts, "shutdown.target")
		add(name, relBefore, "shutdown.target")
	}
	switch kind {
	case unit.KindService:
		if defaults {
			add(name, relAfter, "basic.target")
		}
		if u.Service != nil {
			for _, s := range u.Service.Sockets {
				add(name, relWants, s)
				add(name, relAfter, s)
			}
			if u.Service.Type == unit.TypeDBus {
				add(name, relRequires, "dbus.socket")
				add(name, relAfter, "dbus.socket")
			}
		}
	case unit.KindSocket:
		if defaults {
			add(name, relBefore, "sockets.target")
		}
		p.addTrigger(name, u, "Socket", "Service", add)
	case unit.KindTimer:
		if defaults {
			add(name, relBefore, "timers.target")
			if _, ok := entry(u, "Timer", "OnCalendar"); ok {
				add(name, relAfter, "time-set.target")
				add(name, relAfter, "time-sync.target")
			}
		}
		p.addTrigger(name, u, "Timer", "Unit", add)
	case unit.KindPath:
		if defaults {
			add(name, relBefore, "paths.target")
		}
		p.addTrigger(name, u, "Path", "Unit", add)
	case unit.KindTarget:
		if defaults {
			add(name, relConflicts, "shutdown.target")
			add(name, relBefore, "shutdown.target")
		}
	}
}

// addTrigger records the unit a socket, timer or path activates (its
// section's key, else the unit of the same name with .service) and orders
// the trigger before it. A socket with Accept=yes spawns instances of a
// template, which no unit is ordered against.
func (p *Plan) addTrigger(name string, u *unit.Unit, section, key string, add func(string, rel, string)) {
	target, ok := entry(u, section, key)
	if !ok {
		prefix := strings.TrimSuffix(name, "."+string(kindOf(name, u)))
		if section == "Socket" && entryBool(u, "Socket", "Accept") {
			return
		}
		target = prefix + ".service"
	}
	add(name, relTriggers, target)
	add(name, relBefore, target)
}

// addTargetOrdering orders a target after the units it Wants= or
// Requires=, unless either side has DefaultDependencies=no, the other unit
// is not loaded, or the unit is already ordered after the target (which
// would make a loop).
func (g *graphBuilder) addTargetOrdering(name string) {
	p := g.p
	if !p.units[name].DefaultDependencies {
		return
	}
	d := g.deps[name]
	for _, dep := range slices.Concat(d.Wants, d.Requires) {
		u, ok := p.units[dep]
		if !ok || u.Load != unit.Loaded || !u.DefaultDependencies || g.has(name, relBefore, dep) {
			continue
		}
		g.add(name, relAfter, dep)
	}
}
