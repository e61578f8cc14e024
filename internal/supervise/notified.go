package supervise

import (
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/unit"
)

// onNotify applies an sd_notify message from a process of u's (r is its
// role), if NotifyAccess= lets that sender speak for the unit.
func (m *Manager) onNotify(u *service, r role, msg notify.Message) {
	switch notifyAccess(u.svc()) {
	case "none":
		return
	case "main":
		if r != roleMain {
			return
		}
	case "exec":
		if r != roleMain && r != roleControl {
			return
		}
	}
	if msg.HasStatus {
		u.statusText = msg.Status
	}
	if msg.Errno != 0 {
		u.errno = msg.Errno
	}
	if msg.MainPID != 0 && msg.MainPID != u.mainPID && (r == roleMain || r == roleControl || u.mainPID == 0) && takesMainPID(u.state) {
		m.adoptMain(u, pidClaim{
			pid:       msg.MainPID,
			vouched:   msg.UID >= 0 && m.trustedUID(uint32(msg.UID)),
			vouchedBy: "the request to change it came from a privileged process",
			refusal:   "New main PID %d does not belong to service, and the notification did not come from root. Refusing.",
		})
	}
	if msg.Extend > 0 && m.armed(u.rt) {
		m.arm(u.rt, msg.Extend)
	}
	isNotify := u.svc().Type == unit.TypeNotify || u.svc().Type == unit.TypeNotifyReload
	switch {
	case msg.Stopping && (u.state == Running || u.state == Reload):
		m.event(u.rt, prioInfo, "Stopping %s...", u.describe())
		m.enter(u, Stop) // a reload's remaining commands end here
		u.stopByNotify = true
		m.arm(u.rt, u.svc().TimeoutStop)
	case msg.Reloading && u.state == Running:
		m.enter(u, Reload)
		m.arm(u.rt, u.svc().TimeoutStart)
	case msg.Ready && u.state == Start && isNotify:
		m.runPhase(u, StartPost, u.svc().ExecStartPost)
	case msg.Ready && u.state == Reload && u.controlPID == 0:
		m.enter(u, Running)
	}
	m.onWatchdogNotify(u, msg)
}

// notifySender finds the unit a pid speaks for: its main or control
// process, or any process of its cgroup.
func (m *Manager) notifySender(msg notify.Message) (*rt, role) {
	if ref, ok := m.pids[msg.PID]; ok {
		return ref.u, ref.role
	}
	if m.opts.Cgroups == nil {
		return nil, 0
	}
	name, ok := m.opts.Cgroups.UnitOf(msg.PID)
	if !ok {
		// The sender may have exited already (a helper that sent and
		// quit): its pidfd still names the group it was in.
		name, ok = m.opts.Cgroups.UnitOfPIDFD(msg.PIDFD)
	}
	if !ok {
		return nil, 0
	}
	if u, err := m.lookup(name); err == nil {
		return u, 0
	}
	return nil, 0
}

// takesMainPID lists the states in which MAINPID= may change the main
// process, as systemd has them: not while stopping, when the signals
// already went to the processes tend knew.
func takesMainPID(s SubState) bool {
	return s == Start || s == StartPost || s == Running || s == Reload
}
