package supervise

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/unit"
)

// service is the engine of .service units, and their runtime state
// beyond what every unit has. Its states are all of SubState's, as
// systemd names a service's; its transitions are in service.go (start),
// stop.go (stop, deadlines, the end of a run), notified.go and
// watchdog.go.
type service struct {
	*rt

	// mainPID is set only through setMain (see mainpid.go).
	mainPID, controlPID int
	mainOrigin          mainOrigin  // how mainPID became the main process
	mainFD              *os.File    // pidfd of an adopted main process, or nil
	mainExit            *exitStatus // how the last main process ended
	lastMainPID         int         // pid of that process
	cmds                []unit.Command
	cmdIdx              int
	pidWatchGen         uint64      // gen whose PID file watcher runs (watchPIDFile)
	stopByNotify        bool        // in Stop because the service said STOPPING=1: no ExecStop= runs, the main process is awaited
	execRuns            execHistory // how the activation's commands ended (history.go)

	// The service watchdog has its own deadline and generation: it spans
	// the state changes between start-post, running and reload, which
	// bump gen. wdGen changes whenever the watchdog is re-armed or stopped.
	watchdog   time.Duration // timeout in force for this run (WatchdogSec= or WATCHDOG_USEC=)
	wdGen      uint64
	wdTimer    clock.Timer
	wdLast     time.Time // last keep-alive (or arming); zero while no watchdog runs
	wdDeadline time.Time

	statusText string
	errno      int
	activeAt   time.Time // entered running, for backoff reset

	nRestarts   int
	restartStep int
	oomBase     int64            // the group's OOM kills before the main process started; -1 = not watched
	oomWatch    *cgroup.OOMWatch // OOM events of the group while the unit runs (oom.go)
	oomSeen     int64            // the group's OOM kills already acted on

	// Start times of mainPID and controlPID as last read (adopt.go).
	mainStart, controlStart pidStart

	// unrecorded: at rest or waiting to restart when tend came back from
	// a crash, so the old manager may have started a run after its last
	// save; the next start or restart looks for that run first
	// (endUnrecorded).
	unrecorded bool

	// kept is the main process's output, kept open across automatic
	// restarts (output.go); zero when none is kept.
	kept keptOutput
}

func (u *service) svc() *unit.Service { return u.def.Service }

// enter moves u to state s, ending what the old state of the service
// was doing: its command list (runPhase and friends set the new one
// after this call), how a stop began, and the watchdog where s does not
// keep it. A process of the old phase may still exit later; it finds no
// command of the new phase to continue with.
func (m *Manager) enter(u *service, s SubState) {
	u.cmds, u.cmdIdx = nil, 0
	u.stopByNotify = false
	if u.wdTimer != nil && !keepsWatchdog(s) {
		m.stopWatchdog(u)
	}
	if s == Running && u.state != Running {
		u.activeAt = m.clock.Now()
	}
	if s == Dead || s == Failed {
		u.kept.drop() // no restart follows: the log pipes may end
	}
	m.setState(u.rt, s)
}

func (u *service) start(m *Manager)  { m.startService(u) }
func (u *service) stop(m *Manager)   { m.stopService(u) }
func (u *service) reload(m *Manager) { m.reloadService(u) }

func (u *service) event(m *Manager, ev unitEvent) {
	switch e := ev.(type) {
	case procExit:
		if e.pid != 0 {
			u.execRuns.noteExit(u, e.role, e.pid, e.st, m.clock.Now())
			switch {
			case e.role == roleMain && u.mainPID == e.pid:
				u.lastMainPID = e.pid
				m.clearMain(u)
			case e.role == roleControl && u.controlPID == e.pid:
				u.controlPID = 0
			default:
				return // a process of an earlier run
			}
		}
		m.onProcessGone(u, e.role, e.st)
	case deadline:
		m.onTimeout(u)
	case notified:
		m.onNotify(u, e.role, e.msg)
	case groupEmpty:
		m.onCgroupEmpty(u)
	case pidFileChanged:
		if u.state == Start {
			m.forkingStarted(u)
		}
	case watchdogExpired:
		m.onWatchdog(u, e.gen)
	case oomEvent:
		m.onOOM(u, e)
	}
}

func (u *service) sub() string { return u.state.String() }

func (u *service) status(st *Status) {
	st.MainPID, st.ControlPID = u.mainPID, u.controlPID
	st.StatusText, st.Errno, st.NRestarts = u.statusText, u.errno, u.nRestarts
	st.WatchdogUSec, st.WatchdogTimestamp = u.watchdogTimeout(), u.wdLast
	if u.mainExit != nil {
		st.ExecMainCode, st.ExecMainStat = u.mainExit.code, u.mainExit.status
	}
	st.ExecMainPID = u.mainPID
	if st.ExecMainPID == 0 {
		st.ExecMainPID = u.lastMainPID
	}
	st.ExecRuns = u.execRuns.of(u.invocation)
}

func (u *service) kill(m *Manager, who string, sig syscall.Signal) error {
	switch who {
	case "main":
		m.verifyMain(u)
		if u.mainPID == 0 {
			return fmt.Errorf("no main process to kill for %s", u.name)
		}
		return m.sendMain(u, sig)
	case "control":
		if u.controlPID == 0 {
			return fmt.Errorf("no control process to kill for %s", u.name)
		}
		return m.procs.kill(u.controlPID, sig)
	case "all", "":
		if u.cg != nil {
			return u.cg.Kill(sig)
		}
		m.verifyMain(u)
		_ = m.sendMain(u, sig)
		if u.controlPID != 0 {
			_ = m.procs.kill(u.controlPID, sig)
		}
		return nil
	}
	return fmt.Errorf("unknown kill target %q (want main, control or all)", who)
}

func (u *service) resetFailed() { u.restartStep = 0 }

// savedService is what of a service outlives the manager. The pids are
// a record, not a claim: whoever restores them checks that each is
// still the unit's before adopting it (adoptMain).
type savedService struct {
	MainPID     int        `json:"main_pid,omitempty"`
	ControlPID  int        `json:"control_pid,omitempty"`
	LastMainPID int        `json:"last_main_pid,omitempty"`
	MainExit    *savedExit `json:"main_exit,omitempty"`
	StatusText  string     `json:"status_text,omitempty"`
	Errno       int        `json:"errno,omitempty"`
	Watchdog    int64      `json:"watchdog_usec,omitempty"`
	ActiveAt    time.Time  `json:"active_at,omitzero"`
	NRestarts   int        `json:"n_restarts,omitempty"`
	RestartStep int        `json:"restart_step,omitempty"`
	// ExecRuns are the activation's Process: lines, which status shows
	// after a re-exec as before it.
	ExecInvocation string    `json:"exec_invocation,omitempty"`
	ExecRuns       []ExecRun `json:"exec_runs,omitempty"`
	// CmdIdx is the command of the phase that runs, for the phase to go
	// on after a re-exec; MainStart and ControlStart are the processes'
	// start times (clock ticks after boot, /proc/PID/stat), which tell a
	// reused pid from the process when there is no cgroup to ask.
	CmdIdx       int    `json:"cmd_idx,omitempty"`
	MainStart    uint64 `json:"main_start,omitempty"`
	ControlStart uint64 `json:"control_start,omitempty"`
}

type savedExit struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
}

func (u *service) save() (json.RawMessage, error) {
	s := savedService{
		MainPID: u.mainPID, ControlPID: u.controlPID, LastMainPID: u.lastMainPID,
		StatusText: u.statusText, Errno: u.errno, Watchdog: u.watchdog.Microseconds(),
		ActiveAt: u.activeAt, NRestarts: u.nRestarts, RestartStep: u.restartStep,
		ExecInvocation: u.execRuns.invocation.String(), ExecRuns: u.execRuns.runs,
		CmdIdx: u.cmdIdx, MainStart: u.mainStart.of(u.mainPID),
		ControlStart: u.controlStart.of(u.controlPID),
	}
	if u.mainExit != nil {
		s.MainExit = &savedExit{Code: u.mainExit.code, Status: u.mainExit.status}
	}
	return json.Marshal(s)
}

// restore takes back the counters and texts; main and control pids stay
// unset until the caller has verified and adopted them.
func (u *service) restore(data json.RawMessage) error {
	var s savedService
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("service %s: %w", u.name, err)
	}
	u.lastMainPID, u.statusText, u.errno = s.LastMainPID, s.StatusText, s.Errno
	u.watchdog = time.Duration(s.Watchdog) * time.Microsecond
	u.activeAt, u.nRestarts, u.restartStep = s.ActiveAt, s.NRestarts, s.RestartStep
	u.execRuns = execHistory{invocation: parseInvocationID(s.ExecInvocation), runs: s.ExecRuns}
	if s.MainExit != nil {
		u.mainExit = &exitStatus{code: s.MainExit.Code, status: s.MainExit.Status}
	}
	return nil
}
