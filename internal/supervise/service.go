package supervise

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/condition"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// startService begins activating u; the job engine calls it once the
// jobs u is ordered after have finished, and it runs again for an
// automatic restart.
func (m *Manager) startService(u *service) {
	switch {
	case u.state.Active() == Active || u.state == Reload || u.state.starting():
		m.jobs.unitChanged(u.rt)
		return
	case u.state.stopping():
		u.startAfterStop = true
		return
	}
	if m.endUnrecorded(u, false) {
		return
	}
	if u.state == AutoRestart {
		u.nRestarts++
	}
	u.stopIntent, u.restarting, u.skipped, u.conditionFailed = false, false, false, ""
	if !m.checkConditions(u.rt) {
		u.kept.drop() // no run follows (checkConditions enters dead itself)
		return
	}
	if !m.checkStartLimit(u.rt) {
		m.event(u.rt, prioWarn, "%s: Start request repeated too quickly.", u.name)
		u.result = ResultStartLimitHit
		m.event(u.rt, prioWarn, "%s: Failed with result '%s'.", u.name, u.result)
		m.enter(u, Failed)
		return
	}
	u.result = ResultSuccess
	u.mainExit, u.statusText, u.errno = nil, "", 0
	u.watchdog = u.svc().Watchdog
	u.invocation = newInvocationID()
	m.event(u.rt, prioInfo, "Starting %s...", u.describe())
	if err := m.prepare(u.rt); err != nil {
		m.event(u.rt, prioErr, "%s: %v", u.name, err)
		u.result = ResultResources
		m.enterDead(u)
		return
	}
	m.runPhase(u, Condition, u.svc().ExecCondition)
}

// reloadService runs ExecReload= of a running service.
func (m *Manager) reloadService(u *service) {
	svc := u.svc()
	if len(svc.ExecReload) == 0 {
		m.jobs.fail(u.rt, "failed", "Job type reload is not applicable for unit "+u.name+".")
		return
	}
	if u.state != Running && u.state != Exited {
		m.jobs.fail(u.rt, "failed", u.name+" is not active, cannot reload.")
		return
	}
	m.event(u.rt, prioInfo, "Reloading %s...", u.describe())
	m.runPhase(u, Reload, svc.ExecReload)
}

// checkConditions evaluates Condition*= and Assert*=; false means the start
// ends here (skipped, or failed on an assertion).
func (m *Manager) checkConditions(u *rt) bool {
	if len(u.def.Conditions) == 0 {
		return true
	}
	res := condition.Eval(u.def.Conditions, m.opts.CondEnv)
	if res.OK {
		return true
	}
	if res.Assert {
		m.event(u, prioWarn, "%s: Assertion failed: %s", u.name, res.Reason)
		m.jobs.fail(u, "assert", "assertion failed: "+res.Reason)
		return false
	}
	u.skipped, u.conditionFailed = true, res.Reason
	m.event(u, prioInfo, "%s was skipped because of an unmet condition check (%s).", u.describe(), res.Reason)
	if u.state != Dead {
		m.setState(u, Dead)
	} else {
		m.jobs.unitChanged(u)
	}
	return false
}

// prepare creates the unit's cgroup, or takes the one prepareGroups'
// workers made for it. (spawn creates RuntimeDirectory= and friends for
// each process.)
func (m *Manager) prepare(u *rt) error {
	if p := u.cgNext; p != nil {
		u.cgNext = nil
		m.takeGroup(u, p)
	}
	if m.opts.Cgroups != nil && u.cg == nil {
		g, err := m.newGroup(u)
		if err != nil {
			return fmt.Errorf("cannot create control group: %w", err)
		}
		u.cg = g
	}
	m.applyLimits(u)
	return nil
}

// runPhase enters state s and runs cmds one after another as control
// processes (or main processes for oneshot's ExecStart=).
func (m *Manager) runPhase(u *service, s SubState, cmds []unit.Command) {
	m.enter(u, s)
	switch {
	case s.starting():
		m.arm(u.rt, u.svc().TimeoutStart)
	case s.stopping():
		m.arm(u.rt, u.svc().TimeoutStop)
	case s == Reload:
		m.arm(u.rt, u.svc().TimeoutStart)
	}
	if s == StartPost {
		m.resetWatchdog(u) // systemd arms the watchdog here, for every type
	}
	u.cmds, u.cmdIdx = cmds, 0
	if len(cmds) == 0 {
		m.phaseDone(u)
		return
	}
	m.spawnCmd(u, cmds[0], roleControl)
}

// phaseDone moves on once every command of the current phase succeeded.
func (m *Manager) phaseDone(u *service) {
	switch u.state {
	case Condition:
		m.runPhase(u, StartPre, u.svc().ExecStartPre)
	case StartPre:
		m.enterStart(u)
	case Start: // oneshot: every ExecStart= ran
		m.runPhase(u, StartPost, u.svc().ExecStartPost)
	case StartPost:
		m.enterRunning(u)
	case Reload:
		m.reloadDone(u)
	case Stop:
		m.enterSignal(u, StopSigterm, ResultSuccess)
	case StopPost:
		m.enterSignal(u, FinalSigterm, ResultSuccess)
	}
}

// enterStart runs ExecStart= as the type demands.
func (m *Manager) enterStart(u *service) {
	svc := u.svc()
	if svc.Type == unit.TypeOneshot {
		m.runPhaseAsMain(u)
		return
	}
	m.enter(u, Start)
	m.arm(u.rt, svc.TimeoutStart)
	if len(svc.ExecStart) == 0 {
		m.event(u.rt, prioErr, "%s: Service has no ExecStart= setting.", u.name)
		u.result = ResultResources
		m.enterSignal(u, StopSigterm, ResultResources)
		return
	}
	u.cmds, u.cmdIdx = svc.ExecStart[:1], 0
	if svc.Type == unit.TypeForking {
		m.spawnCmd(u, svc.ExecStart[0], roleControl)
		return
	}
	if !m.spawnCmd(u, svc.ExecStart[0], roleMain) {
		return
	}
	switch svc.Type {
	case unit.TypeNotify, unit.TypeNotifyReload:
		if m.opts.Notify == nil {
			m.event(u.rt, prioErr, "%s: Type=notify needs tend's notify socket, which is unavailable.", u.name)
			m.enterSignal(u, StopSigterm, ResultResources)
		}
		// else wait for READY=1
	default: // simple, exec, idle, dbus: up once the process runs
		m.runPhase(u, StartPost, svc.ExecStartPost)
	}
}

// runPhaseAsMain runs a oneshot's ExecStart= lines one by one, each as the
// main process.
func (m *Manager) runPhaseAsMain(u *service) {
	m.enter(u, Start)
	m.arm(u.rt, u.svc().TimeoutStart)
	u.cmds, u.cmdIdx = u.svc().ExecStart, 0
	if len(u.cmds) == 0 {
		m.phaseDone(u)
		return
	}
	m.spawnCmd(u, u.cmds[0], roleMain)
}

// reloadDone ends a reload. A main process that ended while the reload
// ran was left for this moment, as systemd waits for the operation to
// finish: the service does not go back to running without it.
func (m *Manager) reloadDone(u *service) {
	if u.mainPID == 0 && u.mainExit != nil && u.svc().Type != unit.TypeOneshot {
		m.mainGone(u)
		return
	}
	m.enter(u, Running)
}

// enterRunning is reached after ExecStartPost=.
func (m *Manager) enterRunning(u *service) {
	svc := u.svc()
	if u.mainPID == 0 && u.mainExit != nil && svc.Type != unit.TypeOneshot {
		// The main process ended while ExecStartPost= ran.
		m.mainGone(u)
		return
	}
	if u.mainPID == 0 && !m.groupBusy(u.rt) {
		// oneshot, or a forking daemon that left nothing behind
		if svc.RemainAfterExit {
			m.enter(u, Exited)
			m.event(u.rt, prioInfo, "Finished %s.", u.describe())
			return
		}
		m.enterStop(u, ResultSuccess)
		return
	}
	m.enter(u, Running)
	m.arm(u.rt, svc.RuntimeMax)
	m.event(u.rt, prioInfo, "Started %s.", u.describe())
	if u.mainPID == 0 {
		m.watchEmpty(u.rt) // no main pid: the group's end is the service's end
	}
}

// spawnCmd starts one command of u. On failure to start, the process is
// treated as having exited with systemd's EXIT_* code for the step that
// failed, as systemd does; false tells the caller to stop here.
func (m *Manager) spawnCmd(u *service, cmd unit.Command, r role) bool {
	m.watchOOM(u) // before the process can allocate
	pid, err := m.procs.spawn(u, cmd, r)
	if err != nil {
		st := exitStatus{code: "exited", status: spawn.ExitExec}
		var se *spawn.SetupError
		if errors.As(err, &se) {
			st.status, st.resources = se.Status, se.BeforeFork
		}
		m.event(u.rt, prioErr, "%s: Failed to spawn %s: %v", u.name, cmdName(cmd), err)
		m.postState(u.rt, procExit{role: r, st: st})
		return false
	}
	if r == roleMain {
		m.setMain(u, pid, mainSpawned, nil)
		m.noteOOMBase(u)
	} else {
		u.controlPID = pid
	}
	m.pids[pid] = pidRef{u: u.rt, role: r}
	u.emptySeen = 0 // the group has a process again
	return true
}

func (m *Manager) spawnProcess(u *service, cmd unit.Command, r role) (int, error) {
	svc := u.svc()
	env := append([]string{}, m.opts.BaseEnv...)
	env = append(env, "INVOCATION_ID="+u.invocation.String())
	if u.mainPID != 0 && r == roleControl {
		env = append(env, "MAINPID="+strconv.Itoa(u.mainPID))
	}
	if m.opts.Notify != nil && notifyAccess(svc) != "none" {
		env = append(env, m.opts.Notify.Env())
	}
	env = append(env, u.watchdogEnv()...)
	spec := spawn.Spec{
		Unit:    u.name,
		Command: cmd,
		Exec:    &svc.Exec,
		Env:     env,
		Cgroup:  u.cg,
		Dirs:    m.opts.Dirs,
		SelfExe: m.opts.SelfExe, Forker: m.opts.Forker, Accounts: m.accounts,
		NoPidFD: u.transient != nil, // one per connection: see spawn.Spec
	}
	out, err := m.output(u, cmd, r)
	if err != nil {
		return 0, err
	}
	spec.Stdout, spec.Stderr = out.Stdout, out.Stderr
	if r == roleMain {
		m.serviceSockets(u, &spec)
	}
	pid, err := m.startProcess(spec)
	u.kept.ran(out, pid)
	if err == nil && r == roleMain {
		u.handOverConnection()
	}
	return pid, err
}

func closeOutput(o Output) {
	if o.Stdout != nil {
		o.Stdout.Close()
	}
	if o.Stderr != nil && o.Stderr != o.Stdout {
		o.Stderr.Close()
	}
}

func cmdName(c unit.Command) string {
	if c.Path != "" {
		return c.Path
	}
	if len(c.Argv) > 0 {
		return c.Argv[0]
	}
	return "(none)"
}

// notifyAccess is NotifyAccess= with systemd's default: services that
// are expected to talk (Type=notify, WatchdogSec=) hear their main process.
func notifyAccess(svc *unit.Service) string {
	if svc.NotifyAccess != "" {
		return svc.NotifyAccess
	}
	if svc.Type == unit.TypeNotify || svc.Type == unit.TypeNotifyReload || svc.Watchdog > 0 {
		return "main"
	}
	return "none"
}

// onProcessGone is the heart of the state machine: what a main or control
// process's end means in each state.
func (m *Manager) onProcessGone(u *service, r role, st exitStatus) {
	if r == roleMain {
		st.oom = m.oomKilled(u, st)
		u.mainExit = &st
		clean := st.clean(u.svc().SuccessExitStatus, u.svc().Type != unit.TypeOneshot)
		prio := prioDebug // as systemd: a clean end is said by "Deactivated successfully"
		if !clean {
			prio = prioNotice
		}
		m.event(u.rt, prio, "%s: Main process exited, %s", u.name, st)
		m.mainExited(u, st, clean)
		return
	}
	m.controlExited(u, st)
}

// currentCmd is the command of the current phase that runs (or ran last);
// the zero Command once the phase that started a process has ended.
func (u *service) currentCmd() unit.Command {
	if len(u.cmds) == 0 {
		return unit.Command{}
	}
	return u.cmds[min(u.cmdIdx, len(u.cmds)-1)]
}

func (m *Manager) controlExited(u *service, st exitStatus) {
	cmd := u.currentCmd()
	ok := st.clean(u.svc().SuccessExitStatus, false) || cmd.IgnoreFailure
	if !ok && !u.state.stopping() {
		m.event(u.rt, prioNotice, "%s: Control process exited, %s", u.name, st)
	}
	switch u.state {
	case Condition:
		if ok {
			m.nextCmd(u, roleControl)
		} else if st.code == "exited" && st.status < 255 {
			u.skipped = true
			m.event(u.rt, prioInfo, "%s: Skipped due to 'exec-condition'.", u.name)
			m.enterSignal(u, StopSigterm, ResultExecCondition)
		} else {
			// 255 or a signal: a failure like any other command's
			// (systemd.service(5), ExecCondition=).
			m.enterSignal(u, StopSigterm, st.result())
		}
	case StartPre:
		m.nextOr(u, ok, st, func() { m.enterSignal(u, StopSigterm, st.result()) })
	case Start: // forking: the starter process exited
		m.nextOr(u, ok, st, func() { m.enterSignal(u, StopSigterm, st.result()) })
	case StartPost:
		m.nextOr(u, ok, st, func() { m.enterStop(u, st.result()) })
	case Reload:
		if !ok {
			m.event(u.rt, prioWarn, "%s: Reload failed: %s", u.name, st)
			m.jobs.fail(u.rt, "failed", "reload failed: "+st.String())
		}
		m.nextOr(u, ok, st, func() { m.reloadDone(u) })
	case Stop:
		if u.stopByNotify {
			// A control process of the phase STOPPING=1 ended (a reload):
			// nothing more of it runs; the main process decides.
			if u.mainPID == 0 {
				m.mainGone(u)
			}
			return
		}
		if !ok && u.result == ResultSuccess {
			u.result = st.result()
		}
		m.nextCmd(u, roleControl)
	case StopPost:
		m.nextCmd(u, roleControl)
	case StopWatchdog, StopSigterm, StopSigkill, FinalSigterm, FinalSigkill:
		m.checkKilled(u)
	}
}

// nextOr continues the phase when ok, else runs fail.
func (m *Manager) nextOr(u *service, ok bool, st exitStatus, fail func()) {
	if ok {
		m.nextCmd(u, roleControl)
		return
	}
	fail()
}

// nextCmd runs the phase's next command, or finishes the phase. A forking
// service's starter is done with the whole phase when it exits.
func (m *Manager) nextCmd(u *service, r role) {
	if u.state == Start && u.svc().Type == unit.TypeForking {
		m.forkingStarted(u)
		return
	}
	u.cmdIdx++
	if u.cmdIdx < len(u.cmds) {
		m.spawnCmd(u, u.cmds[u.cmdIdx], r)
		return
	}
	m.phaseDone(u)
}

func (m *Manager) mainExited(u *service, st exitStatus, clean bool) {
	svc := u.svc()
	switch u.state {
	case Start:
		switch {
		case svc.Type == unit.TypeOneshot:
			cmd := u.currentCmd()
			if clean || cmd.IgnoreFailure {
				m.nextCmd(u, roleMain)
				return
			}
			m.enterSignal(u, StopSigterm, st.result())
		case clean: // notify service that exited before READY=1
			m.enterSignal(u, StopSigterm, ResultProtocol)
		default:
			m.enterSignal(u, StopSigterm, st.result())
		}
	case Running:
		m.mainGone(u)
	case Stop:
		if u.stopByNotify && u.controlPID == 0 {
			m.mainGone(u) // else once the control process is gone too
		}
	case StopWatchdog, StopSigterm, StopSigkill, FinalSigterm, FinalSigkill:
		m.checkKilled(u)
	}
	// In StartPost and Reload the exit is remembered and acted on when the
	// control process is done; in StopPost nothing is waiting for it.
}

// mainGone decides what a running service's main process ending means.
func (m *Manager) mainGone(u *service) {
	st := u.mainExit
	svc := u.svc()
	if st != nil && !st.clean(svc.SuccessExitStatus, svc.Type != unit.TypeOneshot) {
		m.enterSignal(u, StopSigterm, st.result())
		return
	}
	if svc.RemainAfterExit {
		m.enter(u, Exited)
		return
	}
	m.enterStop(u, ResultSuccess)
}

// forkingStarted runs when a Type=forking starter exited successfully: the
// daemon's pid comes from PIDFile= or, failing that, a guess. As systemd
// does, a PID file that cannot be read or is refused is waited for (the
// daemon may still write it) unless the unit has no process left.
func (m *Manager) forkingStarted(u *service) {
	svc := u.svc()
	if svc.PIDFile != "" {
		if !m.loadPIDFile(u, svc.PIDFile) {
			if m.groupSurelyEmpty(u.rt) {
				m.event(u.rt, prioWarn, "%s: Daemon never wrote its PID file. Failing.", u.name)
				m.enterSignal(u, StopSigterm, ResultProtocol)
				return
			}
			if u.pidWatchGen != u.gen && m.groupTracked() {
				m.watchEmpty(u.rt)
			}
			m.watchPIDFile(u, svc.PIDFile)
			return
		}
	} else if svc.GuessMainPID && u.cg != nil {
		if pids, err := u.cg.PIDs(); err == nil && len(pids) == 1 {
			m.adoptMain(u, pidClaim{pid: pids[0], refusal: "Guessed main PID %d is not one of the service's processes. Refusing."})
		}
	}
	m.runPhase(u, StartPost, svc.ExecStartPost)
}

// loadPIDFile reads u's PID file and adopts the pid in it, if it may.
func (m *Manager) loadPIDFile(u *service, path string) bool {
	pf, err := readPIDFile(path)
	if err != nil {
		m.event(u.rt, prioInfo, "%s: Can't open PID file %s (yet?) after start: %v", u.name, path, err)
		return false
	}
	c := pidClaim{
		pid:       pf.pid,
		vouched:   pf.safe && m.trustedUID(pf.owner),
		vouchedBy: "PID file is owned by root",
		refusal:   "New main PID %d does not belong to service, and PID file is not owned by root. Refusing.",
	}
	if !pf.safe {
		c.refusal = "Refusing to accept PID %d outside of service control group, acquired through unsafe symlink chain: " + path
	}
	return m.adoptMain(u, c)
}

// trustedUID reports whether uid may vouch for a pid outside a unit:
// root, or the user tend runs as (who can signal that pid anyway).
func (m *Manager) trustedUID(uid uint32) bool {
	return uid == 0 || uid == uint32(os.Geteuid())
}

// groupTracked reports whether emptiness of a unit's group can be
// trusted: in ModeNone a daemon that detached from its session escapes
// tracking, and its group would look empty while it runs.
func (m *Manager) groupTracked() bool {
	return m.opts.Cgroups != nil && m.opts.Cgroups.Mode() != cgroup.ModeNone
}

// groupSurelyEmpty reports whether u's cgroup is known to have no process.
func (m *Manager) groupSurelyEmpty(u *rt) bool {
	return m.groupTracked() && u.cg != nil && !m.groupBusy(u)
}

// endUnrecorded handles the first start or restart of a service that was
// not running when tend came back from a crash. A crash between a spawn
// and the state write that records it leaves that run in the unit's
// group while the state file says the unit is down or waits to restart:
// starting beside it would run the service twice. The run is ended
// first, as leftovers of a run are; then a restart is decided again, and
// a start goes on (startAfterStop), once the group is empty. Its group
// was not opened at the restore (liveServices). It reports whether it
// took the start over.
func (m *Manager) endUnrecorded(u *service, restart bool) bool {
	if !u.unrecorded {
		return false
	}
	u.unrecorded = false
	if m.prepare(u.rt) != nil || !m.waitsForGroup(u) || !m.groupBusy(u.rt) {
		return false
	}
	what := "starting"
	if restart {
		what = "restarting"
	}
	m.event(u.rt, prioWarn, "%s: Processes of a start the manager did not record before it restarted are in the control group; ending them before %s.", u.name, what)
	u.startAfterStop = !restart
	m.enterSignal(u, FinalSigterm, ResultSuccess)
	return true
}
