// Package plan holds the loaded set of units as an immutable value: the
// effective dependency graph (explicit, implicit and reverse sides), the
// transactions that turn a start or stop request into ordered jobs, cycle
// breaking, and the difference between two plans for daemon-reload.
//
// A Plan never changes after [New]; a reload builds a new one. It is safe
// for concurrent use.
//
// Targets systemd ships (multi-user.target, sysinit.target,
// network-online.target, shutdown.target, poweroff.target, …) exist even
// when no file defines them, as synthetic units, so unit files written
// for systemd find what they are ordered against. Units that only
// systemd or the kernel can provide are "external": see [Plan.External]
// for the rule. Transactions give them no jobs and treat dependencies on
// them as met.
package plan

import (
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Options configure [New].
type Options struct {
	// Logger receives load-time notes, such as ignored dependencies of a
	// unit on itself. Nil discards them.
	Logger *slog.Logger
	// DefaultTarget is what default.target stands for when no
	// default.target is loaded; "" means multi-user.target.
	DefaultTarget string
}

// ReverseDeps are the reverse sides of the requirement dependencies of one
// unit: who pulls it in or is bound to it.
type ReverseDeps struct {
	RequiredBy   []string // units that Requires= it
	RequisiteOf  []string // units that Requisite= it
	WantedBy     []string // units that Wants= it (incl. .wants/ links loaded as Wants=)
	BoundBy      []string // units that BindsTo= it
	ConsistsOf   []string // units that are PartOf= it
	UpheldBy     []string // units that Upholds= it
	ConflictedBy []string // units that Conflicts= it
	TriggeredBy  []string // sockets, timers and paths that activate it
	Triggers     []string // units this socket, timer or path activates
}

// Plan is an immutable set of loaded units with their effective
// dependencies.
type Plan struct {
	log     *slog.Logger
	units   map[string]*unit.Unit // canonical name → unit, incl. synthetic ones
	aliases map[string]string     // alias → canonical name
	names   []string              // sorted canonical names
	// edges are the effective dependencies and reverse dependencies,
	// by canonical name (edges.go); nil for a name with none.
	edges map[string]*edges
	// allowIsolate and ignoreOnIsolate are read once from Entries (or set
	// for built-in targets).
	allowIsolate    map[string]bool
	ignoreOnIsolate map[string]bool
	external        map[string]string // name → reason it is not tend's to run
}

// New builds a plan from loaded units. Keys of units may be canonical
// names or aliases; a key that differs from the unit's Name is taken as an
// alias. Built-in targets absent from units are added as synthetic units
// (Load=loaded, no Path). The units are not modified.
func New(units map[string]*unit.Unit, opts Options) *Plan {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plan{
		log:             log,
		units:           make(map[string]*unit.Unit, len(units)),
		aliases:         make(map[string]string),
		allowIsolate:    make(map[string]bool),
		ignoreOnIsolate: make(map[string]bool),
		external:        make(map[string]string),
	}
	for key, u := range units {
		if u == nil {
			continue
		}
		name := u.Name
		if name == "" {
			name = key
		}
		p.units[name] = u
		if key != name {
			p.aliases[key] = name
		}
	}
	for name, u := range p.units {
		for _, a := range u.Aliases {
			if _, real := p.units[a]; !real && a != name {
				p.aliases[a] = name
			}
		}
	}
	p.addBuiltins(opts.DefaultTarget)
	for name := range p.units {
		p.names = append(p.names, name)
	}
	sort.Strings(p.names)
	p.buildDeps()
	return p
}

// Unit returns the unit called name, resolving aliases.
func (p *Plan) Unit(name string) (*unit.Unit, bool) {
	u, ok := p.units[p.canonical(name)]
	return u, ok
}

// Canonical returns the canonical name of a unit or alias; names the plan
// does not know are returned unchanged.
func (p *Plan) Canonical(name string) string { return p.canonical(name) }

func (p *Plan) canonical(name string) string {
	if c, ok := p.aliases[name]; ok {
		return c
	}
	return name
}

// Names returns the canonical names of all units, sorted.
func (p *Plan) Names() []string { return slices.Clone(p.names) }

// Len is the number of units in the plan.
func (p *Plan) Len() int { return len(p.names) }

// Deps returns the effective dependencies of a unit: its own, the implicit
// ones (DefaultDependencies=, triggers) and the sides other units imply:
// Before= of another unit shows here as After= and vice versa, Conflicts=
// and PropagatesReloadTo=/ReloadPropagatedFrom= are made symmetric. Names
// are canonical. Unknown units have none.
func (p *Plan) Deps(name string) unit.Deps {
	return p.edges[p.canonical(name)].deps()
}

// Reverse returns who requires, wants, binds to, is part of or triggers
// the unit. Names are canonical, sorted.
func (p *Plan) Reverse(name string) ReverseDeps {
	return p.edges[p.canonical(name)].reverse()
}

// External reports whether tend leaves the unit to someone else, and why.
//
// The rule: tend supervises services, sockets, timers and targets. Units
// of other kinds (mount, device, swap, slice, scope, automount, path) are
// the kernel's, the system's or another manager's: they are assumed active
// and get no jobs. Units named systemd-* and services whose every
// ExecStart= runs a program from systemd's library directory are systemd's
// own machinery (journald, udevd, logind, …), which tend replaces or which
// need systemd as PID 1; they are skipped the same way. Dependencies on
// external units are satisfied trivially and reported in
// Transaction.Skipped.
func (p *Plan) External(name string) (reason string, ok bool) {
	name = p.canonical(name)
	if r, ok := p.external[name]; ok {
		return r, true
	}
	return externalReason(name, nil)
}

// AllowIsolate reports whether the unit may be isolated (AllowIsolate=).
func (p *Plan) AllowIsolate(name string) bool { return p.allowIsolate[p.canonical(name)] }

// externalReason applies the rule of [Plan.External] to one unit (u may
// be nil for units that are not loaded).
func externalReason(name string, u *unit.Unit) (string, bool) {
	switch k := kindOf(name, u); k {
	case unit.KindService, unit.KindSocket, unit.KindTimer, unit.KindTarget, unit.KindSvdir:
	default:
		return string(k) + " units are managed outside tend", true
	}
	if strings.HasPrefix(name, "systemd-") {
		return "provided by systemd", true
	}
	if u != nil && u.Service != nil && len(u.Service.ExecStart) > 0 {
		for _, c := range u.Service.ExecStart {
			if !systemdProgram(c.Path) {
				return "", false
			}
		}
		return "provided by systemd", true
	}
	return "", false
}

// systemdProgram reports whether path is one of systemd's internal
// programs, e.g. /lib/systemd/systemd-journald.
func systemdProgram(path string) bool {
	for _, dir := range []string{"/lib/systemd/", "/usr/lib/systemd/"} {
		if rest, ok := strings.CutPrefix(path, dir); ok && strings.HasPrefix(rest, "systemd-") {
			return true
		}
	}
	return false
}

// kindOf returns the unit's kind, from the unit if set, else from the
// name's suffix.
func kindOf(name string, u *unit.Unit) unit.Kind {
	if u != nil && u.Kind != "" {
		return u.Kind
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return unit.Kind(name[i+1:])
	}
	return ""
}

// entry returns the last value of key in section of u's entries; an empty
// assignment resets, as in unit files.
func entry(u *unit.Unit, section, key string) (string, bool) {
	val, found := "", false
	for _, e := range u.Entries {
		if e.Section == section && e.Key == key {
			val, found = e.Value, e.Value != ""
		}
	}
	return val, found
}

// entryBool reads a boolean entry the way unit files spell booleans.
func entryBool(u *unit.Unit, section, key string) bool {
	v, _ := entry(u, section, key)
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}

func cloneDeps(d *unit.Deps) unit.Deps {
	c := *d
	for _, l := range depLists(&c) {
		*l = slices.Clone(*l)
	}
	return c
}

// depLists returns pointers to every list of d, for bulk operations.
func depLists(d *unit.Deps) []*[]string {
	return []*[]string{&d.Requires, &d.Requisite, &d.Wants, &d.BindsTo, &d.PartOf,
		&d.Upholds, &d.Conflicts, &d.After, &d.Before, &d.OnFailure, &d.OnSuccess,
		&d.PropagatesReloadTo, &d.ReloadPropagatedFrom}
}
