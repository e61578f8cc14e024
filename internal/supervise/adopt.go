package supervise

import (
	"encoding/json"
	"os"
	"slices"

	"github.com/tendproject/tend/internal/procfs"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// Taking saved state back (docs/design.md, "Crash and re-exec"). A
// restored unit carries on where the old manager left it: its state,
// counters and timestamps as saved, its processes adopted if they are
// still its own, deadlines and the watchdog re-armed in full from now.
// A process that is gone is handled as an exit whose status is unknown,
// so Restart= decides what follows.

// codeUnknown is the exit code of a process that ended while no manager
// watched it (or that tend only watched through a pidfd): nobody can
// know its status. It does not count as a clean exit.
const codeUnknown = "unknown"

// pidStart caches the start time of one pid.
type pidStart struct {
	pid   int
	ticks uint64
}

// note records pid's start time in c, once per pid: the one its start
// bracketed (starttime.go), or else read from /proc.
func (m *Manager) note(c *pidStart, pid int) {
	if pid > 0 && c.pid != pid {
		t, ok := m.forkTicks[pid]
		if !ok {
			t = m.procStart(pid)
		}
		c.pid, c.ticks = pid, t
	}
}

// of is the start time noted for pid, or 0.
func (c pidStart) of(pid int) uint64 {
	if pid <= 0 || c.pid != pid {
		return 0
	}
	return c.ticks
}

// procStart reads when pid started (clock ticks after boot); 0 if it
// cannot be read.
func (m *Manager) procStart(pid int) uint64 {
	if m.proc == nil {
		m.proc = procfs.New(m.opts.Proc).NewReader()
	}
	st, err := m.proc.Stat(pid)
	if err != nil {
		return 0
	}
	return st.StartTime
}

// keepVanished makes a unit for a service that ran under the manager
// before and whose file is gone now (deleted, then a re-exec, or a crash
// and a start): as after a daemon-reload (keptDef), and as systemd does,
// it is kept while it runs, not-found, so that it shows, can be stopped,
// and stops at shutdown instead of running on unsupervised. Its own
// settings went with its file, so it has the defaults of a service (it
// stops with SIGTERM to its whole group). It returns nil for anything
// else, whose processes are then left alone.
func (m *Manager) keepVanished(su SavedUnit) *rt {
	st, ok := parseSubState(su.State)
	if su.Kind != "service" || !ok || st.Active() == Inactive || st == Failed || st == AutoRestart || m.opts.LoadUnit == nil {
		return nil
	}
	def, err := m.opts.LoadUnit(su.Name)
	if err != nil || def.Kind != unit.KindService || def.Service == nil {
		return nil
	}
	u := &rt{name: su.Name, def: notFound(def), state: Dead}
	u.eng = newEngine(u)
	m.units[u.name] = u
	m.opts.Logger.Warn("the file of a running unit is gone; it is kept, not-found, until it stops, with a service's default stop settings", "unit", su.Name)
	return u
}

// Restore takes back the state of a manager that ran before: call it
// after New and before Run. inherited says the services are still this
// process's children (a re-exec; fds are then the descriptors the old
// process kept for the units' fd stores); after a crash they are not,
// and fds is nil. Units that changed kind, vanished or cannot be read
// back are left out with a log line, and the rest are restored.
//
// It returns the main processes it adopted that are not its children
// (after a crash), whose output pipes the caller may take back.
func (m *Manager) Restore(s SavedState, inherited bool, fds map[int]*os.File) []Adopted {
	if s.Instance != m.opts.Instance {
		m.opts.Logger.Warn("state file is another instance's; not restoring it",
			"from", s.Instance, "this", m.opts.Instance)
		return nil
	}
	var adopted []Adopted
	adopt := func(svc *service) {
		if !inherited && svc.mainPID != 0 {
			adopted = append(adopted, Adopted{Unit: svc.def, PID: svc.mainPID})
		}
	}
	var instances []SavedUnit
	var services []restoredService
	var sockets []*socket
	var timers []*timer
	var svdirs []*svdirUnit
	for _, su := range s.Units {
		if su.Transient != nil {
			instances = append(instances, su) // once their sockets are back
			continue
		}
		u, err := m.lookup(su.Name)
		if err != nil {
			if u = m.keepVanished(su); u == nil {
				m.opts.Logger.Warn("unit from the saved state is no longer loaded; its processes are left alone", "unit", su.Name)
				continue
			}
		}
		if u.name != su.Name {
			continue // saved under a name that is now an alias
		}
		if err := m.restoreUnit(u, su); err != nil {
			m.opts.Logger.Warn("cannot restore unit; it starts afresh", "unit", su.Name, "err", err)
			continue
		}
		// After a crash, fds holds what the fd holder kept.
		if k, ok := u.eng.(fdKeeper); ok && (inherited || len(fds) > 0) {
			k.restoreFDs(takeFDs(su.FDs, fds))
		}
		switch e := u.eng.(type) {
		case *service:
			services = append(services, restoredService{e, su.Engine})
		case *socket:
			sockets = append(sockets, e)
		case *timer:
			timers = append(timers, e)
		case *svdirUnit:
			svdirs = append(svdirs, e)
		}
	}
	m.prepareGroups(liveServices(services))
	for _, rs := range services {
		m.resumeService(rs.svc, rs.data, inherited)
		adopt(rs.svc)
	}
	for _, su := range instances {
		if svc, ok := m.restoreInstance(su, inherited, takeFDs(su.FDs, fds)); ok {
			adopt(svc)
		}
	}
	if !inherited {
		for _, svc := range m.findInstances(sockets) {
			adopt(svc)
		}
	}
	m.resumeSvdirs(svdirs, inherited)
	// Sockets and timers last: the processes of the units they trigger
	// are adopted by then.
	for _, s := range sockets {
		s.resume(m, inherited)
	}
	m.resumeTimers(timers, inherited)
	for _, f := range fds {
		f.Close() // kept for a unit that is gone
	}
	if !inherited {
		// A unit at rest is saved only once it has run, so one that the old
		// manager started after its last save may come back as never
		// started: every service not running looks before its next start.
		for _, u := range m.units {
			if svc, ok := u.eng.(*service); ok {
				switch svc.state {
				case Dead, Failed, AutoRestart:
					svc.unrecorded = true
				}
			}
		}
	}
	m.dirty, m.changedAll = true, true
	m.flushEvents()
	return adopted
}

// restoredService is a service whose state Restore took back, and its
// engine's saved data, to resume once all are read.
type restoredService struct {
	svc  *service
	data json.RawMessage
}

// liveServices are the restored services whose processes are to be
// adopted (resumeService prepares their cgroups): those cgroups are
// opened, and their limits written, on the workers of prepareGroups
// while the loop takes the services one by one, as at bring-up. With
// hundreds of units that is most of the time to adopt them, and each
// is a few system calls on cgroupfs that need not wait for the last.
func liveServices(ss []restoredService) []*rt {
	var live []*rt
	for _, rs := range ss {
		switch rs.svc.state {
		case Dead, Failed, Exited, AutoRestart:
		default:
			live = append(live, rs.svc.rt)
		}
	}
	return live
}

// takeFDs moves the descriptors named in an fd store out of fds (the
// descriptors a re-exec kept; nil after a crash).
func takeFDs(names map[string]int, fds map[int]*os.File) map[string]*os.File {
	out := map[string]*os.File{}
	for name, fd := range names {
		if f := fds[fd]; f != nil {
			out[name] = f
			delete(fds, fd)
		}
	}
	return out
}

// Adopted is a main process taken back after a crash.
type Adopted struct {
	Unit *unit.Unit
	PID  int
}

// resumeService adopts u's processes and re-arms what its state waits
// for. u's state and counters are already restored.
func (m *Manager) resumeService(u *service, data json.RawMessage, inherited bool) {
	var s savedService
	_ = json.Unmarshal(data, &s) // restore accepted it already
	// liveServices picks by the same states.
	switch u.state {
	case Dead, Failed, Exited:
		return
	case AutoRestart:
		if d := m.restartDelay(u); d > 0 {
			m.arm(u.rt, d)
		} else {
			m.postState(u.rt, deadline{})
		}
		return
	}
	if err := m.prepare(u.rt); err != nil {
		m.event(u.rt, prioErr, "%s: %v", u.name, err)
	}
	u.cmds, u.cmdIdx = m.phaseCommands(u), s.CmdIdx
	if s.MainPID != 0 {
		m.resumeMain(u, s, inherited)
	}
	if s.ControlPID != 0 {
		m.resumeControl(u, s, inherited)
	}
	if u.mainPID != 0 || u.controlPID != 0 {
		// OOMPolicy= goes on applying to what was adopted; kills
		// while no manager ran are not acted on.
		m.noteOOMBase(u)
		m.watchOOM(u)
	}
	m.rearm(u)
}

func (m *Manager) resumeMain(u *service, s savedService, inherited bool) {
	c := pidClaim{pid: s.MainPID, child: inherited,
		refusal: "Main process %d from before the manager restarted is not the unit's any more; not adopting it."}
	if u.cg == nil {
		c.started = s.MainStart
	}
	if m.adoptMain(u, c) {
		if !inherited {
			m.event(u.rt, prioInfo, "%s: Adopted main process %d (not a child of this manager: its exit status will be unknown).", u.name, s.MainPID)
		}
		return
	}
	u.lastMainPID = s.MainPID
	m.event(u.rt, prioWarn, "%s: Main process %d ended while the manager was down; its exit status is unknown.", u.name, s.MainPID)
	m.postState(u.rt, procExit{role: roleMain, st: exitStatus{code: codeUnknown}})
}

func (m *Manager) resumeControl(u *service, s savedService, inherited bool) {
	pid := s.ControlPID
	ok := (inherited && m.isChild(pid)) || (u.cg != nil && u.cg.Contains(pid)) ||
		(u.cg == nil && s.ControlStart != 0 && m.procStart(pid) == s.ControlStart)
	if ok && m.opts.Reaper != nil {
		ok = m.opts.Reaper.Watch(pid, func(e reaper.Exit) { m.box.put(evExit{exit: e}) }) == nil
	}
	if ok {
		u.controlPID = pid
		m.pids[pid] = pidRef{u: u.rt, role: roleControl}
		return
	}
	m.event(u.rt, prioWarn, "%s: Control process %d ended while the manager was down; its exit status is unknown.", u.name, pid)
	m.postState(u.rt, procExit{role: roleControl, st: exitStatus{code: codeUnknown}})
}

// isChild reports whether pid is this process's child (running or a
// zombie not yet reaped): a re-exec'd manager's own children.
func (m *Manager) isChild(pid int) bool {
	return m.opts.Reaper != nil && m.opts.Reaper.IsChild(pid)
}

// phaseCommands is the command list of u's state, as runPhase and
// enterStart set it.
func (m *Manager) phaseCommands(u *service) []unit.Command {
	svc := u.svc()
	switch u.state {
	case Condition:
		return svc.ExecCondition
	case StartPre:
		return svc.ExecStartPre
	case Start:
		if svc.Type == unit.TypeOneshot || len(svc.ExecStart) == 0 {
			return svc.ExecStart
		}
		return svc.ExecStart[:1]
	case StartPost:
		return svc.ExecStartPost
	case Reload:
		return svc.ExecReload
	case Stop:
		return svc.ExecStop
	case StopPost:
		return svc.ExecStopPost
	}
	return nil
}

// rearm sets the deadline of u's state afresh, the watchdog where the
// state keeps one, and the cgroup watch where the state ends with the
// group.
func (m *Manager) rearm(u *service) {
	svc := u.svc()
	switch {
	case u.state.starting(), u.state == Reload:
		m.arm(u.rt, svc.TimeoutStart)
	case u.state == StopWatchdog:
		m.arm(u.rt, svc.TimeoutAbort)
	case u.state.stopping():
		m.arm(u.rt, svc.TimeoutStop)
	case u.state == Running:
		m.arm(u.rt, svc.RuntimeMax)
	}
	if keepsWatchdog(u.state) && u.watchdogTimeout() > 0 {
		m.resetWatchdog(u)
	}
	signalling := []SubState{StopWatchdog, StopSigterm, StopSigkill, FinalSigterm, FinalSigkill}
	if (slices.Contains(signalling, u.state) && m.waitsForGroup(u)) ||
		(u.state == Running && u.mainPID == 0) {
		m.watchEmpty(u.rt)
	}
}
