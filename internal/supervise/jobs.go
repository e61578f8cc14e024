package supervise

import (
	"fmt"

	"github.com/tendproject/tend/internal/plan"
)

const (
	jobStart = plan.Start
	jobStop  = plan.Stop
)

// job is one queued or running job of a unit. Jobs wait for the jobs they
// are ordered after, and fail with "dependency" when a job they require
// fails; nothing else orders them, so independent units start in parallel.
type job struct {
	u        *rt
	kind     plan.JobKind
	phase    int // restart: 0 stopping, 1 starting
	waitFor  int // predecessors not yet finished
	succ     []*job
	deps     []*job // fail with "dependency" when this job fails
	running  bool
	finished bool
	result   string
	err      string
	done     chan struct{}
}

type jobQueue struct {
	m *Manager
}

// evJobCheck re-examines u's job after a state change. It is an event,
// not a direct call, so the state machine never re-enters itself through
// a job finishing.
type evJobCheck struct{ u *rt }

func newJobQueue(m *Manager) *jobQueue { return &jobQueue{m: m} }

// unitChanged is called on every state change of u.
func (q *jobQueue) unitChanged(u *rt) {
	if u.job != nil {
		q.m.box.put(evJobCheck{u: u})
	}
}

// submit queues the jobs of tx and returns the job of every entry, in
// tx's order (a merged job may appear for several requests).
func (q *jobQueue) submit(tx *plan.Transaction) ([]*job, error) {
	m := q.m
	units := make([]*rt, len(tx.Jobs))
	for i, pj := range tx.Jobs {
		u, err := m.lookup(pj.Unit)
		if err != nil {
			return nil, err
		}
		units[i] = u
		if tx.Mode == plan.Fail && u.job != nil && u.job.kind != pj.Kind {
			return nil, fmt.Errorf("transaction for %s is destructive (%s has '%s' job queued)", pj.Unit, u.name, u.job.kind)
		}
	}
	jobs := make([]*job, len(tx.Jobs))
	fresh := make([]bool, len(tx.Jobs))
	for i, pj := range tx.Jobs {
		u := units[i]
		if old := u.job; old != nil {
			if old.kind == pj.Kind {
				jobs[i] = old
				continue
			}
			q.finish(old, "canceled", "replaced by "+pj.Kind.String()+" job")
		}
		j := &job{u: u, kind: pj.Kind, done: make(chan struct{})}
		u.job = j
		jobs[i], fresh[i] = j, true
	}
	for i, pj := range tx.Jobs {
		if !fresh[i] {
			continue
		}
		j := jobs[i]
		for _, a := range pj.After {
			if p := jobs[a]; p != j && !p.finished {
				p.succ = append(p.succ, j)
				j.waitFor++
			}
		}
		for _, d := range pj.Dependents {
			j.deps = append(j.deps, jobs[d])
		}
	}
	var starting []*rt
	for i, j := range jobs {
		if fresh[i] && (j.kind == plan.Start || j.kind == plan.Restart) && j.u.grouped && j.u.cg == nil && j.u.cgNext == nil {
			starting = append(starting, j.u)
		}
	}
	m.prepareGroups(starting)
	for i, j := range jobs {
		if fresh[i] && j.waitFor == 0 && !j.finished {
			q.run(j)
		}
	}
	return jobs, nil
}

// run starts a job whose predecessors are done.
func (q *jobQueue) run(j *job) {
	m, u := q.m, j.u
	j.running = true
	switch j.kind {
	case plan.Start:
		m.start(u)
	case plan.Stop:
		m.stop(u)
	case plan.Restart:
		if u.state.Active() == Inactive || u.state == Failed || u.state == AutoRestart {
			j.phase = 1
			m.start(u)
			break
		}
		u.restarting = true
		m.stop(u)
	case plan.Reload:
		m.reload(u)
	case plan.VerifyActive:
		if u.state.Active() != Active && u.state.Active() != Reloading {
			q.finish(j, "failed", u.name+" is not active")
			return
		}
		q.finish(j, "done", "")
		return
	default:
		q.finish(j, "failed", "unsupported job type "+j.kind.String())
		return
	}
	q.unitChanged(u)
}

// check finishes u's job if u reached the state the job was for.
func (q *jobQueue) check(u *rt) {
	j := u.job
	if j == nil || !j.running {
		return
	}
	s := u.state
	switch {
	case j.kind == plan.Stop || (j.kind == plan.Restart && j.phase == 0):
		if s != Dead && s != Failed {
			return
		}
		if j.kind == plan.Stop {
			q.finish(j, "done", "")
			return
		}
		j.phase = 1
		u.restarting = false
		q.m.start(u)
		q.unitChanged(u)
	case j.kind == plan.Start || j.kind == plan.Restart:
		q.checkStart(j, s)
	case j.kind == plan.Reload:
		if s == Running || s == Exited {
			q.finish(j, "done", "")
		} else if s.Active() != Reloading {
			q.finish(j, "failed", u.name+" is "+string(s.Active()))
		}
	}
}

func (q *jobQueue) checkStart(j *job, s SubState) {
	u := j.u
	switch {
	case s.Active() == Active:
		q.finish(j, "done", "")
	case s == Failed:
		q.finish(j, "failed", failMessage(u))
	case s == Dead && u.skipped:
		q.finish(j, "done", "skipped: "+u.conditionFailed)
	case s == Dead && !u.startAfterStop:
		q.finish(j, "done", "") // a oneshot that ran to completion
	}
}

func failMessage(u *rt) string {
	switch u.result {
	case ResultStartLimitHit:
		return "start request repeated too quickly"
	case ResultTimeout:
		return "a timeout was exceeded"
	case ResultExitCode:
		return "the control process exited with error code"
	case ResultSignal, ResultCoreDump:
		return "the service process was killed by a signal"
	case ResultResources:
		return "of a lack of resources"
	case ResultProtocol:
		return "the service did not take the steps required by its unit configuration"
	case ResultWatchdog:
		return "the service failed to send watchdog ping"
	case ResultOOMKill:
		return "the kernel's OOM killer ended a process of the unit"
	}
	return string(u.result)
}

// fail finishes u's running job with result.
func (q *jobQueue) fail(u *rt, result, msg string) {
	if u.job != nil {
		q.finish(u.job, result, msg)
	}
}

func (q *jobQueue) finish(j *job, result, msg string) {
	if j.finished {
		return
	}
	j.finished, j.running = true, false
	j.result, j.err = result, msg
	if j.u.job == j {
		j.u.job = nil
	}
	close(j.done)
	if result != "done" {
		for _, d := range j.deps {
			if !d.running && !d.finished {
				q.finish(d, "dependency", "dependency "+j.u.name+" failed")
			}
		}
	}
	for _, s := range j.succ {
		s.waitFor--
		if s.waitFor == 0 && !s.finished {
			q.run(s)
		}
	}
	if (j.kind == plan.Start || j.kind == plan.Restart) && (j.u.state == Dead || j.u.state == Failed) {
		if result != "done" && j.u.transient == nil {
			// The unit did not change state: tell its timers and sockets
			// the start came to nothing, as systemd's job_finish does.
			q.m.noteTriggered(j.u)
		}
		q.stopBound(j.u) // held back while the job ran
	}
}

// submitInternal queues jobs tend decides on by itself (OnFailure=,
// BindsTo=, Upholds=).
func (q *jobQueue) submitInternal(kind plan.JobKind, names []string, mode plan.Mode) {
	tx, err := q.m.plan.Transaction(kind, names, mode, q.m.activeState)
	if err != nil {
		q.m.opts.Logger.Warn("cannot queue jobs", "kind", kind, "units", names, "err", err)
		return
	}
	if _, err := q.submit(tx); err != nil {
		q.m.opts.Logger.Warn("cannot queue jobs", "kind", kind, "units", names, "err", err)
	}
}

// stopBound stops the active units bound to u (BindsTo=) now that u is
// down. While a start or restart job of u runs, u going down is part of
// the job (the stop half of a restart, whose transaction restarts the
// bound units too), so nothing is stopped then; the end of that job
// checks again (finish), as systemd leaves a bound unit alone while the
// unit it is bound to has a job.
func (q *jobQueue) stopBound(u *rt) {
	if j := u.job; j != nil && !j.finished && (j.kind == plan.Start || j.kind == plan.Restart) {
		return
	}
	var names []string
	for _, b := range q.m.plan.Reverse(u.name).BoundBy {
		if v, err := q.m.lookup(b); err == nil && v.state.Active() != Inactive && v.state != Failed && (v.job == nil || v.job.kind != plan.Stop) {
			names = append(names, v.name)
		}
	}
	if len(names) > 0 {
		q.submitInternal(plan.Stop, names, plan.Replace)
	}
}

// activeState is the State function transactions consult.
func (m *Manager) activeState(name string) plan.State {
	u, err := m.lookup(name)
	if err != nil {
		return plan.Inactive
	}
	return plan.State(u.state.Active())
}
