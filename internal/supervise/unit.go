package supervise

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/unit"
)

// rt is the runtime state of one unit. Only the manager loop touches it.
type rt struct {
	name   string
	def    *unit.Unit
	state  SubState
	result Result
	since  time.Time // last change of ActiveState
	// gen changes with every state change; timers and watchers armed in an
	// older generation are ignored when they fire.
	gen   uint64
	timer *time.Timer
	// cancelWatch ends the goroutines that watch for this generation's
	// cgroup emptiness or PID file.
	cancelWatch chan struct{}
	pidWatchGen uint64 // gen whose PID file watcher runs (watchPIDFile)

	// The service watchdog has its own deadline and generation: it spans
	// the state changes between start-post, running and reload, which
	// bump gen. wdGen changes whenever the watchdog is re-armed or stopped.
	watchdog   time.Duration // timeout in force for this run (WatchdogSec= or WATCHDOG_USEC=)
	wdGen      uint64
	wdTimer    *time.Timer
	wdLast     time.Time // last keep-alive (or arming); zero while no watchdog runs
	wdDeadline time.Time

	// upholds and upheldBy name the units of Upholds= in both directions,
	// resolved once per plan: state changes consult them.
	upholds, upheldBy []string

	// mainPID is set only through setMain (see mainpid.go).
	mainPID, controlPID int
	mainOrigin          mainOrigin  // how mainPID became the main process
	mainFD              *os.File    // pidfd of an adopted main process, or nil
	mainExit            *exitStatus // how the last main process ended
	lastMainPID         int         // pid of that process
	cmds                []unit.Command
	cmdIdx              int
	cg                  *cgroup.Group
	execRuns            execHistory // how the activation's commands ended (history.go)
	emptySeen           uint64      // Manager.evSeq of the event that found cg empty (groupBusy)

	statusText string
	errno      int
	invocation string
	activeAt   time.Time // entered running, for backoff reset

	startTimes  []time.Time // for the start limit
	nRestarts   int
	restartStep int

	job             *job
	stopIntent      bool // a stop was requested: never auto-restart
	restarting      bool // stop half of a restart: use RestartKillSignal
	startAfterStop  bool // a start arrived while stopping
	skipped         bool // last start skipped by a condition
	stopByNotify    bool // in Stop because the service said STOPPING=1: no ExecStop= runs, the main process is awaited
	conditionFailed string
}

func (u *rt) svc() *unit.Service { return u.def.Service }

// setState moves u to s, bumping the generation so that timers and
// watchers of the old state are ignored.
func (m *Manager) setState(u *rt, s SubState) {
	old := u.state
	u.state = s
	u.gen++
	// What a state's phase was doing ends with it: its command list
	// (runPhase and friends set the new one after this call), and how a
	// stop began. A process of the old phase may still exit later; it
	// finds no command of the new phase to continue with.
	u.cmds, u.cmdIdx = nil, 0
	u.stopByNotify = false
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if u.cancelWatch != nil {
		close(u.cancelWatch)
		u.cancelWatch = nil
	}
	if u.wdTimer != nil && !keepsWatchdog(s) {
		m.stopWatchdog(u)
	}
	if old.Active() != s.Active() || u.since.IsZero() {
		u.since = time.Now()
	}
	if s == Running && old != Running {
		u.activeAt = time.Now()
	}
	m.jobs.unitChanged(u)
	m.noteUpholds(u, old, s)
	if m.opts.OnChange != nil {
		m.opts.OnChange(u.name, s.Active(), u.subName())
	}
}

// arm sets the one deadline of u's current state. Zero or Infinity means
// no deadline: an idle tend arms no timers at all.
func (m *Manager) arm(u *rt, d time.Duration) {
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
	if d <= 0 || d == unit.Infinity {
		return
	}
	gen := u.gen
	u.timer = time.AfterFunc(d, func() { m.box.put(evTimer{u: u, gen: gen}) })
}

// watchCtx returns the channel that closes when u leaves its current state.
func (u *rt) watchCtx() <-chan struct{} {
	if u.cancelWatch == nil {
		u.cancelWatch = make(chan struct{})
	}
	return u.cancelWatch
}

func newInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// describe is the "name - description" form systemd uses in its messages.
func (u *rt) describe() string {
	if u.def.Description != "" && u.def.Description != u.name {
		return u.name + " - " + u.def.Description
	}
	return u.name
}
