package supervise

import "github.com/tendproject/tend/internal/plan"

// Upholds= is a Wants= that is enforced for as long as the upholding unit
// is up: an upheld unit found inactive or failed with no job queued is
// started again, whatever brought it down (an exit, a failure, Restart=
// giving up, a manual stop). The check runs when a state changes, never on
// a timer: when an upheld unit goes down and when an upholder comes up.
// Start limits apply as to any start, so a unit that keeps failing ends
// failed with start-limit-hit instead of looping.

// evUphold asks whether u must be started because an active unit upholds
// it. It is an event, queued behind the job check of the state change
// that caused it, so that a stop job has finished (and no longer hides the
// unit) by the time the check runs.
type evUphold struct{ u *rt }

// resolveUpholds records Upholds= of p's units in both directions on the
// runtime units; units Upholds= names that p does not have are left out.
func (m *Manager) resolveUpholds(p *plan.Plan) {
	for _, u := range m.units {
		u.upholds, u.upheldBy = nil, nil
	}
	for _, u := range m.units {
		for _, name := range p.Deps(u.name).Upholds {
			if v, ok := m.units[name]; ok && v != u {
				u.upholds = append(u.upholds, v.name)
				v.upheldBy = append(v.upheldBy, u.name)
			}
		}
	}
}

// up reports whether s counts as active for Upholds=.
func up(s SubState) bool {
	a := s.Active()
	return a == Active || a == Reloading
}

// noteUpholds queues the checks a change of u from old to s calls for.
func (m *Manager) noteUpholds(u *rt, old, s SubState) {
	if (s == Dead || s == Failed) && s != old && len(u.upheldBy) > 0 {
		m.box.put(evUphold{u: u})
	}
	if up(s) && !up(old) {
		m.checkUpheld(u)
	}
}

// checkUpheld queues a check of every unit u upholds.
func (m *Manager) checkUpheld(u *rt) {
	for _, name := range u.upholds {
		if v, ok := m.units[name]; ok {
			m.box.put(evUphold{u: v})
		}
	}
}

// uphold starts u if it is down, has no job, and a unit that upholds it is
// active without a job of its own (one being stopped or restarted does
// not count, as in systemd).
func (m *Manager) uphold(u *rt) {
	if u.job != nil || (u.state != Dead && u.state != Failed) {
		return
	}
	for _, name := range u.upheldBy {
		by, ok := m.units[name]
		if !ok || by.job != nil || !up(by.state) {
			continue
		}
		m.event(u, prioInfo, "%s: Starting, upheld by active unit %s.", u.name, by.name)
		m.jobs.submitInternal(jobStart, []string{u.name}, plan.Fail)
		return
	}
}
