package supervise

import (
	"encoding/json"
	"fmt"
	"syscall"
)

// passive is what units that run no process of their own share: they
// are active when started and inactive when stopped, with nothing in
// between. Their states are Dead and Running, shown as systemd shows a
// target's: "dead" and "active". The passive kinds embed it and add
// their own start.
type passive struct{ *rt }

// activate is a passive unit's start. before and after, if not empty,
// are logged (with the unit's description) around the state change.
func (p passive) activate(m *Manager, before, after string) {
	u := p.rt
	if u.state.Active() == Active {
		m.jobs.unitChanged(u)
		return
	}
	if !m.checkConditions(u) {
		return
	}
	if before != "" {
		m.event(u, prioWarn, before, u.name, u.def.Kind)
	}
	u.result = ResultSuccess
	m.setState(u, Running)
	if after != "" {
		m.event(u, prioInfo, after, u.describe())
	}
}

func (p passive) stop(m *Manager) {
	u := p.rt
	if u.state.Active() != Inactive && u.state != Failed {
		m.setState(u, Dead)
	} else {
		m.jobs.unitChanged(u)
	}
}

func (p passive) reload(m *Manager) {
	m.jobs.fail(p.rt, "failed", "Job type reload is not applicable for unit "+p.name+".")
}

// event: a passive unit has no process, deadline or descriptor, so
// nothing reaches it.
func (passive) event(*Manager, unitEvent) {}

func (p passive) sub() string {
	if p.state.Active() == Active {
		return "active"
	}
	return "dead"
}

func (passive) status(*Status) {}

func (p passive) kill(_ *Manager, who string, _ syscall.Signal) error {
	switch who {
	case "main", "control":
		return fmt.Errorf("no %s process to kill for %s", who, p.name)
	case "all", "":
		return nil
	}
	return fmt.Errorf("unknown kill target %q (want main, control or all)", who)
}

func (passive) resetFailed() {}

func (passive) save() (json.RawMessage, error) { return nil, nil }

func (passive) restore(json.RawMessage) error { return nil }

// target is the engine of .target units: a synchronization point, reached
// once the units it pulls in are (its start job is ordered after theirs).
type target struct{ passive }

func (t *target) start(m *Manager) { t.activate(m, "", "Reached target %s.") }

// external is the engine of units tend does not run: the kinds other
// managers own (mounts, devices, paths, …), which the plan gives no
// jobs. A start that comes anyway makes them active, with a warning
// that nothing was done.
type external struct{ passive }

func (e *external) start(m *Manager) {
	e.activate(m, "%s: tend does not run .%s units yet; treating it as active.", "")
}
