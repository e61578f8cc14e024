package supervise

import (
	"time"
)

// Taking a timer back after a re-exec or a crash (docs/design.md,
// "Crash and re-exec"). Its state, last trigger, spent one-shot elapses
// and the triggered unit's last changes are restored as saved; what
// lived only in the old process — the typed [Timer] section and the
// alarm — is made again, and the next elapse is computed afresh from
// the restored bases, as a start would, but without a new invocation,
// stamp or condition check.
//
// What is approximated: the saved times are wall-clock times (a
// monotonic reading dies with its process), so a monotonic base
// (OnUnitActiveSec=, OnActiveSec=, a last trigger) is placed back on
// the clock's time line through the wall clock: a clock set while no
// manager ran moves them. OnStartupSec= counts from the first process's
// start across a re-exec, and from the new manager's start after a
// crash (a new manager, as systemd counts it). RandomizedDelaySec= draws
// a new delay. A calendar elapse missed while no manager ran is made
// once at once, as Persistent= would make it.

// resumeTimers re-arms the restored timers; call it after every other
// unit was restored, so that a running timer sees whether its unit
// still runs.
func (m *Manager) resumeTimers(ts []*timer, inherited bool) {
	if inherited {
		m.restoreStartup(ts)
	}
	for _, t := range ts {
		t.resume(m)
	}
}

// restoreStartup keeps OnStartupSec='s base across a re-exec: the
// manager started when the first process did.
func (m *Manager) restoreStartup(ts []*timer) {
	for _, t := range ts {
		if t.saved == nil {
			continue
		}
		if s := t.saved.Startup; !s.IsZero() {
			m.timerEnv().Startup = m.onClock(s)
			return
		}
	}
}

// onClock places wall-clock time w on the clock's time line (with a
// monotonic reading, as the clock's own times have).
func (m *Manager) onClock(w time.Time) time.Time {
	if w.IsZero() {
		return w
	}
	now := m.clock.Now()
	return now.Add(w.Round(0).Sub(now.Round(0)))
}

func (t *timer) resume(m *Manager) {
	switch t.state {
	case Waiting, Running, Elapsed:
	default:
		return // dead or failed: nothing armed
	}
	env := m.timerEnv()
	t.env = env
	spec, ok := m.timerSpec(t.def)
	if !ok {
		t.reason = "the unit's [Timer] section is not usable (see its load warnings)"
		t.enterDead(m, ResultResources)
		return
	}
	t.spec = spec
	s := t.saved
	if s == nil {
		s = &savedTimer{}
	}
	t.saved = nil // taken back: the memory of ten thousand timers is not kept
	t.last, t.lastWall = m.onClock(s.Last), s.LastWall
	t.unitUp, t.unitDown = m.onClock(s.UnitUp), m.onClock(s.UnitDown)
	t.unitIsUp = false
	if v := m.units[spec.Unit]; v != nil {
		t.unitIsUp = v.state.Active() != Inactive && v.state != Failed
	}
	if t.state == Running && t.unitIsUp {
		// The run goes on; the unit's end brings the timer back to
		// waiting (onUnitChanged).
		return
	}
	t.enterWaiting(m, false)
}
