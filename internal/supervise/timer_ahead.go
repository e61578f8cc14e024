package supervise

import "time"

// A timer knows when it will start its unit. What that start needs from
// the kernel before the fork (the unit's cgroup: a mkdir per hierarchy,
// taking the kernel's cgroup lock that every other start and exit on the
// machine contends for, and its limits written) is made prepareLead
// ahead of the elapse, so that
// at the elapse the start only forks: a timer with AccuracySec=1us runs
// its job within the fork's time of its due time.

// prepareLead is how long before its elapse a timer wakes to prepare the
// start: longer than making a cgroup takes on a busy machine, short
// enough that a prepared group seldom waits long for its process.
const prepareLead = 20 * time.Millisecond

// preparable: the triggered unit has no cgroup and is down, so its start
// would make one.
func (t *timer) preparable(m *Manager) bool {
	if t.prepared || t.spec == nil || m.opts.Cgroups == nil {
		return false
	}
	v := m.units[t.spec.Unit]
	return v != nil && v.grouped && v.cg == nil && v.cgNext == nil && v.job == nil && (v.state == Dead || v.state == Failed)
}

// prepare makes the triggered unit's cgroup if it is preparable. A
// failure is left for the start to meet and report.
func (t *timer) prepare(m *Manager) {
	if !t.preparable(m) {
		return
	}
	v := m.units[t.spec.Unit]
	g, err := m.newGroup(v)
	if err != nil {
		return
	}
	v.cg = g
	m.applyLimits(v) // its limits too, which the start then finds written
	t.prepared = true
}

// unprepare removes the group prepare made when the start it was made
// for will not come (the timer stopped), unless the unit has started
// since or the group is not empty, as a unit that went down keeps only a
// group with leftovers.
func (t *timer) unprepare(m *Manager) {
	if !t.prepared {
		return
	}
	t.prepared = false
	v := m.units[t.spec.Unit]
	if v == nil || v.cg == nil || v.job != nil || (v.state != Dead && v.state != Failed) || m.groupBusy(v) {
		return
	}
	if v.cg.Remove() == nil {
		v.cg = nil
	}
}
