package supervise

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/unit"
)

// rt is the runtime state every unit has, whatever its kind; what a
// kind adds lives in its engine (eng), which embeds the rt. Only the
// manager loop touches it.
type rt struct {
	name   string
	def    *unit.Unit
	eng    engine
	state  SubState
	result Result
	since  time.Time // last change of ActiveState
	// gen changes with every state change; timers and watchers armed in an
	// older generation are ignored when they fire.
	gen   uint64
	timer clock.Timer
	// cancelWatch ends the goroutines that watch for this generation's
	// cgroup emptiness or PID file.
	cancelWatch chan struct{}

	// upholds and upheldBy name the units of Upholds= in both directions,
	// resolved once per plan: state changes consult them.
	upholds, upheldBy []string

	// grouped: the kind runs processes in a cgroup of the unit's (cg),
	// made at the start (prepare), or ahead of it (cgNext, prepareGroups).
	grouped   bool
	cg        *cgroup.Group
	cgNext    *nextGroup
	emptySeen uint64 // Manager.evSeq of the event that found cg empty (groupBusy)
	// limitsCg and limitsDef are the group and definition whose resource
	// limits were applied last (limits.go).
	limitsCg  *cgroup.Group
	limitsDef *unit.Unit

	invocation invocationID
	startTimes []time.Time // for the start limit

	alarm       *alarmEntry // the engine's alarm (setAlarm), or nil
	triggeredBy string      // the unit that last triggered a start of this one
	// transient: a per-connection instance the plan does not know, and
	// the socket that owns it (socket_accept.go); nil for plan units.
	transient *transientRef

	job             *job
	stopIntent      bool // a stop was requested: never auto-restart
	restarting      bool // stop half of a restart: use RestartKillSignal
	startAfterStop  bool // a start arrived while stopping
	skipped         bool // last start skipped by a condition
	conditionFailed string
}

// setState moves u to s, bumping the generation so that timers and
// watchers of the old state are ignored, and tells the jobs, Upholds=
// and OnChange. An engine with state of its own to end with a state
// enters states through a function of its own that calls this one
// (service.enter).
func (m *Manager) setState(u *rt, s SubState) {
	old := u.state
	u.state = s
	u.gen++
	m.touch(u)
	if _, ok := u.eng.(*socket); ok {
		m.listenersMoved = true
	}
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if u.cancelWatch != nil {
		close(u.cancelWatch)
		u.cancelWatch = nil
	}
	if old.Active() != s.Active() || u.since.IsZero() {
		u.since = m.clock.Now()
	}
	m.jobs.unitChanged(u)
	m.noteUpholds(u, old, s)
	m.noteTriggered(u)
	if m.opts.OnChange != nil {
		m.opts.OnChange(u.name, s.Active(), u.eng.sub())
	}
}

// arm sets the one deadline of u's current state. Zero or Infinity means
// no deadline: an idle tend arms no timers at all.
func (m *Manager) arm(u *rt, d time.Duration) {
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	m.toArm = slices.DeleteFunc(m.toArm, func(a pendingArm) bool { return a.u == u })
	if d <= 0 || d == unit.Infinity {
		return
	}
	if m.handling {
		m.toArm = append(m.toArm, pendingArm{u: u, d: d, gen: u.gen})
		return
	}
	m.startTimer(u, d, u.gen)
}

func (m *Manager) startTimer(u *rt, d time.Duration, gen uint64) {
	u.timer = m.clock.AfterFunc(d, func() { m.box.put(evFor{u: u, gen: gen, ev: deadline{}}) })
}

// pendingArm is a deadline armed while an event is handled, made a timer
// only once the event is done (armPending) and only if its state still
// holds: a restart passes through four or five states with a deadline
// each (stopping, StartPre=, start, StartPost=) and ends in one without,
// so it would otherwise make and stop as many timers, some ahead of its
// fork.
type pendingArm struct {
	u   *rt
	d   time.Duration
	gen uint64
}

// armed reports whether u's current state has a deadline.
func (m *Manager) armed(u *rt) bool {
	return u.timer != nil || slices.ContainsFunc(m.toArm, func(a pendingArm) bool { return a.u == u && a.gen == u.gen })
}

// armPending makes the timers of the deadlines armed while the last event
// was handled whose states still hold; setState, which ends a state's
// deadline, bumps the generation.
func (m *Manager) armPending() {
	for _, a := range m.toArm {
		if a.u.gen == a.gen {
			m.startTimer(a.u, a.d, a.gen)
		}
	}
	clear(m.toArm)
	m.toArm = m.toArm[:0]
}

// watchCtx returns the channel that closes when u leaves its current state.
func (u *rt) watchCtx() <-chan struct{} {
	if u.cancelWatch == nil {
		u.cancelWatch = make(chan struct{})
	}
	return u.cancelWatch
}

// invocationID names one activation of a unit (systemd's INVOCATION_ID):
// 128 random bits, kept as bytes so that a started unit has no string
// of it on the heap (10,000 waiting timers are a measured budget).
type invocationID [16]byte

func newInvocationID() invocationID {
	var id invocationID
	_, _ = rand.Read(id[:])
	return id
}

// String is the ID as systemd prints it, 32 hex digits; "" for none.
func (id invocationID) String() string {
	if id == (invocationID{}) {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// parseInvocationID reads String's form back; anything else is no ID.
func parseInvocationID(s string) invocationID {
	var id invocationID
	if b, err := hex.DecodeString(s); err == nil && len(b) == len(id) {
		copy(id[:], b)
	}
	return id
}

// describe is the "name - description" form systemd uses in its messages.
func (u *rt) describe() string {
	if u.def.Description != "" && u.def.Description != u.name {
		return u.name + " - " + u.def.Description
	}
	return u.name
}
