package supervise

import (
	"context"
	"slices"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// Status is a snapshot of one unit's runtime state.
type Status struct {
	Name         string
	Def          *unit.Unit
	Active       ActiveState
	Sub          string
	Result       Result
	Since        time.Time
	MainPID      int
	ExecMainPID  int // the last main process, running or not
	ControlPID   int
	ExecMainCode string
	ExecMainStat int
	StatusText   string
	Errno        int
	NRestarts    int
	Job          string // kind of the pending job, if any
	JobState     string // waiting, running
	InvocationID string
	Cgroup       string
	Tasks        int
	MemoryBytes  uint64
	// MemoryMax and TasksMax are the limits in force in the unit's
	// cgroup (detail only); -1 = none.
	MemoryMax, TasksMax int64
	CPUNanos            uint64
	PIDs                []int
	External            string // why tend does not run this unit, if it doesn't
	// Triggers and TriggeredBy are the units a socket or timer starts and
	// the sockets and timers that start this one (from the plan);
	// LastTriggeredBy is the one whose trigger started it last.
	Triggers, TriggeredBy []string
	LastTriggeredBy       string
	SkippedBy             string // the condition that skipped the last start
	// WatchdogUSec is the watchdog timeout of the current (or last) run:
	// WatchdogSec=, or what the service set with WATCHDOG_USEC=; 0 for
	// none. WatchdogTimestamp is the last keep-alive (or the arming), zero
	// while no watchdog runs.
	WatchdogUSec      time.Duration
	WatchdogTimestamp time.Time
	// Socket units: their listeners, connections accepted in all,
	// connections open now, and connections refused (MaxConnections=,
	// IPAddressDeny=, …).
	Listen                            []Listen
	NAccepted, NConnections, NRefused uint64
	// Timer is a timer unit's schedule and triggers (timer_status.go).
	Timer *TimerStatus
	// ExecRuns are how the commands of the current (or last) activation
	// ended, oldest first; detailed snapshots only.
	ExecRuns []ExecRun
}

// JobResult reports how a requested job ended.
type JobResult struct {
	Unit   string
	Kind   string
	Result string // done, failed, canceled, dependency, assert, skipped, queued
	Err    string
	// TxJobs is how many jobs the request's transaction held, the
	// anchors and every job they pulled in.
	TxJobs int
}

// Jobs queues kind for names as one transaction and, unless noWait, waits
// until the anchor jobs finished.
func (m *Manager) Jobs(ctx context.Context, kind plan.JobKind, names []string, mode plan.Mode, noWait bool) ([]JobResult, error) {
	return m.queueJobs(ctx, kind, names, mode, nil, noWait)
}

// queueJobs is Jobs with, optionally, a transaction prepared ahead.
func (m *Manager) queueJobs(ctx context.Context, kind plan.JobKind, names []string, mode plan.Mode, pre *Prepared, noWait bool) ([]JobResult, error) {
	var anchors []*job
	var anchorNames []string
	var txJobs int
	var err error
	if e := m.do(ctx, func() { anchors, anchorNames, txJobs, err = m.submitJobs(kind, names, mode, pre) }); e != nil {
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	res := make([]JobResult, len(anchors))
	for i, j := range anchors {
		res[i] = JobResult{Unit: anchorNames[i], Kind: j.kind.String(), Result: "queued", TxJobs: txJobs}
		if noWait {
			continue
		}
		select {
		case <-j.done:
			res[i].Result, res[i].Err = j.result, j.err
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, nil
}

// submitJobs queues kind for names as one transaction, on the loop, and
// returns the anchor jobs with their units' names. pre, if not nil, is
// the transaction prepared ahead for this request (preparedFor).
func (m *Manager) submitJobs(kind plan.JobKind, names []string, mode plan.Mode, pre *Prepared) (anchors []*job, anchorNames []string, txJobs int, err error) {
	var planned []string
	for _, n := range names {
		u, lerr := m.lookup(n)
		if lerr != nil {
			return nil, nil, 0, lerr
		}
		// A unit whose file is gone is stopped alone: nothing in the plan
		// orders it or depends on it any more.
		if u.transient != nil || kind == plan.Stop && m.unplanned(u) {
			anchors = append(anchors, m.transientJob(kind, u))
			anchorNames = append(anchorNames, u.name)
			txJobs++
			continue
		}
		planned = append(planned, n)
	}
	if len(planned) == 0 {
		return anchors, anchorNames, txJobs, nil
	}
	tx := m.preparedFor(pre, kind, planned, mode)
	if tx == nil {
		if tx, err = m.plan.Transaction(kind, planned, mode, m.activeState); err != nil {
			return nil, nil, 0, err
		}
	}
	for _, w := range tx.Warnings {
		m.opts.Logger.Warn(w)
	}
	jobs, err := m.jobs.submit(tx)
	if err != nil {
		return nil, nil, 0, err
	}
	for i, pj := range tx.Jobs {
		if pj.Anchor {
			anchors = append(anchors, jobs[i])
			anchorNames = append(anchorNames, pj.Unit)
		}
	}
	return anchors, anchorNames, txJobs + len(tx.Jobs), nil
}

// Status returns the snapshot of one unit.
func (m *Manager) Status(ctx context.Context, name string) (Status, error) {
	var st Status
	var err error
	e := m.do(ctx, func() {
		var u *rt
		if u, err = m.lookup(name); err == nil {
			st = m.snapshot(u, true)
		}
	})
	if e != nil {
		return st, e
	}
	return st, err
}

// List returns snapshots of every loaded unit, sorted by name.
func (m *Manager) List(ctx context.Context) ([]Status, error) {
	var out []Status
	err := m.do(ctx, func() {
		for _, u := range m.units {
			out = append(out, m.snapshot(u, false))
		}
	})
	slices.SortFunc(out, func(a, b Status) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, err
}

func (m *Manager) snapshot(u *rt, detail bool) Status {
	st := Status{
		Name: u.name, Def: u.def, Active: u.state.Active(), Sub: u.eng.sub(),
		Result: u.result, Since: u.since, InvocationID: u.invocation.String(), SkippedBy: u.conditionFailed,
	}
	u.eng.status(&st)
	if st.Result == "" {
		st.Result = ResultSuccess
	}
	if u.job != nil {
		st.Job, st.JobState = u.job.kind.String(), "waiting"
		if u.job.running {
			st.JobState = "running"
		}
	}
	if reason, ok := m.plan.External(u.name); ok {
		st.External = reason
	}
	rev := m.plan.Reverse(u.name)
	st.TriggeredBy, st.LastTriggeredBy = rev.TriggeredBy, u.triggeredBy
	if st.Triggers == nil { // else the engine knows better (Accept=yes instances)
		st.Triggers = rev.Triggers
	}
	if u.transient != nil {
		st.TriggeredBy = []string{u.transient.owner.name}
	}
	if u.cg != nil {
		st.Cgroup = u.cg.Path()
		if detail {
			s := u.cg.Stats()
			st.Tasks, st.MemoryBytes, st.CPUNanos = int(s.Tasks), uint64(max(s.MemoryBytes, 0)), uint64(max(s.CPUNanos, 0))
			st.PIDs, _ = u.cg.PIDs()
			st.MemoryMax, st.TasksMax = u.cg.Maxima()
		}
	}
	return st
}

// Kill sends sig to the main, control or all processes of each unit.
func (m *Manager) Kill(ctx context.Context, names []string, who string, sig syscall.Signal) error {
	var err error
	e := m.do(ctx, func() {
		for _, n := range names {
			u, lerr := m.lookup(n)
			if lerr != nil {
				err = lerr
				return
			}
			if kerr := m.kill(u, who, sig); kerr != nil {
				err = kerr
				return
			}
		}
	})
	if e != nil {
		return e
	}
	return err
}

func (m *Manager) kill(u *rt, who string, sig syscall.Signal) error {
	return u.eng.kill(m, who, sig)
}

// ResetFailed returns failed units to inactive and forgets their start
// limit counters; with no names, all units.
func (m *Manager) ResetFailed(ctx context.Context, names []string) error {
	var err error
	e := m.do(ctx, func() {
		targets := []*rt{}
		if len(names) == 0 {
			for _, u := range m.units {
				targets = append(targets, u)
			}
		}
		for _, n := range names {
			u, lerr := m.lookup(n)
			if lerr != nil {
				err = lerr
				return
			}
			targets = append(targets, u)
		}
		for _, u := range targets {
			u.startTimes = nil
			u.eng.resetFailed()
			if u.state == Failed {
				u.result = ResultSuccess
				m.setState(u, Dead)
			}
		}
	})
	if e != nil {
		return e
	}
	return err
}

// Reload installs a new plan (daemon-reload). Running units keep running;
// the names of those whose definition changed are returned.
func (m *Manager) Reload(ctx context.Context, p *plan.Plan) (plan.Changes, error) {
	var ch plan.Changes
	err := m.do(ctx, func() { ch = m.applyPlan(p) })
	return ch, err
}

// applyPlan installs p on the loop and applies its changes to the
// units that run.
func (m *Manager) applyPlan(p *plan.Plan) plan.Changes {
	ch := plan.Diff(m.plan, p)
	m.setPlan(p)
	m.reloadSockets(ch)
	m.reloadTimers(ch)
	for _, u := range m.units {
		if up(u.state) {
			m.checkUpheld(u) // new definitions may uphold units that are down
		}
	}
	return ch
}

// Settle returns once the loop has handled every event queued before
// the call and written the state file they changed: what a call just
// made caused is then done, garbage included (a daemon-reload's write
// re-encodes every unit), so memory trimmed after Settle stays trimmed.
func (m *Manager) Settle(ctx context.Context) error {
	return m.do(ctx, func() {})
}

// Plan returns the plan in force.
func (m *Manager) Plan(ctx context.Context) (*plan.Plan, error) {
	var p *plan.Plan
	err := m.do(ctx, func() { p = m.plan })
	return p, err
}

// Shutdown stops every unit that is not inactive, in reverse dependency
// order, and waits for the stop jobs (bounded by ctx).
func (m *Manager) Shutdown(ctx context.Context) error {
	var names []string
	if err := m.do(ctx, func() {
		for _, u := range m.units {
			if u.state.Active() != Inactive && u.state != Failed || u.state == AutoRestart {
				names = append(names, u.name)
			}
		}
	}); err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	_, err := m.Jobs(ctx, plan.Stop, names, plan.Replace, false)
	return err
}

// ProcessUnits maps the known main and control pids to their units.
func (m *Manager) ProcessUnits(ctx context.Context) (map[int]string, error) {
	out := map[int]string{}
	err := m.do(ctx, func() {
		for pid, ref := range m.pids {
			out[pid] = ref.u.name
		}
	})
	return out, err
}
