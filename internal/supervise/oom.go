package supervise

import (
	"time"

	"github.com/tendproject/tend/internal/cgroup"
)

// oomEvent: the kernel reported an OOM event in the unit's group
// (watchOOM); w tells which watch, so a late wake of a closed one is
// dropped.
type oomEvent struct {
	w     *cgroup.OOMWatch
	tries int // v1 re-checks of the kill count so far
}

// oomSettle and oomTries bound the re-checks of a v1 OOM notification:
// the kernel notifies as the OOM begins, before it picks and kills a
// process, and tells nothing when the kill is done.
const (
	oomSettle = 20 * time.Millisecond
	oomTries  = 50
)

// watchOOM watches u's group for the OOM killer from the main process's
// start until the unit is dead, so that OOMPolicy= applies to a kill of
// any of its processes, not only the main one. Only services with a
// memory limit of their own are watched: elsewhere the kernel's choice
// is the whole machine's, as tend's own resource accounting sees it.
// The goroutine ends when stopOOMWatch closes the watch, at the latest
// when the loop ends (stopOOMWatches).
func (m *Manager) watchOOM(u *service) {
	if u.oomWatch != nil || u.cg == nil || !hasMemoryLimit(u.svc()) {
		return
	}
	w, err := u.cg.WatchOOM()
	if err != nil {
		m.opts.Logger.Debug("cannot watch OOM events", "unit", u.name, "err", err)
		return
	}
	u.oomWatch, u.oomSeen = w, u.cg.OOMKills()
	if m.oomWatches == nil {
		m.oomWatches = map[*cgroup.OOMWatch]struct{}{}
	}
	m.oomWatches[w] = struct{}{}
	rt := u.rt
	m.oomWatchers.Add(1)
	go func() {
		defer m.oomWatchers.Done()
		for w.Wait() == nil {
			m.box.put(evKind{u: rt, ev: oomEvent{w: w}})
		}
	}()
}

// stopOOMWatch ends u's OOM watch (before its group goes: a v1 eventfd
// also fires when the group is removed).
func (m *Manager) stopOOMWatch(u *service) {
	if u.oomWatch != nil {
		u.oomWatch.Close()
		delete(m.oomWatches, u.oomWatch)
		u.oomWatch = nil
	}
}

// stopOOMWatches ends the OOM watches of the units still running and
// waits for the goroutines that waited on them. The units keep their
// (closed) watch: the loop handles nothing more.
func (m *Manager) stopOOMWatches() {
	for w := range m.oomWatches {
		w.Close()
	}
	clear(m.oomWatches)
	m.oomWatchers.Wait()
}

// onOOM applies OOMPolicy= (systemd.service(5)) to an OOM kill in u's
// group: continue logs it; stop (the default) stops the unit and kill
// kills all its processes, both with Result=oom-kill.
func (m *Manager) onOOM(u *service, e oomEvent) {
	if e.w != u.oomWatch {
		return
	}
	// memory.events also changes for high and max events; a v1 wake
	// comes before the kill.
	n := u.cg.OOMKills()
	if n <= u.oomSeen {
		if e.w.EveryWakeIsOOM && e.tries < oomTries {
			e.tries++
			rt := u.rt
			m.clock.AfterFunc(oomSettle, func() { m.box.put(evKind{u: rt, ev: e}) })
		}
		return
	}
	u.oomSeen = n
	m.event(u.rt, prioWarn, "%s: A process of this unit has been killed by the OOM killer.", u.name)
	policy := u.svc().OOMPolicy
	if policy == "continue" || u.state.stopping() || u.state == Dead || u.state == Failed || u.state == AutoRestart {
		return
	}
	switch {
	case policy == "kill":
		m.enterSignal(u, StopSigkill, ResultOOMKill)
	case u.state == Running || u.state == Exited || u.state == Reload:
		m.enterStop(u, ResultOOMKill)
	default: // still starting
		m.enterSignal(u, StopSigterm, ResultOOMKill)
	}
}
