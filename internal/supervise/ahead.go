package supervise

import (
	"runtime"
	"sync/atomic"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/unit"
)

// What a start needs from the kernel before its fork (a cgroup, a service
// directory's supervise/) is made ahead of the start when many units
// start at once, on a few goroutines in start order, so the first unit
// forks as soon as its own is ready and the later ones' overlap the
// earlier forks.

// nextGroup is a unit's cgroup that a prepareGroups worker makes ahead
// of the unit's start; g is set (or left nil on failure: prepare tries
// again and reports the error) before done closes. If def is a service,
// its limits were written to g too (limited), with limitsErr the result
// for the loop to report.
type nextGroup struct {
	done      chan struct{}
	def       *unit.Unit
	g         *cgroup.Group
	limited   bool
	limitsErr error
}

// prepareGroups makes the cgroups of many units that are about to start
// (bring-up) on two workers, in the order given, while the loop goes on:
// the first unit forks as soon as its own group exists, not after the
// last one's, and the mkdirs of later units overlap the forks of earlier
// ones. The workers end when the list is done; Run waits for them (m.workers).
func (m *Manager) prepareGroups(us []*rt) {
	if m.opts.Cgroups == nil || len(us) < 2*aheadWorkers {
		return
	}
	next := make([]*nextGroup, len(us))
	for i, u := range us {
		next[i] = m.groupAhead(u)
	}
	m.ahead(len(us), func(i int) { m.makeGroup(us[i].name, next[i]) })
}

// groupAhead marks u's group as one a worker makes (makeGroup), for its
// start to take (takeGroup).
func (m *Manager) groupAhead(u *rt) *nextGroup {
	u.cgNext = &nextGroup{done: make(chan struct{}), def: u.def}
	return u.cgNext
}

// makeGroup is a worker's making of the group of the unit named name,
// and the writing of its limits.
func (m *Manager) makeGroup(name string, p *nextGroup) {
	if g, err := m.makeCgroup(name, p.def, false); err == nil {
		p.g = g
		if p.def != nil && p.def.Service != nil {
			p.limitsErr, p.limited = m.setLimits(g, p.def), true
		}
	}
	close(p.done)
}

// makeCgroup creates the cgroup of the unit named name. A per-connection
// instance (transient) gets only the tracking group: on a hybrid machine
// the v1 stats groups would cost each connection two more mkdirs, rmdirs
// and process moves (see cgroup.TrackingGroup). A service directory has
// no TasksMax=, so its tasks are counted without a v1 pids group
// (cgroup.CountedGroup).
func (m *Manager) makeCgroup(name string, def *unit.Unit, transient bool) (*cgroup.Group, error) {
	switch {
	case transient:
		return m.opts.Cgroups.TrackingGroup(name)
	case def != nil && def.Kind == unit.KindSvdir:
		return m.opts.Cgroups.CountedGroup(name)
	}
	return m.opts.Cgroups.Group(name)
}

// takeGroup takes the group a prepareGroups worker made for u, and its
// limits if they are still those of u's definition.
func (m *Manager) takeGroup(u *rt, p *nextGroup) {
	<-p.done // made in start order: ready, or about to be
	if u.cg != nil || p.g == nil {
		return
	}
	u.cg = p.g
	if p.limited && p.def == u.def {
		u.limitsCg, u.limitsDef = p.g, p.def
		m.reportLimits(u, p.limitsErr)
	}
}

// aheadWorkers is how many goroutines make what starts need ahead of
// them: two keep a 2-core machine's second core busy while the loop
// forks, more only queue on the kernel's cgroup and directory locks.
const aheadWorkers = 2

// ahead runs do(0), do(1), … do(n-1) on aheadWorkers goroutines, taken
// in order, and returns at once. The goroutines end when all are taken;
// m.workers counts them, and Run waits for them.
func (m *Manager) ahead(n int, do func(i int)) {
	var claimed atomic.Int64
	for range aheadWorkers {
		m.workers.Add(1)
		go func() {
			defer m.workers.Done()
			for {
				i := int(claimed.Add(1) - 1)
				if i >= n {
					return
				}
				do(i)
				// The loop may be waiting for what do just made
				// (takeGroup): then it sits in this P's runnext, and with
				// both Ps busy with workers whose system calls are too
				// short to hand their P off, it would wait for the
				// scheduler's 10 ms preemption. Yield so that it runs now.
				runtime.Gosched()
			}
		}()
	}
}
