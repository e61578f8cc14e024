package supervise

import (
	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/plan"
)

// transientJob runs a job on a unit the plan does not know (an
// Accept=yes instance): it has no dependencies to order, so the job is
// the unit's alone and runs at once.
func (m *Manager) transientJob(kind plan.JobKind, u *rt) *job {
	if old := u.job; old != nil {
		if old.kind == kind {
			return old
		}
		m.jobs.finish(old, "canceled", "replaced by "+kind.String()+" job")
	}
	j := &job{u: u, kind: kind, done: make(chan struct{})}
	switch kind {
	case plan.Start, plan.Stop, plan.Restart, plan.Reload, plan.VerifyActive:
		u.job = j
		m.jobs.run(j)
	case plan.TryRestart, plan.ReloadOrRestart:
		if up(u.state) {
			j.kind = plan.Restart
			u.job = j
			m.jobs.run(j)
		} else {
			m.jobs.finish(j, "done", "")
		}
	default:
		m.jobs.finish(j, "failed", "Job type "+kind.String()+" is not applicable for unit "+u.name+".")
	}
	return j
}

// submitInternalUnit stops (or starts) u alone, whether or not the plan
// still has it: a socket whose unit a reload removed.
func (q *jobQueue) submitInternalUnit(kind plan.JobKind, u *rt) {
	if _, ok := q.m.plan.Unit(u.name); ok {
		q.submitInternal(kind, []string{u.name}, plan.Replace)
		return
	}
	q.m.transientJob(kind, u)
}

// newGroup creates u's cgroup.
func (m *Manager) newGroup(u *rt) (*cgroup.Group, error) {
	return m.makeCgroup(u.name, u.def, u.transient != nil)
}

// removeGroup removes u's cgroup; a per-connection instance's empty
// group is forgotten at once and its directory removed off the loop
// (the rmdir waits for the kernel, per connection).
func (m *Manager) removeGroup(u *rt) error {
	if u.transient != nil {
		return u.cg.RemoveLater()
	}
	return u.cg.Remove()
}
