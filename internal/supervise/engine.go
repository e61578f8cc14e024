package supervise

import (
	"encoding/json"
	"syscall"

	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/unit"
)

// An engine runs one kind of unit (service, target, …), the way a
// UnitVTable does in systemd: the manager owns what every unit has — its
// state and generation, result, timestamps, job, conditions, cgroup —
// and calls the engine of the unit's kind for everything that differs.
// The manager loop dispatches on the engine and never asks which kind a
// unit is.
//
// Every unit has its own engine value, which holds the kind's runtime
// state and embeds the unit's *rt (as systemd's Service starts with its
// Unit). All methods run on the manager loop. See docs/design.md, "How
// to add a kind of unit".
type engine interface {
	// start, stop and reload are the job entry points: the job engine
	// calls them once the jobs the unit is ordered after are done, and
	// the job finishes when the unit reaches the state it was for (see
	// jobQueue.check). A job the kind cannot do is refused with
	// m.jobs.fail; one that is already done or under way is left alone
	// (m.jobs.unitChanged lets the job see that).
	start(m *Manager)
	stop(m *Manager)
	reload(m *Manager)
	// event delivers one of the unitEvents below. Events a kind has no
	// use for in a state are ignored.
	event(m *Manager, ev unitEvent)
	// sub is the sub-state as status shows it ("running", "listening",
	// "waiting", "active", …).
	sub() string
	// status adds the kind's own fields to a snapshot.
	status(st *Status)
	// kill signals the unit's processes: "main", "control" or "all".
	kill(m *Manager, who string, sig syscall.Signal) error
	// resetFailed forgets what reset-failed forgets beyond the common
	// state (restart counters, …).
	resetFailed()
	// save returns the kind's runtime state that must outlive the
	// manager (daemon-reexec, a crash); restore puts it back into a
	// fresh engine of the same kind. Processes and file descriptors are
	// only recorded here: taking them back is the caller's to check.
	save() (json.RawMessage, error)
	restore(data json.RawMessage) error
}

// newEngine gives u the engine of its kind. This is the one place that
// looks at what kind a unit is.
func newEngine(u *rt) engine {
	switch u.def.Kind {
	case unit.KindService:
		u.grouped = true
		return &service{rt: u}
	case unit.KindTarget:
		return &target{passive{u}}
	case unit.KindSocket:
		return &socket{rt: u}
	case unit.KindSvdir:
		return newSvdirUnit(u)
	case unit.KindTimer:
		return &timer{rt: u}
	}
	return &external{passive{u}}
}

// engineKind names u's engine in saved state and tables.
func engineKind(e engine) string {
	switch e.(type) {
	case *service:
		return "service"
	case *target:
		return "target"
	case *socket:
		return "socket"
	case *svdirUnit:
		return "svdir"
	case *timer:
		return "timer"
	}
	return "external"
}

// unitEvent is something that happened to one unit, delivered to its
// engine. The manager routes the outside world to units (a reaped pid
// to the unit that spawned it, a notify datagram to its sender's unit)
// and drops events armed in an earlier state (evFor).
type unitEvent interface{}

// Events every engine may receive.
type (
	// procExit: a process the unit registered in m.pids ended, or could
	// not be started (pid 0).
	procExit struct {
		pid  int
		role role
		st   exitStatus
	}
	// deadline: the state's deadline (m.arm) passed.
	deadline struct{}
	// notified: an sd_notify message from one of the unit's processes
	// (role 0: from its cgroup, neither main nor control).
	notified struct {
		msg  notify.Message
		role role
	}
	// groupEmpty: the unit's cgroup has no process left (m.watchEmpty).
	groupEmpty struct{}
	// alarm: the unit's own deadline (m.setAlarm) passed. Unlike the
	// state's deadline it spans state changes: timer units keep their
	// next elapse in it.
	alarm struct{}
	// readable: a file descriptor the unit watches (m.watchFD) can be
	// read: a socket unit's listener has a connection or datagram.
	readable struct{ fd int }
)

// evFor carries ev to u's engine, unless u has changed state since gen:
// the events of timers and watchers armed for one state.
type evFor struct {
	u   *rt
	gen uint64
	ev  unitEvent
}

// evKind carries ev to u's engine whatever u's state; the engine checks
// whether it is still wanted (the watchdog and alarms have generations
// of their own).
type evKind struct {
	u  *rt
	ev unitEvent
}

// postState queues ev for u's engine, to be dropped if u leaves its
// current state first.
func (m *Manager) postState(u *rt, ev unitEvent) {
	m.box.put(evFor{u: u, gen: u.gen, ev: ev})
}

// start, stop and reload run a job on u's engine.
func (m *Manager) start(u *rt) { u.eng.start(m) }

func (m *Manager) stop(u *rt) {
	u.stopIntent = true
	u.startAfterStop = false
	u.eng.stop(m)
}

func (m *Manager) reload(u *rt) { u.eng.reload(m) }
