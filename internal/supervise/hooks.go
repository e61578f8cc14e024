package supervise

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/plan"
)

// What engines of kinds still to come (socket, timer, service
// directory) use from the manager beyond the job entry points: an alarm
// per unit that spans states, starting another unit (triggering), and
// saving and restoring their state. Watching file descriptors is in
// fdwatch.go.

// alarms holds every unit's alarm in one heap, with one clock timer for
// the earliest: ten thousand timer units cost one timer, and none at
// all while no alarm is set. Owned by the loop.
type alarms struct {
	h     alarmHeap
	timer clock.Timer // the last armed: precise, or the clock's AfterFunc
	// precise is made at the first arming and kept for the loop's life.
	precise clock.Alarm
	at      time.Time // when timer fires; zero when none is armed
}

type alarmEntry struct {
	u   *rt
	at  time.Time
	idx int
}

type alarmHeap []*alarmEntry

func (h alarmHeap) Len() int           { return len(h) }
func (h alarmHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h alarmHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *alarmHeap) Push(x any)        { e := x.(*alarmEntry); e.idx = len(*h); *h = append(*h, e) }
func (h *alarmHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}

// evAlarms: the alarm timer fired.
type evAlarms struct{}

// setAlarm asks for an alarm event for u's engine at at (the clock's
// time), replacing u's previous alarm; a zero at clears it. Unlike the
// state's deadline (arm) it survives state changes: a timer unit keeps
// its next elapse here while it triggers its service.
func (m *Manager) setAlarm(u *rt, at time.Time) {
	a := &m.alarms
	if e := u.alarm; e != nil {
		heap.Remove(&a.h, e.idx)
		u.alarm = nil
	}
	if !at.IsZero() {
		u.alarm = &alarmEntry{u: u, at: at}
		heap.Push(&a.h, u.alarm)
	}
	m.armAlarms()
}

// armAlarms keeps the one clock timer set for the earliest alarm.
func (m *Manager) armAlarms() {
	a := &m.alarms
	var next time.Time
	if len(a.h) > 0 {
		next = a.h[0].at
	}
	if next.Equal(a.at) {
		return
	}
	a.at = next
	if next.IsZero() {
		if a.timer != nil {
			a.timer.Stop()
		}
		return
	}
	d := next.Sub(m.clock.Now())
	if a.precise != nil || m.newPreciseAlarm() {
		a.precise.Reset(d)
		a.timer = a.precise
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = m.clock.AfterFunc(d, m.postAlarms)
}

// postAlarms runs on the clock's goroutine when the alarm timer fires.
func (m *Manager) postAlarms() { m.box.put(evAlarms{}) }

// newPreciseAlarm makes the alarms' clock timer, re-armed for every
// deadline, a precise one where the clock has it: a timer unit with
// AccuracySec=1us is due to the microsecond and the runtime's timers
// wake up to a millisecond late. False: the clock's AfterFunc serves.
func (m *Manager) newPreciseAlarm() bool {
	p, ok := m.clock.(clock.Precise)
	if !ok {
		return false
	}
	al, err := p.NewAlarm(m.postAlarms)
	if err != nil {
		m.opts.Logger.Warn("supervise: alarms fall back to the runtime's timers", "err", err)
		return false
	}
	m.alarms.precise = al
	return true
}

// stopAlarms stops the alarms' clock timer when the loop ends and
// closes a precise one, whose goroutine waits for it.
func (m *Manager) stopAlarms() {
	a := &m.alarms
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.precise != nil {
		a.precise.Close()
	}
	a.timer, a.precise, a.at = nil, nil, time.Time{}
}

// onAlarms delivers every alarm that is due and re-arms for the rest.
func (m *Manager) onAlarms() {
	a := &m.alarms
	a.at = time.Time{}
	now := m.clock.Now()
	for len(a.h) > 0 && !a.h[0].at.After(now) {
		e := heap.Pop(&a.h).(*alarmEntry)
		e.u.alarm = nil
		m.mayChange(e.u)
		e.u.eng.event(m, alarm{})
	}
	m.armAlarms()
}

// trigger starts target on behalf of u (a socket with a connection, a
// timer that elapsed), as a start job like any other, and records that
// u triggered it: status shows the relation both ways. An error (no
// such unit, a destructive transaction) is logged in u's journal and
// returned for the engine to decide what it means for u.
func (m *Manager) trigger(u *rt, target string) error {
	v, err := m.lookup(target)
	if err != nil {
		m.event(u, prioWarn, "%s: cannot trigger %s: %v", u.name, target, err)
		return err
	}
	if v.state.starting() || v.state.Active() == Active || v.state.Active() == Reloading {
		// The start job merges with the one the run already has (a
		// oneshot is activating until it ends) or finds the unit up:
		// nothing is started twice, as cron never starts a job that is
		// still running. Say so where the job's output goes.
		m.event(v, prioInfo, "%s: still running since %s, not started again (triggered by %s).",
			v.name, v.since.Format(time.DateTime), u.name)
	}
	tx, err := m.plan.Transaction(plan.Start, []string{v.name}, plan.Replace, m.activeState)
	if err == nil {
		_, err = m.jobs.submit(tx)
	}
	if err != nil {
		m.event(u, prioWarn, "%s: cannot trigger %s: %v", u.name, v.name, err)
		return fmt.Errorf("unit %s: cannot trigger %s: %w", u.name, v.name, err)
	}
	v.triggeredBy = u.name
	return nil
}

// SavedUnit is one unit's state as it outlives the manager: the common
// part, and the kind's own, which only an engine of the same kind
// reads back.
type SavedUnit struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	State      string          `json:"state"`
	Result     Result          `json:"result,omitempty"`
	Since      time.Time       `json:"since,omitzero"`
	Invocation string          `json:"invocation,omitempty"`
	StartTimes []time.Time     `json:"start_times,omitempty"`
	Engine     json.RawMessage `json:"engine,omitempty"`
	// FDs is the unit's fd store: descriptors by name that a re-exec
	// keeps open for the unit (a socket unit's listeners). Only a
	// re-exec gives them back; after a crash the numbers mean nothing.
	FDs map[string]int `json:"fds,omitempty"`
	// Transient marks a per-connection instance of an Accept=yes
	// socket, which the plan does not hold (socket_reexec.go).
	Transient *SavedTransient `json:"transient,omitempty"`
}

// fdKeeper is an engine that owns descriptors which must survive a
// re-exec (a socket unit's listeners): saveFDs names them, restoreFDs
// gets them back in the new process, before the engine's state is used.
type fdKeeper interface {
	saveFDs() map[string]int
	restoreFDs(fds map[string]*os.File)
}

// saveUnit records u's state (issue 15 writes it down).
func (m *Manager) saveUnit(u *rt) (SavedUnit, error) {
	data, err := u.eng.save()
	if err != nil {
		return SavedUnit{}, fmt.Errorf("unit %s: %w", u.name, err)
	}
	su := SavedUnit{
		Name: u.name, Kind: engineKind(u.eng), State: u.state.String(), Result: u.result,
		Since: u.since, Invocation: u.invocation.String(), StartTimes: u.startTimes, Engine: data,
	}
	if k, ok := u.eng.(fdKeeper); ok {
		su.FDs = k.saveFDs()
	}
	if u.transient != nil {
		su.Transient, su.FDs = u.transient.save()
	}
	return su, nil
}

// restoreUnit puts saved state back into u, which must be inactive and
// of the same kind. The state itself is restored as recorded; taking
// processes and descriptors back (and so whether that state still
// holds) is the caller's.
func (m *Manager) restoreUnit(u *rt, s SavedUnit) error {
	if k := engineKind(u.eng); k != s.Kind {
		return fmt.Errorf("unit %s: saved as a %s, now a %s", u.name, s.Kind, k)
	}
	st, ok := parseSubState(s.State)
	if !ok {
		return fmt.Errorf("unit %s: unknown state %q", u.name, s.State)
	}
	if err := u.eng.restore(s.Engine); err != nil {
		return err
	}
	u.state, u.result, u.since, u.invocation, u.startTimes = st, s.Result, s.Since, parseInvocationID(s.Invocation), s.StartTimes
	u.gen++
	return nil
}

func parseSubState(name string) (SubState, bool) {
	for s := Dead; s < numSubStates; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}
