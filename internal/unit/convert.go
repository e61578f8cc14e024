package unit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/sandbox"
)

// Defaults from systemd-system.conf(5) that typed units start from.
const (
	DefaultTimeout            = 90 * time.Second
	DefaultRestartSec         = 100 * time.Millisecond
	DefaultStartLimitInterval = 10 * time.Second
	DefaultStartLimitBurst    = 5
)

// converter turns the raw entries of one unit into its typed form.
type converter struct {
	u    *Unit
	spec specCtx
	// warnedSections avoids repeating "unknown section" per line.
	warnedSections map[string]bool
	successAction  bool
	abortSet       bool // TimeoutAbortSec= given; else it follows TimeoutStopSec=

	// The settings a service rarely has are typed in rare (made on the
	// first line that may be one) and kept only when one of them was
	// given (see finishService).
	rare                        *rareSettings
	sandboxSet, procSet, resSet bool
	// nameSets index the long dependency lists (a target that wants a
	// thousand units) for names, which checks each new name against
	// the list: linear per name, quadratic per list without them.
	nameSets map[*[]string]map[string]struct{}
}

// longList is the length from which names indexes a list.
const longList = 32

// rareSettings is where a service's sandboxing, process and resource
// settings are typed before finishService keeps those given.
type rareSettings struct {
	sandbox sandbox.Config
	proc    ProcContext
	res     ResourceContext
}

func (c *converter) rareSettings() *rareSettings {
	if c.rare == nil {
		c.rare = &rareSettings{}
	}
	return c.rare
}

// used notes in *set that a setting of a group was given.
func used(handled bool, set *bool) bool {
	*set = *set || handled
	return handled
}

// newUnit returns a unit with systemd's defaults for its kind.
func newUnit(name string) *Unit {
	prefix, inst, kind := SplitName(name)
	u := &Unit{
		Name: name, Kind: kind, Load: Loaded,
		DefaultDependencies: true,
		StartLimitInterval:  DefaultStartLimitInterval,
		StartLimitBurst:     DefaultStartLimitBurst,
		StartLimitAction:    "none",
	}
	if inst != "" || strings.Contains(name, "@") {
		u.Template, u.Instance = prefix+"@."+string(kind), inst
		if inst == "" {
			u.Template = ""
		}
	}
	if kind == KindService {
		u.Service = &Service{
			Restart:      RestartNo,
			RestartSec:   DefaultRestartSec,
			TimeoutStart: DefaultTimeout,
			TimeoutStop:  DefaultTimeout,
			TimeoutAbort: DefaultTimeout,
			RuntimeMax:   Infinity,
			GuessMainPID: true,
			Kill: KillContext{
				Mode: KillControlGroup, Signal: 15, FinalKillSignal: 9,
				WatchdogSignal: 6, SendSIGKILL: true,
			},
			Exec: ExecContext{
				UMask: 0o022, SyslogLevelPrefix: true,
				RuntimeDirectory: DirSpec{Mode: 0o755}, StateDirectory: DirSpec{Mode: 0o755},
				CacheDirectory: DirSpec{Mode: 0o755}, LogsDirectory: DirSpec{Mode: 0o755},
				ConfigurationDirectory: DirSpec{Mode: 0o755}, RuntimeDirectoryPreserve: "no",
			},
		}
	}
	return u
}

// convert applies entries to u in order and then checks the result the
// way systemd does when it finishes loading a unit.
func convert(u *Unit, entries []Entry, env *Env) {
	c := &converter{u: u, spec: specCtx{env: env, name: u.Name, fragment: u.Path}, warnedSections: map[string]bool{}}
	for _, e := range entries {
		c.entry(e)
	}
	c.finish()
}

func (c *converter) diag(e Entry, sev Severity, format string, args ...any) {
	c.u.Diags = append(c.u.Diags, Diag{File: e.File, Line: e.Line, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}

// bad reports a directive that is dropped.
func (c *converter) bad(e Entry, err error) {
	c.diag(e, Error, "%s=%s: %v, ignoring", e.Key, e.Value, err)
}

// fatal reports a directive systemd treats as a fatal configuration
// error: it is dropped and the unit becomes bad-setting.
func (c *converter) fatal(e Entry, err error) {
	c.diag(e, Error, "%s=%s: %v; unit will not be started", e.Key, e.Value, err)
	c.u.Load = BadSetting
}

// expand resolves specifiers in e's value, reporting failure.
func (c *converter) expand(e Entry) (string, bool) {
	v, err := c.spec.expand(e.Value)
	if err != nil {
		c.bad(e, err)
		return "", false
	}
	return v, true
}

// words expands specifiers and splits the value into words; none (an
// empty value) is the assignment that resets a list.
func (c *converter) words(e Entry) ([]string, bool) {
	v, ok := c.expand(e)
	if !ok {
		return nil, false
	}
	w, err := splitWords(v)
	if err != nil {
		c.bad(e, err)
		return nil, false
	}
	return w, true
}

func (c *converter) unsupported(key string) {
	if !slices.Contains(c.u.Unsupported, key) {
		c.u.Unsupported = append(c.u.Unsupported, key)
	}
}

func (c *converter) entry(e Entry) {
	if strings.HasPrefix(e.Key, "X-") || strings.HasPrefix(e.Section, "X-") {
		return
	}
	if e.Section == "Unit" && e.Key == "SuccessAction" {
		c.successAction = e.Value != "" && e.Value != "none"
	}
	handled := false
	switch e.Section {
	case "Unit":
		handled = c.unitEntry(e)
		if !handled && unsupportedUnit[e.Key] {
			c.unsupported(e.Key)
			return
		}
	case "Install":
		handled = c.installEntry(e)
	case typedSection[c.u.Kind]:
		if c.u.Kind != KindService {
			return // typed by other packages
		}
		handled = c.serviceEntry(e)
		if !handled && unsupportedService[e.Key] {
			c.unsupported(e.Key)
			return
		}
	default:
		if !c.warnedSections[e.Section] {
			c.warnedSections[e.Section] = true
			c.diag(e, Warning, "unknown section [%s] for a %s unit, ignoring", e.Section, c.u.Kind)
		}
		return
	}
	if !handled {
		c.diag(e, Warning, "unknown key %s= in section [%s], ignoring", e.Key, e.Section)
	}
}

// depFields are the [Unit] dependency directives and the Deps list each
// fills: a unit gets its Deps only when it has one of them.
var depFields = map[string]func(*Deps) *[]string{
	"Requires":             func(d *Deps) *[]string { return &d.Requires },
	"Requisite":            func(d *Deps) *[]string { return &d.Requisite },
	"Wants":                func(d *Deps) *[]string { return &d.Wants },
	"BindsTo":              func(d *Deps) *[]string { return &d.BindsTo },
	"BindTo":               func(d *Deps) *[]string { return &d.BindsTo },
	"PartOf":               func(d *Deps) *[]string { return &d.PartOf },
	"Upholds":              func(d *Deps) *[]string { return &d.Upholds },
	"Conflicts":            func(d *Deps) *[]string { return &d.Conflicts },
	"After":                func(d *Deps) *[]string { return &d.After },
	"Before":               func(d *Deps) *[]string { return &d.Before },
	"OnFailure":            func(d *Deps) *[]string { return &d.OnFailure },
	"OnSuccess":            func(d *Deps) *[]string { return &d.OnSuccess },
	"PropagatesReloadTo":   func(d *Deps) *[]string { return &d.PropagatesReloadTo },
	"PropagateReloadTo":    func(d *Deps) *[]string { return &d.PropagatesReloadTo },
	"ReloadPropagatedFrom": func(d *Deps) *[]string { return &d.ReloadPropagatedFrom },
	"PropagateReloadFrom":  func(d *Deps) *[]string { return &d.ReloadPropagatedFrom },
}

// depField returns the Deps list a [Unit] dependency directive fills.
func (c *converter) depField(key string) *[]string {
	if f := depFields[key]; f != nil {
		return f(c.u.EnsureDeps())
	}
	return nil
}

func (c *converter) unitEntry(e Entry) bool {
	u := c.u
	if list := c.depField(e.Key); list != nil {
		c.names(e, list, false)
		return true
	}
	if kind, ok := strings.CutPrefix(e.Key, "Condition"); ok && conditionKinds[kind] {
		c.condition(e, false, kind)
		return true
	}
	if kind, ok := strings.CutPrefix(e.Key, "Assert"); ok && conditionKinds[kind] {
		c.condition(e, true, kind)
		return true
	}
	switch e.Key {
	case "Description":
		if v, ok := c.expand(e); ok {
			u.Description = v
		}
	case "Documentation":
		c.documentation(e)
	case "DefaultDependencies":
		c.boolean(e, &u.DefaultDependencies)
	case "RefuseManualStart":
		c.boolean(e, &u.RefuseManualStart)
	case "RefuseManualStop":
		c.boolean(e, &u.RefuseManualStop)
	case "StopWhenUnneeded":
		c.boolean(e, &u.StopWhenUnneeded)
	case "JobTimeoutSec":
		if d, ok := c.timespan(e, time.Second); ok {
			if d == Infinity {
				d = 0
			}
			u.JobTimeout = d
		}
	case "SourcePath":
		if v, ok := c.expand(e); ok {
			u.SourcePath = v
		}
	case "StartLimitIntervalSec", "StartLimitInterval", "StartLimitBurst", "StartLimitAction":
		c.startLimit(e)
	default:
		return false
	}
	return true
}

// startLimit handles StartLimit*= in [Unit] and their old names in [Service].
func (c *converter) startLimit(e Entry) {
	u := c.u
	switch e.Key {
	case "StartLimitIntervalSec", "StartLimitInterval":
		if d, ok := c.timespan(e, time.Second); ok {
			u.StartLimitInterval = d
		}
	case "StartLimitBurst":
		c.integer(e, &u.StartLimitBurst, 0, 1<<31-1)
	case "StartLimitAction":
		actions := []string{"none", "reboot", "reboot-force", "reboot-immediate", "poweroff",
			"poweroff-force", "poweroff-immediate", "exit", "exit-force", "halt", "halt-force",
			"halt-immediate", "kexec", "kexec-force", "soft-reboot", "soft-reboot-force"}
		if !slices.Contains(actions, e.Value) {
			c.bad(e, fmt.Errorf("unknown action %q", e.Value))
			return
		}
		u.StartLimitAction = e.Value
	}
}

// names parses a whitespace-separated list of unit names into list. An
// empty value resets the list only when reset is set (systemd never
// resets dependencies, but does reset [Install] lists).
func (c *converter) names(e Entry, list *[]string, reset bool) {
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if strings.TrimSpace(v) == "" {
		if reset {
			*list = nil
		}
		return
	}
	for _, n := range strings.Fields(v) {
		if err := ValidName(n); err != nil {
			c.diag(e, Error, "%s=: %v, ignoring", e.Key, err)
			continue
		}
		if IsTemplate(n) && e.Section != "Install" {
			c.diag(e, Error, "%s=: %s is a template without an instance, ignoring", e.Key, n)
			continue
		}
		c.addName(list, n)
	}
}

// addName appends n to list unless the list holds it already.
func (c *converter) addName(list *[]string, n string) {
	if len(*list) < longList {
		if !slices.Contains(*list, n) {
			*list = append(*list, n)
		}
		return
	}
	set := c.nameSets[list]
	if len(set) != len(*list) { // new, or the list changed elsewhere (a reset)
		if c.nameSets == nil {
			c.nameSets = map[*[]string]map[string]struct{}{}
		}
		set = make(map[string]struct{}, 2*len(*list))
		for _, x := range *list {
			set[x] = struct{}{}
		}
		c.nameSets[list] = set
	}
	if _, dup := set[n]; !dup {
		set[n] = struct{}{}
		*list = append(*list, n)
	}
}

func (c *converter) documentation(e Entry) {
	ws, ok := c.words(e)
	if !ok {
		return
	}
	if len(ws) == 0 {
		c.u.Documentation = nil
	}
	for _, w := range ws {
		scheme, _, ok := strings.Cut(w, ":")
		if !ok || !slices.Contains([]string{"http", "https", "file", "info", "man"}, scheme) {
			c.diag(e, Error, "Documentation=: invalid URI %q, ignoring", w)
			continue
		}
		c.u.Documentation = append(c.u.Documentation, w)
	}
}

// condition parses one Condition*= or Assert*=; an empty value resets
// every condition (or every assertion) set so far.
func (c *converter) condition(e Entry, assert bool, kind string) {
	if e.Value == "" {
		c.u.Conditions = slices.DeleteFunc(c.u.Conditions, func(x Condition) bool { return x.Assert == assert })
		return
	}
	v, ok := c.expand(e)
	if !ok {
		return
	}
	cond := Condition{Assert: assert, Kind: kind, File: e.File, Line: e.Line}
	if rest, ok := strings.CutPrefix(v, "|"); ok {
		cond.Trigger, v = true, strings.TrimLeft(rest, " \t")
	}
	if rest, ok := strings.CutPrefix(v, "!"); ok {
		cond.Negate, v = true, strings.TrimLeft(rest, " \t")
	}
	if strings.HasPrefix(kind, "Path") || kind == "DirectoryNotEmpty" || kind == "FileNotEmpty" || kind == "FileIsExecutable" {
		if !filepath.IsAbs(v) {
			c.bad(e, fmt.Errorf("path %q is not absolute", v))
			return
		}
	}
	cond.Arg = v
	c.u.Conditions = append(c.u.Conditions, cond)
}

func (c *converter) installEntry(e Entry) bool {
	if c.u.Install == nil {
		c.u.Install = &Install{}
	}
	in := c.u.Install
	switch e.Key {
	case "WantedBy":
		c.names(e, &in.WantedBy, true)
	case "RequiredBy":
		c.names(e, &in.RequiredBy, true)
	case "UpheldBy":
		c.names(e, &in.UpheldBy, true)
	case "Also":
		c.names(e, &in.Also, true)
	case "Alias":
		c.names(e, &in.Alias, true)
		in.Alias = slices.DeleteFunc(in.Alias, func(a string) bool {
			if _, _, k := SplitName(a); k != c.u.Kind {
				c.diag(e, Error, "Alias=: cannot alias %s as %s, a different type, ignoring", c.u.Name, a)
				return true
			}
			return false
		})
	case "DefaultInstance":
		v, ok := c.expand(e)
		if !ok {
			return true
		}
		for i := 0; i < len(v); i++ {
			if !validNameChar(v[i]) {
				c.bad(e, fmt.Errorf("invalid instance name %q", v))
				return true
			}
		}
		in.DefaultInstance = v
	default:
		return false
	}
	return true
}

// Typed scalar helpers; each reports and drops a bad value.

func (c *converter) boolean(e Entry, dst *bool) {
	b, err := ParseBool(e.Value)
	if err != nil {
		c.bad(e, err)
		return
	}
	*dst = b
}

func (c *converter) timespan(e Entry, def time.Duration) (time.Duration, bool) {
	d, err := ParseTimespan(e.Value, def)
	if err != nil {
		c.bad(e, err)
		return 0, false
	}
	return d, true
}

func (c *converter) integer(e Entry, dst *int, lo, hi int) bool {
	var n int
	if _, err := fmt.Sscan(e.Value, &n); err != nil || fmt.Sprint(n) != strings.TrimPrefix(e.Value, "+") {
		c.bad(e, fmt.Errorf("invalid number %q", e.Value))
		return false
	}
	if n < lo || n > hi {
		c.bad(e, fmt.Errorf("%d out of range %d…%d", n, lo, hi))
		return false
	}
	*dst = n
	return true
}

// finish runs the checks systemd makes once a unit is fully read and
// emits the single summary warning about unsupported directives.
func (c *converter) finish() {
	u := c.u
	c.warnInert()
	if len(u.Unsupported) > 0 {
		u.Diags = append(u.Diags, Diag{File: u.Path, Severity: Warning,
			Msg: "directives not supported by tend, ignored: " + strings.Join(u.Unsupported, ", ")})
	}
	if u.Service != nil {
		c.finishService()
	}
}

// refuse marks the unit bad-setting with a whole-file diag.
func (c *converter) refuse(msg string) {
	c.u.Load = BadSetting
	c.u.Diags = append(c.u.Diags, Diag{File: c.u.Path, Severity: Error, Msg: msg + " Refusing."})
}
