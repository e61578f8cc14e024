// Package timer types the [Timer] section of timer units
// (systemd.timer(5)) and holds the pure arithmetic of their elapses:
// systemd's fixed random delay (a hash of the machine and the timer) and
// the coalescing of wake-ups within AccuracySec=. It has no clock of its
// own; the timer engine in internal/supervise asks it and arms the
// manager's one deadline.
package timer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/calendar"
	"github.com/tendproject/tend/internal/unit"
)

// Base is what a monotonic timer counts from.
type Base uint8

// Monotonic bases, as the directives name them.
const (
	Active       Base = iota // OnActiveSec=: the timer's own activation
	Boot                     // OnBootSec=: the machine's boot
	Startup                  // OnStartupSec=: the manager's start
	UnitActive               // OnUnitActiveSec=: the triggered unit's last activation
	UnitInactive             // OnUnitInactiveSec=: the triggered unit's last deactivation
)

var baseKeys = [...]string{"OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec"}

// String is the directive that sets a timer of base b.
func (b Base) String() string { return baseKeys[b] }

// USecName is the name systemd's TimersMonotonic property gives b
// ("OnBootUSec").
func (b Base) USecName() string { return strings.TrimSuffix(baseKeys[b], "Sec") + "USec" }

// Monotonic is one OnActiveSec=…OnUnitInactiveSec= line.
type Monotonic struct {
	Base Base
	Span time.Duration
}

// Calendar is one OnCalendar= line.
type Calendar struct {
	Text     string // as written, for messages
	Schedule *calendar.Spec
}

// Spec is a timer unit's [Timer] section, typed.
//
// It keeps no parsed OnCalendar= spec, only where the lines are: ten
// thousand waiting timers with a time of day each (a crontab) are a
// measured budget (BenchmarkTimerMemory), and a parsed spec was most of
// it. [Spec.Calendars] parses them again when an elapse is computed,
// which is then in the local zone of that moment, as systemd computes
// a spec that names no zone.
type Spec struct {
	Monotonic       []Monotonic
	RandomizedDelay time.Duration
	Accuracy        time.Duration // default 1min, never 0 (systemd takes 0 as 1us)
	Unit            string        // what it triggers: Unit=, else NAME.service

	// src is the unit the Spec was typed from; its OnCalendar= lines
	// from entry calFrom on (after the last reset) are the calendar.
	src     *unit.Unit
	calFrom uint32

	hasCalendar       bool // some OnCalendar= line parsed
	Persistent        bool
	FixedRandomDelay  bool
	RemainAfterElapse bool // default yes
	OnClockChange     bool
	OnTimezoneChange  bool
}

// DefaultAccuracy is AccuracySec='s default.
const DefaultAccuracy = time.Minute

// HasCalendar says whether the timer has an OnCalendar= line that
// parsed when it was typed.
func (s *Spec) HasCalendar() bool { return s.hasCalendar }

// Rebind makes the Spec read its OnCalendar= lines from u, a new load of
// the unit it was typed from with the same entries (a daemon-reload
// found the unit unchanged), so the old load is not kept alive by a
// timer that waits across reloads: every started timer would otherwise
// hold a whole unit (~1 KiB) per reload's worth of history. A u whose
// entries differ in number is not the same unit and is ignored (the
// caller types a new Spec for a changed unit).
func (s *Spec) Rebind(u *unit.Unit) {
	if s.src != nil && u != s.src && len(u.Entries) == len(s.src.Entries) {
		s.src = u
	}
}

// Calendars parses the timer's OnCalendar= lines again, those without a
// time zone in local, through cals (nil: each is parsed anew) with the
// specifiers of env, as ParseSpecShared was given them. Lines that are
// bad were reported when the Spec was typed and are left out; a spec
// naming a local zone's abbreviation may not parse in another zone.
func (s *Spec) Calendars(env *unit.Env, local *time.Location, cals *Calendars) []Calendar {
	if !s.hasCalendar {
		return nil
	}
	if env == nil {
		env = &unit.Env{}
	}
	var out []Calendar
	for _, e := range s.src.Entries[s.calFrom:] {
		if e.Section != "Timer" || e.Key != "OnCalendar" {
			continue
		}
		v, err := env.Expand(e.Value, s.src.Name, s.src.Path)
		if err != nil || v == "" {
			continue
		}
		one, err := cals.parse(v, local)
		if err != nil {
			continue
		}
		if out == nil {
			out = one[:] // shared and full: a second line's append copies
		} else {
			out = append(out, one[0])
		}
	}
	return out
}

// Schedules is the union of the OnCalendar= lines, parsed as Calendars
// parses them (nil when none).
func (s *Spec) Schedules(env *unit.Env, local *time.Location, cals *Calendars) calendar.Schedule {
	c := s.Calendars(env, local, cals)
	switch len(c) {
	case 0:
		return nil
	case 1:
		return c[0].Schedule
	}
	a := make(calendar.Any, len(c))
	for i, c := range c {
		a[i] = c.Schedule
	}
	return a
}

// ParseSpec types the [Timer] section of u (a timer unit from the unit
// loader, which keeps its raw entries); calendar specs without a time
// zone are in local. Bad values are reported as file:line diags with
// the reason systemd gives and dropped, as systemd drops them; a timer
// left with nothing to wait for gets an error diag and ok=false, as
// systemd refuses it ("Timer unit lacks value setting.").
func ParseSpec(u *unit.Unit, env *unit.Env, local *time.Location) (spec *Spec, diags []unit.Diag, ok bool) {
	return ParseSpecShared(u, env, local, nil)
}

// ParseSpecShared is ParseSpec taking the calendar specs from cals, so
// that timers with the same OnCalendar= share one parsed spec (nil cals:
// every timer parses its own).
func ParseSpecShared(u *unit.Unit, env *unit.Env, local *time.Location, cals *Calendars) (spec *Spec, diags []unit.Diag, ok bool) {
	if env == nil {
		env = &unit.Env{}
	}
	p := &specParser{u: u, env: env, local: local, cals: cals, s: &Spec{src: u, Accuracy: DefaultAccuracy, RemainAfterElapse: true}}
	for i, e := range u.Entries {
		if e.Section == "Timer" {
			p.entry(i, e)
		}
	}
	return p.s, p.diags, p.finish()
}

type specParser struct {
	u     *unit.Unit
	env   *unit.Env
	local *time.Location
	cals  *Calendars
	s     *Spec
	diags []unit.Diag
	// unsupported lists directives tend reads but does not apply; they
	// are warned about, not kept in the Spec every loaded timer holds.
	unsupported []string
}

func (p *specParser) bad(e unit.Entry, format string, args ...any) {
	p.diags = append(p.diags, unit.Diag{File: e.File, Line: e.Line, Severity: unit.Error,
		Msg: fmt.Sprintf("%s=%s: %s, ignoring", e.Key, e.Value, fmt.Sprintf(format, args...))})
}

// reset drops every timer set so far, as an empty assignment does in
// systemd; the calendar is then the OnCalendar= lines after entry i.
func (p *specParser) reset(i int) {
	p.s.hasCalendar, p.s.calFrom, p.s.Monotonic = false, uint32(i+1), nil
}

func (p *specParser) entry(i int, e unit.Entry) {
	v, err := p.env.Expand(e.Value, p.u.Name, p.u.Path)
	if err != nil {
		p.bad(e, "%v", err)
		return
	}
	s := p.s
	switch e.Key {
	case "OnCalendar":
		if v == "" { // an empty assignment resets every timer, as in systemd
			p.reset(i)
			return
		}
		// Parsed to check it (and to have a spec many timers write in
		// the shared table); the Spec keeps only where the line is.
		if _, err := p.cals.parse(v, p.local); err != nil {
			p.bad(e, "Failed to parse calendar specification: %s", Strerror(err))
			return
		}
		s.hasCalendar = true
	case "OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec":
		if v == "" {
			p.reset(i)
			return
		}
		d, err := calendar.ParseTimespan(v)
		if err != nil {
			p.bad(e, "Failed to parse timer value: %s", Strerror(err))
			return
		}
		b := Base(slices.Index(baseKeys[:], e.Key))
		s.Monotonic = append(s.Monotonic, Monotonic{Base: b, Span: spanDuration(d)})
	case "RandomizedDelaySec", "AccuracySec":
		d, err := calendar.ParseTimespan(v)
		if err != nil {
			p.bad(e, "Failed to parse time span: %s", Strerror(err))
			return
		}
		if e.Key == "AccuracySec" {
			s.Accuracy = max(spanDuration(d), time.Microsecond)
		} else {
			s.RandomizedDelay = spanDuration(d)
		}
	case "Persistent", "FixedRandomDelay", "RemainAfterElapse", "OnClockChange", "OnTimezoneChange", "WakeSystem":
		b, err := unit.ParseBool(v)
		if err != nil {
			p.bad(e, "Failed to parse boolean value")
			return
		}
		switch e.Key {
		case "Persistent":
			s.Persistent = b
		case "FixedRandomDelay":
			s.FixedRandomDelay = b
		case "RemainAfterElapse":
			s.RemainAfterElapse = b
		case "OnClockChange":
			s.OnClockChange = b
		case "OnTimezoneChange":
			s.OnTimezoneChange = b
		case "WakeSystem":
			if b {
				p.unsupportedKey(e.Key) // there is no alarm clock to wake the machine with
			}
		}
	case "Unit":
		p.unitKey(e, v)
	default:
		p.unsupportedKey(e.Key)
	}
}

func (p *specParser) unitKey(e unit.Entry, v string) {
	if err := unit.ValidName(v); err != nil {
		p.bad(e, "Failed to parse unit name: %v", err)
		return
	}
	if strings.HasSuffix(v, ".timer") {
		p.bad(e, "Unit cannot be of same type")
		return
	}
	p.s.Unit = v
}

func (p *specParser) unsupportedKey(key string) {
	if !strings.HasPrefix(key, "X-") && !slices.Contains(p.unsupported, key) {
		p.unsupported = append(p.unsupported, key)
	}
}

func (p *specParser) finish() bool {
	s, u := p.s, p.u
	if s.Unit == "" {
		s.Unit = strings.TrimSuffix(u.Name, ".timer") + ".service"
	}
	if len(p.unsupported) > 0 {
		p.diags = append(p.diags, unit.Diag{File: u.Path, Severity: unit.Warning,
			Msg: "directives not supported by tend, ignored: " + strings.Join(p.unsupported, ", ")})
	}
	if !s.hasCalendar && len(s.Monotonic) == 0 && !s.OnClockChange && !s.OnTimezoneChange {
		p.diags = append(p.diags, unit.Diag{File: u.Path, Severity: unit.Error, Msg: "Timer unit lacks value setting. Refusing."})
		return false
	}
	return true
}

// spanDuration converts a systemd time span; infinity becomes the
// largest duration.
func spanDuration(t calendar.Timespan) time.Duration {
	if t == calendar.Infinity || uint64(t) > uint64(1<<63-1)/1000 {
		return 1<<63 - 1
	}
	return time.Duration(t) * time.Microsecond
}

// Strerror is the C library's message for a calendar or time span error
// ("Invalid argument"), as systemd prints it.
func Strerror(err error) string {
	if e, ok := err.(*calendar.Error); ok {
		s := e.Errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}
