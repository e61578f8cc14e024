package supervise

import (
	"strconv"
	"time"

	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/unit"
)

// The service watchdog (WatchdogSec=, sd_notify's WATCHDOG=1,
// WATCHDOG=trigger and WATCHDOG_USEC=) is a second deadline beside the
// state's: the state's deadline ends with every state change, while the
// watchdog runs on from start-post through running and reloads.

// watchdogExpired is the watchdog's deadline passing; gen is the
// watchdog generation it was armed in.
type watchdogExpired struct{ gen uint64 }

// keepsWatchdog reports whether a running watchdog stays armed in state
// s; entering any other state stops it.
func keepsWatchdog(s SubState) bool {
	return s == StartPost || s == Running || s == Reload
}

// hearsWatchdog reports whether WATCHDOG=1, WATCHDOG=trigger and
// WATCHDOG_USEC= count in state s: while the service is up or coming up.
// A keep-alive that comes before READY=1 already arms the watchdog, as in
// systemd.
func hearsWatchdog(s SubState) bool {
	return s == Start || keepsWatchdog(s)
}

// watchdogTimeout is the timeout in force, 0 for none.
func (u *service) watchdogTimeout() time.Duration {
	if u.watchdog == unit.Infinity {
		return 0
	}
	return max(u.watchdog, 0)
}

// watchdogEnv is what tells the service's processes to send keep-alives
// and how often; spawn adds WATCHDOG_PID, which only the child knows.
func (u *service) watchdogEnv() []string {
	d := u.watchdogTimeout()
	if d == 0 {
		return nil
	}
	return []string{"WATCHDOG_USEC=" + strconv.FormatInt(d.Microseconds(), 10)}
}

// resetWatchdog starts a watchdog period: on entering start-post and on
// every keep-alive. Without a timeout it only stops the watchdog.
func (m *Manager) resetWatchdog(u *service) {
	m.stopWatchdog(u)
	d := u.watchdogTimeout()
	if d == 0 {
		return
	}
	u.wdLast = m.clock.Now()
	m.armWatchdog(u, d)
}

// armWatchdog (re)sets the watchdog's deadline to d from now.
func (m *Manager) armWatchdog(u *service, d time.Duration) {
	if u.wdTimer != nil {
		u.wdTimer.Stop()
	}
	u.wdGen++
	gen := u.wdGen
	u.wdDeadline = m.clock.Now().Add(d)
	u.wdTimer = m.clock.AfterFunc(d, func() { m.box.put(evKind{u: u.rt, ev: watchdogExpired{gen: gen}}) })
}

func (m *Manager) stopWatchdog(u *service) {
	if u.wdTimer != nil {
		u.wdTimer.Stop()
		u.wdTimer = nil
	}
	u.wdGen++
	u.wdLast = time.Time{}
}

// extendWatchdog applies EXTEND_TIMEOUT_USEC= to the watchdog: its
// deadline moves to at least d from now.
func (m *Manager) extendWatchdog(u *service, d time.Duration) {
	if u.wdTimer == nil {
		return
	}
	if u.wdDeadline.Sub(m.clock.Now()) < d {
		m.armWatchdog(u, d)
	}
}

// onWatchdog handles the watchdog's deadline passing without a keep-alive.
func (m *Manager) onWatchdog(u *service, gen uint64) {
	if gen != u.wdGen || u.wdTimer == nil {
		return
	}
	limit := u.watchdogTimeout()
	m.stopWatchdog(u)
	m.event(u.rt, prioErr, "%s: Watchdog timeout (limit %s)!", u.name, unit.FormatTimespan(limit))
	m.enterSignal(u, StopWatchdog, ResultWatchdog)
}

// onWatchdogNotify applies the watchdog fields of an sd_notify message
// the sender was allowed to send.
func (m *Manager) onWatchdogNotify(u *service, msg notify.Message) {
	if msg.Extend > 0 {
		m.extendWatchdog(u, msg.Extend)
	}
	if !hearsWatchdog(u.state) {
		return
	}
	if msg.Watchdog {
		m.resetWatchdog(u)
	}
	// notify leaves WatchdogUSec 0 both for "WATCHDOG_USEC=0", which turns
	// the watchdog off, and for a value it could not parse, which is
	// ignored.
	if v, ok := msg.Raw["WATCHDOG_USEC"]; ok && (msg.WatchdogUSec > 0 || v == "0") {
		u.watchdog = msg.WatchdogUSec
		m.resetWatchdog(u)
	}
	if msg.Trigger {
		status := u.statusText
		if status == "" {
			status = "n/a"
		}
		m.event(u.rt, prioErr, "%s: Watchdog request (last status: %s)!", u.name, status)
		m.enterSignal(u, StopWatchdog, ResultWatchdog)
	}
}
