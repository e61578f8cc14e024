package supervise

import (
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// stopService begins deactivating u on behalf of a job.
func (m *Manager) stopService(u *service) {
	switch {
	case u.state == AutoRestart:
		m.enter(u, Dead)
	case u.state == Dead || u.state == Failed || u.state.stopping():
		m.jobs.unitChanged(u.rt)
	case u.state.starting():
		m.enterSignal(u, StopSigterm, ResultSuccess)
	default:
		m.enterStop(u, ResultSuccess)
	}
}

// enterStop runs ExecStop=, then signals whatever is left.
func (m *Manager) enterStop(u *service, r Result) {
	if r != ResultSuccess && u.result == ResultSuccess {
		u.result = r
	}
	// Only a stop asked for says so, as systemd's job start message: a
	// main process that ended by itself (a per-connection instance, every
	// time) goes straight to "Deactivated successfully".
	if u.job != nil && (u.state == Running || u.state == Exited || u.state == Reload) {
		m.event(u.rt, prioInfo, "Stopping %s...", u.describe())
	}
	m.runPhase(u, Stop, u.svc().ExecStop)
}

// enterSignal enters one of the signalling states and sends the signal
// that state stands for, to the processes KillMode= names.
func (m *Manager) enterSignal(u *service, s SubState, r Result) {
	if r != ResultSuccess && u.result == ResultSuccess {
		u.result = r
	}
	kc := u.svc().Kill
	m.enter(u, s)
	m.verifyMain(u)
	// After a crash the group is usually empty already: one look at it
	// spares signalling nobody (and the scans that costs).
	if !m.anyLeft(u) {
		m.killedAll(u)
		return
	}
	if kc.Mode != unit.KillNone {
		m.signal(u, s, kc)
	}
	if s == StopWatchdog {
		m.arm(u.rt, u.svc().TimeoutAbort)
	} else {
		m.arm(u.rt, u.svc().TimeoutStop)
	}
	if m.waitsForGroup(u) {
		m.watchEmpty(u.rt)
	}
}

func (m *Manager) signal(u *service, s SubState, kc unit.KillContext) {
	final := s == StopSigkill || s == FinalSigkill
	sig := killSignal(u, s, kc)
	// SendSIGHUP= tells a terminal-bound program its session ended; an
	// abort for a hung service is no such end.
	hup := kc.SendSIGHUP && !final && s != StopWatchdog
	send := func(kill func(syscall.Signal) error) {
		_ = kill(sig)
		if !final && sig != unix.SIGKILL && sig != unix.SIGCONT {
			_ = kill(unix.SIGCONT)
		}
		if hup {
			_ = kill(unix.SIGHUP)
		}
	}
	send(func(sig syscall.Signal) error { return m.sendMain(u, sig) })
	if u.controlPID > 0 {
		send(func(sig syscall.Signal) error { return m.procs.kill(u.controlPID, sig) })
	}
	wholeGroup := kc.Mode == unit.KillControlGroup || (kc.Mode == unit.KillMixed && final)
	if wholeGroup && u.cg != nil {
		_ = u.cg.Kill(sig)
		if !final && sig != unix.SIGKILL {
			_ = u.cg.Kill(unix.SIGCONT)
		}
	}
}

// killSignal is the signal signalling state s stands for.
func killSignal(u *service, s SubState, kc unit.KillContext) syscall.Signal {
	switch s {
	case StopSigkill, FinalSigkill:
		return signalOr(kc.FinalKillSignal, unix.SIGKILL)
	case StopWatchdog:
		return signalOr(kc.WatchdogSignal, unix.SIGABRT)
	}
	if u.restarting && kc.RestartKillSignal != 0 {
		return syscall.Signal(kc.RestartKillSignal)
	}
	return signalOr(kc.Signal, unix.SIGTERM)
}

// signalOr is sig, or def when sig is unset.
func signalOr(sig int, def syscall.Signal) syscall.Signal {
	if sig == 0 {
		return def
	}
	return syscall.Signal(sig)
}

// waitsForGroup says whether stopping must wait for the whole cgroup.
func (m *Manager) waitsForGroup(u *service) bool {
	mode := u.svc().Kill.Mode
	return u.cg != nil && (mode == unit.KillControlGroup || mode == unit.KillMixed)
}

// groupBusy reports whether u's cgroup has processes. Handling one event
// may ask several times (a crashed service passes through stop-sigterm and
// final-sigterm at once), but a group seen empty stays empty until tend
// starts a process in it: the answer is read (cgroup.events) once per
// event, which keeps a file read off the restart path.
func (m *Manager) groupBusy(u *rt) bool {
	if u.cg == nil || (u.emptySeen != 0 && u.emptySeen == m.evSeq) {
		return false
	}
	if u.cg.Populated() {
		return true
	}
	u.emptySeen = m.evSeq
	return false
}

func (m *Manager) anyLeft(u *service) bool {
	return u.mainPID != 0 || u.controlPID != 0 || (m.waitsForGroup(u) && m.groupBusy(u.rt))
}

// checkKilled advances a signalling state once nothing is left.
func (m *Manager) checkKilled(u *service) {
	if !m.anyLeft(u) {
		m.killedAll(u)
	}
}

// killedAll moves on from a signalling state whose processes are gone.
func (m *Manager) killedAll(u *service) {
	switch u.state {
	case StopWatchdog, StopSigterm, StopSigkill:
		m.runPhase(u, StopPost, u.svc().ExecStopPost)
	case FinalSigterm, FinalSigkill:
		m.enterDead(u)
	}
}

// onTimeout handles the deadline of u's current state.
func (m *Manager) onTimeout(u *service) {
	svc := u.svc()
	switch u.state {
	case Condition, StartPre, Start, StartPost:
		m.event(u.rt, prioWarn, "%s: %s operation timed out. Terminating.", u.name, u.state)
		m.enterSignal(u, StopSigterm, ResultTimeout)
	case Running:
		m.event(u.rt, prioWarn, "%s: Service reached runtime time limit. Stopping.", u.name)
		m.enterStop(u, ResultTimeout)
	case Reload:
		m.event(u.rt, prioWarn, "%s: Reload operation timed out. Killing reload process.", u.name)
		if u.controlPID != 0 {
			_ = m.procs.kill(u.controlPID, unix.SIGKILL)
		}
		m.enter(u, Running)
	case Stop:
		m.event(u.rt, prioWarn, "%s: Stopping timed out. Terminating.", u.name)
		m.enterSignal(u, StopSigterm, ResultTimeout)
	case StopWatchdog, StopSigterm:
		m.timeoutKill(u, StopSigkill, func() { m.runPhase(u, StopPost, svc.ExecStopPost) })
	case StopSigkill, FinalSigkill:
		m.event(u.rt, prioWarn, "%s: Processes still around after final SIGKILL. Entering failed mode.", u.name)
		m.forgetProcesses(u)
		if u.result == ResultSuccess {
			u.result = ResultTimeout
		}
		m.killedAll(u)
	case StopPost:
		m.event(u.rt, prioWarn, "%s: State 'stop-post' timed out. Terminating.", u.name)
		m.enterSignal(u, FinalSigterm, ResultTimeout)
	case FinalSigterm:
		m.timeoutKill(u, FinalSigkill, func() { m.enterDead(u) })
	case AutoRestart:
		m.autoRestart(u)
	}
}

func (m *Manager) timeoutKill(u *service, next SubState, otherwise func()) {
	if u.result == ResultSuccess {
		u.result = ResultTimeout
	}
	if u.svc().Kill.SendSIGKILL {
		m.event(u.rt, prioWarn, "%s: State '%s' timed out. Killing.", u.name, u.state)
		m.enterSignal(u, next, ResultTimeout)
		return
	}
	m.event(u.rt, prioWarn, "%s: State '%s' timed out. Skipping SIGKILL.", u.name, u.state)
	otherwise()
}

// enterDead ends a run: inactive or failed, then maybe an automatic restart.
func (m *Manager) enterDead(u *service) {
	svc := u.svc()
	// A run skipped by ExecCondition= keeps Result=exec-condition but
	// ends inactive, not failed.
	failed := u.result != ResultSuccess && u.result != ResultExecCondition
	u.controlPID = 0
	if !failed && !u.skipped && !u.stopIntent && u.state != Dead {
		m.event(u.rt, prioInfo, "%s: Deactivated successfully.", u.name)
	}
	if failed {
		m.event(u.rt, prioWarn, "%s: Failed with result '%s'.", u.name, u.result)
	}
	if u.mainExit == nil || u.stopIntent {
		m.event(u.rt, prioInfo, "Stopped %s.", u.describe())
	}
	m.stopOOMWatch(u)
	keepRuntime := svc.Exec.RuntimeDirectoryPreserve == "yes" ||
		(svc.Exec.RuntimeDirectoryPreserve == "restart" && !u.stopIntent)
	if !keepRuntime {
		_ = spawn.RemoveRuntimeDirs(&svc.Exec, m.opts.Dirs)
	}
	if len(svc.Exec.ProcSettings().Credentials) > 0 {
		_ = spawn.RemoveCredentials(m.opts.Dirs, u.name)
	}
	if svc.Exec.SandboxSettings().PrivateTmp || svc.Exec.DynamicUser {
		_ = spawn.RemovePrivateTmp(u.name)
	}
	// A unit whose file is gone is not started again, as systemd, which
	// no longer has its settings, does not restart it.
	restart := !u.stopIntent && !u.skipped && shallRestart(svc, u.result, u.mainExit) && !m.unplanned(u.rt)
	if u.startAfterStop {
		restart = false
	}
	if !restart && !u.startAfterStop {
		if err := spawn.RemoveIPC(&svc.Exec, u.name, ""); err != nil {
			m.event(u.rt, prioWarn, "%s: RemoveIPC=: %v", u.name, err)
		}
	}
	if !restart && !u.startAfterStop && u.cg != nil && m.removeGroup(u.rt) == nil {
		// An empty group goes (one with leftovers stays visible); a unit
		// about to start again keeps it, sparing the restart two mkdirs.
		u.cg = nil
	}
	next := Dead
	if failed {
		next = Failed
	}
	if restart {
		next = AutoRestart
	}
	m.enter(u, next)
	switch {
	case u.startAfterStop:
		u.startAfterStop = false
		m.startService(u)
	case restart:
		if d := m.restartDelay(u); d > 0 {
			m.arm(u.rt, d)
		} else {
			m.autoRestart(u)
		}
	default:
		m.afterRun(u, failed)
	}
}

// afterRun triggers OnFailure=/OnSuccess= and stops units bound to u.
func (m *Manager) afterRun(u *service, failed bool) {
	deps := u.def.Dependencies().OnSuccess
	if failed {
		deps = u.def.Dependencies().OnFailure
	}
	if len(deps) > 0 && !u.skipped {
		m.jobs.submitInternal(jobStart, deps, plan.Replace)
	}
	m.jobs.stopBound(u.rt)
	if m.opts.OnDead != nil {
		m.opts.OnDead(u.name, exitCode(u))
	}
}

// exitCode is the status a container ends with when u was its reason to
// live (--exit-with): like a shell reports a child's end.
func exitCode(u *service) int {
	st := u.mainExit
	switch {
	case st != nil && st.code == "exited" && (st.status != 0 || u.result == ResultSuccess):
		return st.status
	case st != nil && st.code != "exited":
		return 128 + st.status
	case u.result != ResultSuccess:
		return 1
	}
	return 0
}

// autoRestart fires when RestartSec= has passed.
func (m *Manager) autoRestart(u *service) {
	if m.endUnrecorded(u, true) {
		return
	}
	m.event(u.rt, prioInfo, "%s: Scheduled restart job, restart counter is at %d.", u.name, u.nRestarts+1)
	u.restartStep++
	m.startService(u)
}

// restartDelay is RestartSec=, growing towards RestartMaxDelaySec= over
// RestartSteps= restarts (systemd's exponential interpolation). The series
// starts over after a run that lasted at least the maximum delay (or 1 s
// when no maximum is set): a service that was healthy for a while gets a
// fast first restart again.
func (m *Manager) restartDelay(u *service) time.Duration {
	svc := u.svc()
	reset := max(svc.RestartMaxDelay, time.Second)
	if !u.activeAt.IsZero() && m.clock.Now().Sub(u.activeAt) >= reset {
		u.restartStep = 0
	}
	base := svc.RestartSec
	if svc.RestartSteps <= 0 || svc.RestartMaxDelay <= base || base <= 0 {
		return base
	}
	n := min(u.restartStep, svc.RestartSteps)
	f := math.Pow(float64(svc.RestartMaxDelay)/float64(base), float64(n)/float64(svc.RestartSteps))
	return time.Duration(float64(base) * f)
}

// checkStartLimit records a start and reports whether it is allowed under
// StartLimitIntervalSec=/StartLimitBurst=.
func (m *Manager) checkStartLimit(u *rt) bool {
	iv, burst := u.def.StartLimitInterval, u.def.StartLimitBurst
	if iv <= 0 || burst <= 0 {
		return true
	}
	now := m.clock.Now()
	keep := u.startTimes[:0]
	for _, t := range u.startTimes {
		if now.Sub(t) < iv {
			keep = append(keep, t)
		}
	}
	u.startTimes = keep
	if len(u.startTimes) >= burst {
		return false
	}
	u.startTimes = append(u.startTimes, now)
	return true
}

// pidFileChanged: the PID file a forking service's start waits for can
// be read (watchPIDFile).
type pidFileChanged struct{}

// watchEmpty tells u's engine (groupEmpty) when u's cgroup has no
// process left, for as long as u stays in its current state.
func (m *Manager) watchEmpty(u *rt) {
	if u.cg == nil {
		return
	}
	empty, done, gen := u.cg.Empty(), u.watchCtx(), u.gen
	go func() {
		select {
		case <-empty:
			m.box.put(evFor{u: u, gen: gen, ev: groupEmpty{}})
		case <-done:
		}
	}()
}

func (m *Manager) onCgroupEmpty(u *service) {
	switch {
	case u.state == Running && u.mainPID == 0:
		m.mainGone(u) // a daemon without a known main pid is gone
	case u.state == Start && u.svc().Type == unit.TypeForking && u.controlPID == 0:
		// waiting for the PID file of a daemon that is no more
		m.event(u.rt, prioWarn, "%s: Daemon never wrote its PID file. Failing.", u.name)
		m.enterSignal(u, StopSigterm, ResultProtocol)
	default:
		m.checkKilled(u)
	}
}

// watchPIDFile waits (inotify on the directory) for a forking daemon's PID
// file and posts pidFileChanged whenever it can be read; the loop decides
// whether to believe it. One watcher serves a state: a file rewritten
// after a refusal (by the daemon, or by anyone who can write there) adds
// no descriptors or goroutines. The start timeout bounds the wait.
func (m *Manager) watchPIDFile(u *service, path string) {
	if u.pidWatchGen == u.gen {
		return
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
		unix.Close(fd)
		return
	}
	u.pidWatchGen = u.gen
	f := os.NewFile(uintptr(fd), "inotify")
	done, gen := u.watchCtx(), u.gen
	go func() {
		<-done
		f.Close()
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			if _, err := readPIDFile(path); err == nil {
				m.box.put(evFor{u: u.rt, gen: gen, ev: pidFileChanged{}})
			}
		}
	}()
}

// forgetProcesses stops tracking u's main and control processes, which
// tend gave up on (they survived SIGKILL, e.g. stuck in the kernel).
func (m *Manager) forgetProcesses(u *service) {
	for _, pid := range []int{u.mainPID, u.controlPID} {
		if pid != 0 {
			delete(m.pids, pid)
			if m.opts.Reaper != nil {
				m.opts.Reaper.Unwatch(pid)
			}
		}
	}
	m.clearMain(u)
	u.controlPID = 0
}
