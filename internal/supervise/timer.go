package supervise

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/calendar"
	"github.com/tendproject/tend/internal/plan"
	timerspec "github.com/tendproject/tend/internal/timer"
	"github.com/tendproject/tend/internal/unit"
)

// timer is the engine of .timer units (systemd.timer(5)). Its states are
// systemd's timer states: dead, waiting (for the next elapse), running
// (the triggered unit was started and has not gone down since), elapsed
// (nothing left to wait for) and failed. The next elapse is the unit's
// alarm (m.setAlarm), so all timers share the manager's one clock timer;
// a wall-clock jump or a time-zone change recomputes every waiting timer
// (TimeChanged). The [Timer] section is typed by internal/timer at start.
type timer struct {
	*rt

	spec *timerspec.Spec // as it was when the timer was last started
	// next is the next elapse on the wall clock and nextMono the next
	// monotonic one (on the clock's time line), random delay included,
	// before coalescing; zero when there is none.
	next, nextMono time.Time
	// last is the last trigger (from the Persistent= stamp after a start,
	// then wall and monotonic).
	last time.Time
	// unitUp and unitDown are when the triggered unit last left and
	// entered the inactive state (OnUnitActiveSec=, OnUnitInactiveSec=).
	unitUp, unitDown time.Time
	reason           string      // why the last start was refused or the timer failed
	saved            *savedTimer // as restored, for resume; nil when none (most timers: not kept)
	env              *TimerEnv   // the manager's, from the first start
	// The small fields sit together: 10,000 waiting timers are a
	// measured budget (BenchmarkTimerMemory), and padding after each
	// bool cost 16 B a timer.
	spent    uint32 // bit i: Monotonic[i] was a one-shot that has elapsed
	lastWall bool   // last came from the stamp, so it says nothing about monotonic bases
	unitIsUp bool
	prepared bool // the triggered unit's cgroup was made ahead (timer_ahead.go)
}

// TimerEnv is what timer units take from the machine and the instance.
type TimerEnv struct {
	// StampDir keeps a file per Persistent= timer whose mtime is its last
	// trigger; "" keeps none (the timers then behave as Persistent=no).
	StampDir string
	Host     timerspec.Host
	// Boot and Startup are when the machine booted and when the manager
	// started, on the clock's time line (OnBootSec=, OnStartupSec=; a run
	// missed before Startup is made at Startup). Zero Startup is the
	// first timer's start; zero Boot is Startup.
	Boot, Startup time.Time
	// Local is the local time zone now (re-read after a time-zone
	// change); nil is time.Local.
	Local func() *time.Location
	// Rand gives RandomizedDelaySec='s random numbers; nil is math/rand.
	Rand func() uint64

	// calendars shares the parsed OnCalendar= specs of the timers, and
	// specifiers is the manager's, which the specs were expanded with.
	calendars  timerspec.Calendars
	specifiers *unit.Env
}

// timerEnv returns the timers' environment with defaults filled in.
func (m *Manager) timerEnv() *TimerEnv {
	e := &m.opts.Timers
	if e.Startup.IsZero() {
		e.Startup = m.clock.Now()
	}
	if e.Boot.IsZero() {
		e.Boot = e.Startup
	}
	if e.Local == nil {
		e.Local = func() *time.Location { return time.Local }
	}
	if e.Rand == nil {
		e.Rand = rand.Uint64
	}
	e.specifiers = m.opts.SpecifierEnv
	return e
}

// schedule is the union of the OnCalendar= lines of spec (nil: none),
// parsed now: a spec that names no zone is in the local zone of now. A
// waiting timer keeps no parsed spec (see timerspec.Spec), so each
// computation of an elapse parses it, from the shared table when
// another timer has it there.
func (e *TimerEnv) schedule(spec *timerspec.Spec) calendar.Schedule {
	return spec.Schedules(e.specifiers, e.Local(), &e.calendars)
}

// timerSpec types the [Timer] section of def, its calendar specs shared
// with the other timers that wrote the same ones.
func (m *Manager) timerSpec(def *unit.Unit) (*timerspec.Spec, bool) {
	env := m.timerEnv()
	spec, _, ok := timerspec.ParseSpecShared(def, m.opts.SpecifierEnv, env.Local(), &env.calendars)
	return spec, ok
}

func (t *timer) sub() string { return t.state.String() }

func (t *timer) start(m *Manager) {
	switch t.state {
	case Waiting, Running, Elapsed:
		m.jobs.unitChanged(t.rt)
		return
	}
	t.skipped, t.conditionFailed = false, ""
	if !m.checkConditions(t.rt) {
		return
	}
	if !m.checkStartLimit(t.rt) {
		m.event(t.rt, prioWarn, "%s: Start request repeated too quickly.", t.name)
		t.enterDead(m, ResultStartLimitHit)
		return
	}
	env := m.timerEnv()
	t.env = env
	spec, ok := m.timerSpec(t.def)
	if !ok {
		t.reason = "the unit's [Timer] section is not usable (see its load warnings)"
		t.enterDead(m, ResultResources)
		return
	}
	if def, ok := m.plan.Unit(spec.Unit); !ok || def.Load != unit.Loaded {
		// As systemd: the start is refused and the timer stays as it was.
		t.reason = fmt.Sprintf("Refusing to start, unit %s to trigger not loaded.", spec.Unit)
		m.event(t.rt, prioErr, "%s: %s", t.name, t.reason)
		m.jobs.fail(t.rt, "failed", t.reason)
		return
	}
	t.spec, t.reason, t.spent = spec, "", 0
	t.rt.result = ResultSuccess
	t.invocation = newInvocationID()
	t.last, t.lastWall = time.Time{}, false
	t.readStamp(m)
	if v := m.units[spec.Unit]; v != nil {
		t.unitIsUp = v.state.Active() != Inactive && v.state != Failed
		if t.unitIsUp && t.unitUp.IsZero() {
			t.unitUp = v.since
		}
	}
	t.enterWaiting(m, false)
}

func (t *timer) stop(m *Manager) {
	switch t.state {
	case Dead, Failed:
		m.jobs.unitChanged(t.rt)
	default:
		t.enterDead(m, ResultSuccess)
	}
}

func (t *timer) reload(m *Manager) {
	m.jobs.fail(t.rt, "failed", "Job type reload is not applicable for unit "+t.name+".")
}

func (t *timer) event(m *Manager, ev unitEvent) {
	switch e := ev.(type) {
	case alarm:
		if t.state == Waiting {
			t.onAlarm(m)
		}
	case triggeredChanged:
		t.onUnitChanged(m, e.u)
	case timeChanged:
		t.onTimeChanged(m, e)
	}
}

// enterWaiting computes the next elapse and waits for it, as systemd's
// timer_enter_waiting; with nothing left to wait for the timer has
// elapsed. timeChange: the clock was set, so one-shot monotonic timers
// that are past are not spent by it.
func (t *timer) enterWaiting(m *Manager, timeChange bool) {
	env := m.timerEnv()
	now := m.clock.Now()
	t.next, t.nextMono = time.Time{}, time.Time{}
	active := t.state.Active() == Active
	if sched := env.schedule(t.spec); sched != nil {
		base := t.last
		switch {
		case !base.IsZero():
		case active:
			base = t.since
		default:
			base = now
		}
		if n := sched.Next(base.Round(0)); !n.IsZero() {
			// A run that was due before tend started (Persistent=, or a
			// clock that was behind) is made at start-up.
			t.next = later(n, env.Startup.Round(0))
		}
	}
	leaveAround := false
	for i, v := range t.spec.Monotonic {
		if i < 32 && t.spent&(1<<i) != 0 {
			continue
		}
		if v.Base == timerspec.UnitActive || v.Base == timerspec.UnitInactive {
			leaveAround = true
		}
		activeSince := now
		if active {
			activeSince = t.since
		}
		base := t.monoBase(v.Base, activeSince)
		if base.IsZero() {
			continue
		}
		at := addSpan(base, v.Span)
		if !t.last.IsZero() && !timeChange && !at.After(now) && v.Base <= timerspec.Startup {
			if i < 32 {
				t.spent |= 1 << i // a one-time trigger that has been had
			}
			continue
		}
		if t.nextMono.IsZero() || at.Before(t.nextMono) {
			t.nextMono = at
		}
	}
	if t.next.IsZero() && t.nextMono.IsZero() && !t.spec.OnClockChange && !t.spec.OnTimezoneChange {
		m.setAlarm(t.rt, time.Time{})
		if t.spec.RemainAfterElapse || leaveAround {
			if t.state != Elapsed {
				m.setState(t.rt, Elapsed)
			}
		} else {
			t.enterDead(m, ResultSuccess)
		}
		return
	}
	if !t.nextMono.IsZero() {
		t.nextMono = addSpan(t.nextMono, t.randomDelay(env))
	}
	if !t.next.IsZero() {
		t.next = addSpan(t.next, t.randomDelay(env))
	}
	t.arm(m)
	if t.state != Waiting {
		m.setState(t.rt, Waiting)
	}
}

// monoBase is what a monotonic timer of base b counts from; zero when
// that has not happened (the triggered unit never ran).
func (t *timer) monoBase(b timerspec.Base, activeSince time.Time) time.Time {
	switch b {
	case timerspec.Active:
		return activeSince
	case timerspec.Boot:
		return t.env.Boot
	case timerspec.Startup:
		return t.env.Startup
	}
	base := t.unitUp
	if b == timerspec.UnitInactive {
		base = t.unitDown
	}
	if !t.lastWall {
		base = later(base, t.last)
	}
	return base
}

func (t *timer) randomDelay(env *TimerEnv) time.Duration {
	if t.spec.RandomizedDelay == 0 {
		return 0
	}
	return env.Host.RandomDelay(t.name, t.spec.RandomizedDelay, t.spec.FixedRandomDelay, env.Rand())
}

// wakeTimes are when the timer wakes for its elapses: within
// AccuracySec= after each, where the machine's other timers wake too
// (timer.Coalesce). Zero where there is no elapse.
func (t *timer) wakeTimes(env *TimerEnv) (wall, mono time.Time) {
	acc := uint64(t.spec.Accuracy / time.Microsecond)
	if !t.next.IsZero() && t.next.Year() < 9999 {
		wall = time.UnixMicro(int64(timerspec.Coalesce(uint64(t.next.UnixMicro()), acc, env.Host.Perturb)))
	}
	if !t.nextMono.IsZero() {
		since := uint64(max(t.nextMono.Sub(env.Boot), 0) / time.Microsecond)
		mono = env.Boot.Add(time.Duration(timerspec.Coalesce(since, acc, env.Host.Perturb)) * time.Microsecond)
	}
	return wall, mono
}

// arm sets the unit's alarm for the earlier wake-up, or prepareLead
// before it while the triggered unit is not prepared (timer_ahead.go). A
// wall-clock time becomes a time on the clock's line (a monotonic
// deadline), which a clock change re-arms.
func (t *timer) arm(m *Manager) {
	now := m.clock.Now()
	wall, at := t.wakeTimes(m.timerEnv())
	if !wall.IsZero() {
		w := now.Add(wall.Sub(now.Round(0)))
		if at.IsZero() || w.Before(at) {
			at = w
		}
	}
	if !at.IsZero() && at.Sub(now) > prepareLead && t.preparable(m) {
		at = at.Add(-prepareLead)
	}
	m.setAlarm(t.rt, at)
}

func (t *timer) onAlarm(m *Manager) {
	now := m.clock.Now()
	wall, mono := t.wakeTimes(m.timerEnv())
	due := !wall.IsZero() && !now.Round(0).Before(wall) || !mono.IsZero() && !now.Before(mono)
	if !due {
		// The wake to prepare ahead, or the wall clock went back under
		// the alarm: its time has not come.
		t.prepare(m)
		t.arm(m)
		return
	}
	t.enterRunning(m)
}

// enterRunning starts the triggered unit, as systemd's timer_enter_running.
func (t *timer) enterRunning(m *Manager) {
	if j := t.job; j != nil && j.kind == plan.Stop {
		return // going down: start nothing
	}
	if err := m.trigger(t.rt, t.spec.Unit); err != nil {
		t.reason = err.Error()
		t.enterDead(m, ResultResources)
		return
	}
	t.prepared = false // the start took what was made
	t.last, t.lastWall = m.clock.Now(), false
	t.writeStamp(m)
	m.setAlarm(t.rt, time.Time{})
	m.setState(t.rt, Running)
}

func (t *timer) enterDead(m *Manager, r Result) {
	m.setAlarm(t.rt, time.Time{})
	t.unprepare(m)
	t.next, t.nextMono = time.Time{}, time.Time{}
	t.rt.result = r
	if r != ResultSuccess {
		m.event(t.rt, prioWarn, "%s: Failed with result '%s'.", t.name, r)
		m.setState(t.rt, Failed)
		return
	}
	m.setState(t.rt, Dead)
}

// onUnitChanged follows the triggered unit (systemd's
// timer_trigger_notify): a running timer waits again once the unit is
// down, and a waiting one recomputes (OnUnitActiveSec= and
// OnUnitInactiveSec= count from the unit's changes).
func (t *timer) onUnitChanged(m *Manager, v *rt) {
	if t.spec == nil {
		return
	}
	up := v.state.Active() != Inactive && v.state != Failed
	if up && !t.unitIsUp {
		t.unitUp = m.clock.Now()
	}
	if !up && t.unitIsUp {
		t.unitDown = m.clock.Now()
	}
	t.unitIsUp = up
	switch t.state {
	case Waiting, Elapsed:
		t.enterWaiting(m, false)
	case Running:
		if !up {
			t.enterWaiting(m, false)
		}
	}
}

// timeChanged: the wall clock was set (clock) or the time zone changed.
type timeChanged struct{ clock bool }

// TimeChanged tells the timers that the wall clock jumped (clock) or the
// local time zone changed (!clock); the daemon's time-change watcher
// calls it, tests call it after moving a fake clock.
func (m *Manager) TimeChanged(clock bool) {
	m.box.put(evCall{fn: func() { m.onTimeChanged(clock) }, done: make(chan struct{})})
}

func (m *Manager) onTimeChanged(clock bool) {
	for _, u := range m.units {
		if _, ok := u.eng.(*timer); ok {
			u.eng.event(m, timeChanged{clock: clock})
		}
	}
	// Every alarm was armed as a span of monotonic time; the wall-clock
	// ones now stand elsewhere on that line.
	m.alarms.at = time.Time{}
	m.armAlarms()
}

// maxFutureTrigger bounds how far in the future a last trigger may lie
// after the clock was set back and still count: within it, a due time
// that ran does not run again; beyond it the clock was wrong when it ran
// and the trigger is forgotten, as systemd forgets it.
const maxFutureTrigger = 24 * time.Hour

func (t *timer) onTimeChanged(m *Manager, e timeChanged) {
	if t.state != Waiting {
		return
	}
	now := m.clock.Now()
	if !t.last.IsZero() && t.last.Round(0).Sub(now.Round(0)) > maxFutureTrigger {
		t.last, t.lastWall = now, false
	}
	if e.clock && t.spec.OnClockChange || !e.clock && t.spec.OnTimezoneChange {
		m.event(t.rt, prioInfo, "%s: Time change, triggering activation.", t.name)
		t.enterRunning(m)
		return
	}
	t.enterWaiting(m, e.clock)
}

func (t *timer) kill(_ *Manager, who string, _ syscall.Signal) error {
	return passive{t.rt}.kill(nil, who, 0)
}

func (t *timer) resetFailed() { t.reason = "" }

// savedTimer is what of a timer outlives the manager. Times are on the
// wall clock; resume places them back on the clock's time line.
type savedTimer struct {
	Last     time.Time `json:"last,omitzero"`
	LastWall bool      `json:"last_wall,omitempty"`
	Spent    uint32    `json:"spent,omitempty"`
	UnitUp   time.Time `json:"unit_up,omitzero"`
	UnitDown time.Time `json:"unit_down,omitzero"`
	// Startup is the manager's start (OnStartupSec='s base), which a
	// re-exec keeps.
	Startup time.Time `json:"startup,omitzero"`
}

func (t *timer) save() (json.RawMessage, error) {
	s := savedTimer{Last: t.last, LastWall: t.lastWall, Spent: t.spent, UnitUp: t.unitUp, UnitDown: t.unitDown}
	if t.env != nil {
		s.Startup = t.env.Startup
	}
	return json.Marshal(s)
}

// restore takes the saved record back; resume (timer_resume.go) makes
// it a timer that waits again.
func (t *timer) restore(data json.RawMessage) error {
	var v savedTimer
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("timer %s: %w", t.name, err)
	}
	// A monotonic reading does not survive the process: until resume
	// places it back, the last trigger says nothing about monotonic bases.
	t.saved = &v
	t.last, t.lastWall, t.spent = v.Last.Round(0), true, v.Spent
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// addSpan adds d to t, saturating at infinity's far future.
func addSpan(t time.Time, d time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	if d >= 1<<62 {
		return time.Time{}
	}
	return t.Add(d)
}
