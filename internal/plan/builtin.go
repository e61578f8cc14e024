package plan

import "github.com/tendproject/tend/internal/unit"

// builtin describes a target tend provides when no unit file defines it,
// modelled on the targets systemd ships (see systemd.special(7)).
type builtin struct {
	desc          string
	noDefaultDeps bool // DefaultDependencies=no
	allowIsolate  bool
	refuseManual  bool // RefuseManualStart=yes
	deps          unit.Deps
}

// builtins returns the table of built-in targets. It is a function rather
// than a package variable so no mutable state is shared between plans.
func builtins() map[string]builtin {
	rescueConflicts := []string{"rescue.target"}
	return map[string]builtin{
		"multi-user.target": {desc: "Multi-User System", allowIsolate: true, deps: unit.Deps{
			Requires: []string{"basic.target"}, Conflicts: rescueConflicts,
			After: []string{"basic.target", "rescue.target"}}},
		"graphical.target": {desc: "Graphical Interface", allowIsolate: true, deps: unit.Deps{
			Requires: []string{"multi-user.target"}, Conflicts: rescueConflicts,
			After: []string{"multi-user.target", "rescue.target"}}},
		"rescue.target": {desc: "Rescue Mode", allowIsolate: true, deps: unit.Deps{
			Requires: []string{"sysinit.target"}, After: []string{"sysinit.target"}}},
		"emergency.target": {desc: "Emergency Mode", allowIsolate: true},
		"basic.target": {desc: "Basic System", deps: unit.Deps{
			Requires: []string{"sysinit.target"},
			Wants:    []string{"sockets.target", "timers.target", "paths.target", "slices.target"},
			After:    []string{"sysinit.target", "sockets.target", "paths.target", "slices.target"}}},
		"sysinit.target": {desc: "System Initialization", noDefaultDeps: true, deps: unit.Deps{
			Wants:     []string{"local-fs.target", "swap.target"},
			After:     []string{"local-fs.target", "swap.target", "emergency.target"},
			Conflicts: []string{"emergency.target"}}},
		"sockets.target":      {desc: "Sockets"},
		"timers.target":       {desc: "Timers"},
		"paths.target":        {desc: "Path Units"},
		"slices.target":       {desc: "Slice Units"},
		"swap.target":         {desc: "Swaps"},
		"getty.target":        {desc: "Login Prompts"},
		"cryptsetup.target":   {desc: "Local Encrypted Volumes"},
		"local-fs-pre.target": {desc: "Preparation for Local File Systems", noDefaultDeps: true},
		"local-fs.target": {desc: "Local File Systems", noDefaultDeps: true, deps: unit.Deps{
			After: []string{"local-fs-pre.target"}, Conflicts: []string{"shutdown.target"}}},
		"remote-fs-pre.target": {desc: "Preparation for Remote File Systems"},
		"remote-fs.target": {desc: "Remote File Systems", deps: unit.Deps{
			After: []string{"remote-fs-pre.target"}}},
		"network-pre.target": {desc: "Preparation for Network", noDefaultDeps: true},
		"network.target": {desc: "Network", deps: unit.Deps{
			After: []string{"network-pre.target"}}},
		"network-online.target": {desc: "Network is Online", deps: unit.Deps{
			Requires: []string{"network.target"}, After: []string{"network.target"}}},
		"nss-lookup.target":      {desc: "Host and Network Name Lookups"},
		"nss-user-lookup.target": {desc: "User and Group Name Lookups"},
		"time-set.target":        {desc: "System Time Set", noDefaultDeps: true},
		"time-sync.target":       {desc: "System Time Synchronized", noDefaultDeps: true},
		"shutdown.target":        {desc: "System Shutdown", noDefaultDeps: true, refuseManual: true},
		// systemd reaches these through systemd-poweroff.service and
		// friends, which are its own; tend pulls in shutdown.target
		// directly, whose Conflicts= stop every unit with default
		// dependencies, in reverse order, before the target is reached.
		"poweroff.target": {desc: "System Power Off", noDefaultDeps: true, allowIsolate: true, deps: shutdownDeps()},
		"reboot.target":   {desc: "System Reboot", noDefaultDeps: true, allowIsolate: true, deps: shutdownDeps()},
		"halt.target":     {desc: "System Halt", noDefaultDeps: true, allowIsolate: true, deps: shutdownDeps()},
		"kexec.target":    {desc: "System Reboot via kexec", noDefaultDeps: true, allowIsolate: true, deps: shutdownDeps()},
	}
}

// shutdownDeps are the dependencies of the targets that end the system.
func shutdownDeps() unit.Deps {
	return unit.Deps{Requires: []string{"shutdown.target"}, After: []string{"shutdown.target"}}
}

// addBuiltins adds the built-in targets missing from p.units and resolves
// default.target.
func (p *Plan) addBuiltins(defaultTarget string) {
	for name, b := range builtins() {
		if _, ok := p.aliases[name]; ok {
			continue
		}
		deps := b.deps
		if u, ok := p.units[name]; ok {
			if u.Load != unit.NotFound {
				continue
			}
			// No file, but .wants/ or .requires/ links gave it
			// dependencies: keep them on top of the built-in ones.
			deps = mergeDeps(b.deps, u.Dependencies())
		}
		p.units[name] = &unit.Unit{
			Name:                name,
			Kind:                unit.KindTarget,
			Load:                unit.Loaded,
			Description:         b.desc,
			Deps:                &deps,
			DefaultDependencies: !b.noDefaultDeps,
			RefuseManualStart:   b.refuseManual,
		}
		if b.allowIsolate {
			p.allowIsolate[name] = true
		}
	}
	if _, ok := p.units["default.target"]; ok {
		return
	}
	if _, ok := p.aliases["default.target"]; ok {
		return
	}
	if defaultTarget == "" {
		defaultTarget = "multi-user.target"
	}
	p.aliases["default.target"] = p.canonical(defaultTarget)
}

// mergeDeps returns the union of two dependency sets.
func mergeDeps(a, b unit.Deps) unit.Deps {
	m := cloneDeps(&a)
	lb := depLists(&b)
	for i, l := range depLists(&m) {
		*l = append(*l, *lb[i]...)
	}
	return m
}
