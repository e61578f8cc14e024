package supervise

import (
	"slices"

	"github.com/tendproject/tend/internal/plan"
)

// reloadTimers applies a daemon-reload (or a crontab re-read) to the
// timers whose unit changed, as systemd does when it reloads: a waiting
// timer takes the new [Timer] section and computes its next elapse from
// it (from its last trigger, so a run is neither lost nor repeated);
// a running or elapsed one takes it too and uses it when it next waits.
//
// A timer whose unit did not change keeps its typed spec but reads its
// calendar from the new load of the unit (see timerspec.Spec.Rebind),
// so the previous load can be collected.
func (m *Manager) reloadTimers(ch plan.Changes) {
	for _, name := range ch.Changed {
		if u := m.units[name]; u != nil {
			if t, ok := u.eng.(*timer); ok {
				t.refresh(m)
			}
		}
	}
	for _, u := range m.units {
		t, ok := u.eng.(*timer)
		if !ok || t.spec == nil {
			continue
		}
		if _, changed := slices.BinarySearch(ch.Changed, u.name); !changed {
			t.spec.Rebind(u.def)
		}
	}
}

// refresh re-reads the unit of a started timer; see reloadTimers.
func (t *timer) refresh(m *Manager) {
	if t.spec == nil || (t.state != Waiting && t.state != Running && t.state != Elapsed) {
		return
	}
	spec, ok := m.timerSpec(t.def)
	if !ok {
		m.event(t.rt, prioWarn, "%s: the new definition is not usable; keeping the running one.", t.name)
		return
	}
	if !slices.Equal(spec.Monotonic, t.spec.Monotonic) {
		t.spent = 0 // the one-shot bits index the old list
	}
	t.spec = spec
	if t.state == Waiting {
		t.enterWaiting(m, false)
	}
}
