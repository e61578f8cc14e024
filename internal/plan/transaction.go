package plan

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Errors a transaction wraps so callers can tell why it was refused.
var (
	// ErrNotFound: a requested or required unit is not loaded.
	ErrNotFound = errors.New("unit not found")
	// ErrRefused: the request is not applicable (masked unit, unit managed
	// outside tend, reload of an inactive unit, isolate not allowed, …).
	ErrRefused = errors.New("refused")
	// ErrConflict: the transaction needs a unit both started and stopped
	// and neither job can be dropped.
	ErrConflict = errors.New("conflicting jobs")
)

// tjob is a job while the transaction is built.
type tjob struct {
	unit       string
	kind       JobKind
	anchor     bool
	required   bool
	dropped    bool   // removed: jobs that required it cannot run either
	noop       bool   // pruned as already done: it still satisfies requirements
	byConflict bool   // a stop job pulled in by Conflicts=
	pulls      []pull // jobs this job pulled in
}

type pull struct {
	to       *tjob
	required bool
}

// builder accumulates the jobs of one transaction.
type builder struct {
	p        *Plan
	mode     Mode
	state    func(string) State
	start    map[string]*tjob // start-like job per unit
	stop     map[string]*tjob // stop job per unit
	all      []*tjob          // creation order, for determinism
	queue    []*tjob          // jobs whose dependencies are not yet added
	expanded map[*tjob]JobKind
	skipped  map[string]string
	warnings []string
}

// Transaction turns a request for jobs of kind on the named units into an
// ordered set of jobs, following systemd.unit(5): starting pulls in
// Requires=, BindsTo=, Wants=, Upholds= (start jobs), Requisite=
// (verify-active jobs) and Conflicts= (stop jobs) transitively; stopping
// propagates to units that require, bind to or are part of the stopped
// unit; restarting propagates to them as try-restart. active tells each
// unit's current state; nil counts every unit as inactive. It decides
// try-restart and reload-or-restart, which units isolate stops, and drops
// pulled-in stop and reload jobs that would do nothing.
//
// Ordering follows After=/Before= between units that have jobs; a stop job
// runs before a start-like job of a unit it is ordered against, and stop
// jobs run in reverse start order. A restart job is ordered like a start
// job (its stop half cannot be ordered apart with one job per unit), so
// units ordered after a restarted unit restart after it. Ordering cycles
// are broken by dropping a job that does not matter to the request, or
// else one ordering edge, with a warning naming the cycle.
func (p *Plan) Transaction(kind JobKind, names []string, mode Mode, active func(name string) State) (*Transaction, error) {
	if active == nil {
		active = func(string) State { return Inactive }
	}
	b := &builder{
		p: p, mode: mode, state: active,
		start: map[string]*tjob{}, stop: map[string]*tjob{},
		expanded: map[*tjob]JobKind{}, skipped: map[string]string{},
	}
	if kind < Start || kind > VerifyActive {
		return nil, fmt.Errorf("unknown job kind %d: %w", int(kind), ErrRefused)
	}
	if mode < Replace || mode > IgnoreRequirements {
		return nil, fmt.Errorf("unknown job mode %d: %w", int(mode), ErrRefused)
	}
	if mode == Isolate && (kind != Start || len(names) != 1) {
		return nil, fmt.Errorf("isolate needs exactly one unit to start: %w", ErrRefused)
	}
	for _, n := range names {
		if err := b.addAnchor(kind, n); err != nil {
			return nil, err
		}
	}
	if err := b.expandAll(); err != nil {
		return nil, err
	}
	if mode == Isolate {
		if err := b.addIsolateStops(); err != nil {
			return nil, err
		}
	}
	b.markRequired()
	if err := b.resolveConflicts(); err != nil {
		return nil, err
	}
	b.prune()
	return b.finish(), nil
}

// addAnchor adds the job for one requested unit.
func (b *builder) addAnchor(kind JobKind, name string) error {
	p := b.p
	name = p.canonical(name)
	u, ok := p.units[name]
	if !ok {
		return fmt.Errorf("unit %s: %w", name, ErrNotFound)
	}
	if r, ext := p.External(name); ext {
		return fmt.Errorf("cannot %s %s: %s: %w", kind, name, r, ErrRefused)
	}
	if b.mode == Isolate && !p.allowIsolate[name] {
		return fmt.Errorf("cannot isolate %s: unit does not allow isolation: %w", name, ErrRefused)
	}
	up := b.state(name).up()
	switch kind {
	case TryRestart:
		if !up {
			b.skipped[name] = "not active"
			return nil
		}
		kind = Restart
	case ReloadOrRestart:
		switch {
		case !up:
			kind = Start
		case canReload(u):
			kind = Reload
		default:
			kind = Restart
		}
	case Reload:
		if !canReload(u) {
			return fmt.Errorf("cannot reload %s: unit does not support reloading: %w", name, ErrRefused)
		}
		if !up {
			return fmt.Errorf("cannot reload %s: unit is not active: %w", name, ErrRefused)
		}
	}
	if kind != Stop {
		if err := loadError(name, u); err != nil {
			return err
		}
	}
	j, err := b.addJob(name, kind, nil, true)
	if err != nil {
		return err
	}
	if j != nil {
		j.anchor = true
	}
	return nil
}

// canReload reports whether reload applies to the unit.
func canReload(u *unit.Unit) bool {
	return u.Service != nil && (len(u.Service.ExecReload) > 0 || u.Service.Type == unit.TypeNotifyReload)
}

// loadError explains why a unit that did not load cannot be started.
func loadError(name string, u *unit.Unit) error {
	switch u.Load {
	case unit.Loaded, "":
		return nil
	case unit.NotFound:
		return fmt.Errorf("unit %s: %w", name, ErrNotFound)
	case unit.Masked:
		return fmt.Errorf("unit %s is masked: %w", name, ErrRefused)
	case unit.BadSetting:
		return fmt.Errorf("unit %s has a bad unit file setting: %w", name, ErrRefused)
	default:
		return fmt.Errorf("unit %s failed to load: %w", name, ErrRefused)
	}
}

// addJob adds (or merges into) the job of kind for name, pulled in by
// from (nil for anchors). A unit that cannot get the job is an error when
// the pull is required and a skip otherwise; a nil job without error means
// skipped.
func (b *builder) addJob(name string, kind JobKind, from *tjob, required bool) (*tjob, error) {
	p := b.p
	name = p.canonical(name)
	if r, ext := p.External(name); ext {
		b.skipped[name] = r
		return nil, nil
	}
	u, ok := p.units[name]
	if kind == Stop {
		if !ok {
			return nil, nil // nothing loaded, nothing to stop
		}
	} else {
		// The error is made only for a unit that has one: a boot
		// transaction adds a job for every unit it pulls in.
		var err error
		if ok {
			err = loadError(name, u)
		} else {
			err = fmt.Errorf("unit %s: %w", name, ErrNotFound)
		}
		if err != nil {
			if required && from != nil {
				return nil, fmt.Errorf("%s needs %s: %w", from.unit, name, err)
			}
			if from != nil {
				b.skipped[name] = err.Error()
			}
			return nil, nil
		}
	}
	if kind == TryRestart {
		if !b.state(name).up() {
			return nil, nil
		}
		kind = Restart
	}
	jobs := b.start
	if kind == Stop {
		jobs = b.stop
	}
	j := jobs[name]
	if j == nil {
		j = &tjob{unit: name, kind: kind}
		jobs[name] = j
		b.all = append(b.all, j)
	} else {
		j.kind = mergeKinds(j.kind, kind)
	}
	if from != nil {
		from.pulls = append(from.pulls, pull{to: j, required: required})
	}
	if done, ok := b.expanded[j]; !ok || done != j.kind {
		b.queue = append(b.queue, j)
	}
	return j, nil
}

// mergeKinds merges two start-like job kinds for one unit, as systemd's
// job type merging does: the stronger operation wins.
func mergeKinds(a, b JobKind) JobKind {
	rank := [...]int{VerifyActive: 0, Start: 1, Reload: 2, Restart: 3}
	if a == Start && b == Reload || a == Reload && b == Start {
		return Restart // reload-or-start cannot be decided statically: restart covers both
	}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// expandAll adds the dependencies of queued jobs until none is left.
func (b *builder) expandAll() error {
	for len(b.queue) > 0 {
		j := b.queue[0]
		b.queue = b.queue[1:]
		if done, ok := b.expanded[j]; ok && done == j.kind {
			continue
		}
		b.expanded[j] = j.kind
		if b.mode == IgnoreDependencies || b.mode == IgnoreRequirements {
			continue
		}
		if err := b.expand(j); err != nil {
			return err
		}
	}
	return nil
}

// expand adds the jobs j pulls in.
func (b *builder) expand(j *tjob) error {
	// The plan's own lists, read only: Reverse's copies of them cost as
	// much as the lists are long, and sysinit.target's is every unit.
	e := b.p.edges[b.p.canonical(j.unit)]
	type want struct {
		names    []string
		kind     JobKind
		required bool
	}
	var wants []want
	dependents := func(kind JobKind) []want {
		return []want{{e.get(listRequiredBy), kind, true}, {e.get(listBoundBy), kind, true},
			{e.get(listRequisiteOf), kind, true}, {e.get(listConsistsOf), kind, true}}
	}
	switch j.kind {
	case Start, Restart:
		wants = append(wants,
			want{e.get(list(relRequires)), Start, true}, want{e.get(list(relBindsTo)), Start, true},
			want{e.get(list(relRequisite)), VerifyActive, true},
			want{e.get(list(relWants)), Start, false}, want{e.get(list(relUpholds)), Start, false},
			want{e.get(list(relConflicts)), Stop, true})
		if j.kind == Restart {
			wants = append(wants, dependents(TryRestart)...)
		}
	case Stop:
		wants = append(wants, dependents(Stop)...)
	case Reload:
		wants = append(wants, want{e.get(list(relPropagatesReloadTo)), Reload, false})
	}
	for _, w := range wants {
		for _, n := range w.names {
			nj, err := b.addJob(n, w.kind, j, w.required)
			if err != nil {
				return err
			}
			if nj != nil && w.kind == Stop && j.kind != Stop {
				nj.byConflict = true
			}
		}
	}
	return nil
}

// addIsolateStops stops every unit the isolated target does not pull in,
// except units with IgnoreOnIsolate=yes, units managed elsewhere, units
// that are not up, and units triggered by a unit being kept.
func (b *builder) addIsolateStops() error {
	for _, name := range b.p.names {
		if b.start[name] != nil || b.p.ignoreOnIsolate[name] || !b.state(name).up() {
			continue
		}
		if _, ext := b.p.External(name); ext {
			continue
		}
		if slices.ContainsFunc(b.p.Reverse(name).TriggeredBy, func(t string) bool { return b.start[t] != nil }) {
			continue
		}
		anchor := b.anchor()
		if _, err := b.addJob(name, Stop, anchor, true); err != nil {
			return err
		}
	}
	return b.expandAll()
}

func (b *builder) anchor() *tjob {
	for _, j := range b.all {
		if j.anchor {
			return j
		}
	}
	return nil
}

// markRequired computes which jobs matter to an anchor.
func (b *builder) markRequired() {
	var stack []*tjob
	for _, j := range b.all {
		j.required = false
		if j.anchor && !j.dropped {
			j.required = true
			stack = append(stack, j)
		}
	}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, pl := range j.pulls {
			if pl.required && !pl.to.required && !pl.to.dropped {
				pl.to.required = true
				stack = append(stack, pl.to)
			}
		}
	}
}

// resolveConflicts settles units that got both a start-like and a stop
// job: the one that does not matter to the request is dropped (preferring
// to keep starts, unless the stop comes from Conflicts=); when both matter
// the transaction fails.
func (b *builder) resolveConflicts() error {
	names := make([]string, 0)
	for n := range b.stop {
		if b.start[n] != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		s, t := b.start[n], b.stop[n]
		if s.dropped || t.dropped {
			continue
		}
		var drop *tjob
		switch {
		case !s.required && !t.required:
			drop = t
			if t.byConflict {
				drop = s
			}
		case !t.required:
			drop = t
		case !s.required:
			drop = s
		default:
			return fmt.Errorf("transaction contains conflicting jobs %s and stop for %s; probably contradicting requirement dependencies: %w",
				s.kind, n, ErrConflict)
		}
		msg := fmt.Sprintf("conflicting jobs for %s: dropped %s job", n, drop.kind)
		if by := b.pulledBy(drop); len(by) > 0 {
			msg += " pulled in by " + strings.Join(by, ", ")
		}
		if also := b.drop(drop); len(also) > 0 {
			msg += ", and with it " + strings.Join(also, ", ")
		}
		b.warnings = append(b.warnings, msg)
	}
	return nil
}

// pulledBy names the units whose jobs pulled j in.
func (b *builder) pulledBy(j *tjob) []string {
	var by []string
	for _, k := range b.all {
		if k != j && slices.ContainsFunc(k.pulls, func(pl pull) bool { return pl.to == j }) {
			by = append(by, k.unit)
		}
	}
	return by
}

// drop removes j, the jobs that required it (they cannot succeed without
// it) and then every job no longer reachable from an anchor. It returns
// the other jobs it dropped, as "kind of unit".
func (b *builder) drop(j *tjob) []string {
	before := map[*tjob]bool{}
	for _, k := range b.all {
		before[k] = k.dropped
	}
	j.dropped = true
	for changed := true; changed; {
		changed = false
		for _, k := range b.all {
			if k.dropped || k.anchor {
				continue
			}
			if slices.ContainsFunc(k.pulls, func(pl pull) bool { return pl.required && pl.to.dropped }) {
				k.dropped, changed = true, true
			}
		}
	}
	reach := map[*tjob]bool{}
	var stack []*tjob
	for _, k := range b.all {
		if k.anchor && !k.dropped {
			reach[k] = true
			stack = append(stack, k)
		}
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, pl := range k.pulls {
			if !pl.to.dropped && !reach[pl.to] {
				reach[pl.to] = true
				stack = append(stack, pl.to)
			}
		}
	}
	var also []string
	for _, k := range b.all {
		if !reach[k] {
			k.dropped = true
		}
		if k != j && k.dropped && !before[k] && !k.noop {
			also = append(also, k.kind.String()+" of "+k.unit)
		}
	}
	b.markRequired()
	return also
}

// prune drops pulled-in jobs that would do nothing: stops of units that
// are already down and reloads of units that are not up. In Fail mode it
// also drops jobs that do not matter to the request and would take a
// running unit down, as systemd minimises the impact of such a request.
func (b *builder) prune() {
	if b.mode == Fail {
		for _, j := range b.all {
			if !j.dropped && !j.required && (j.kind == Stop || j.kind == Restart) && b.state(j.unit).up() {
				b.drop(j)
			}
		}
	}
	for _, j := range b.all {
		if j.dropped || j.anchor {
			continue
		}
		st := b.state(j.unit)
		switch {
		case j.kind == Stop && (st == Inactive || st == Failed || st == ""):
			j.noop = true
		case j.kind == Reload && !st.up():
			j.noop = true
		}
	}
}
