package supervise

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/svdir"
)

// Taking over a scan directory opens the supervise/ of every service
// directory in it: a dozen files and FIFOs each. Done one after the
// other before the first start, that was the serial phase of a bring-up
// of many directories; svdirOpenAhead does it on workers, in start
// order, while the loop starts each service as soon as its own
// supervise/ is open (svdirOpen waits for that one only). The workers
// only prepare the directory (svdir.Prepare): its files are written once,
// by the loop, with the state the unit has when it is taken — running,
// for a unit taken by its start — rather than "down" by the worker and
// then replaced by rename at the start. A worker hands each prepared
// directory to the loop (evSvdirOpened); until then the unit's supNext
// is pending, which only job checks and these hand-overs may see: any
// other event first waits for every pending directory (svdirTakeAll), so
// nothing else finds a unit half-taken.

// nextSup is a supervise/ a worker prepares ahead of its unit's start; d
// and err are set before done closes.
type nextSup struct {
	done chan struct{}
	d    *svdir.Dir
	err  error
}

// evSvdirOpened: a worker opened u's pending supervise/.
type evSvdirOpened struct{ u *svdirUnit }

// svdirOpen takes the directory's supervise/ (its lock, the FIFOs) the
// first time it is needed, or the one a worker opened for it. A
// directory another supervisor holds is refused, as runsv refuses it,
// and the unit fails saying who holds it.
//
// A directory a worker prepared is not written yet: the caller writes
// it (svdirWrite) once the unit is in the state it wants sv to see.
func (m *Manager) svdirOpen(u *svdirUnit) bool {
	if u.supNext != nil {
		return m.svdirClaim(u)
	}
	if u.sup != nil {
		return true
	}
	if m.opts.SvdirHub == nil {
		return m.svdirOpened(u, nil, errors.New("service directories are not enabled in this manager"))
	}
	d, err := svdir.Open(u.dir(), m.opts.SvdirHub, m.svdirBeforeOpen(u))
	return m.svdirOpened(u, d, err)
}

// svdirTake takes u's pending supervise/ and writes its files, which
// makes it visible to sv.
func (m *Manager) svdirTake(u *svdirUnit) {
	if m.svdirClaim(u) {
		m.svdirWrite(u)
	}
}

// svdirClaim takes u's pending supervise/, waiting for its worker; the
// files are not written yet.
func (m *Manager) svdirClaim(u *svdirUnit) bool {
	p := u.supNext
	<-p.done
	u.supNext = nil
	delete(m.supPending, u)
	return m.svdirOpened(u, p.d, p.err)
}

// svdirTakeAll takes every pending supervise/ (see above).
func (m *Manager) svdirTakeAll() {
	for u := range m.supPending {
		m.svdirTake(u)
	}
}

// svdirBeforeOpen settles what supervise/ will first say: since when,
// and down when there is a down file and the service is not running.
func (m *Manager) svdirBeforeOpen(u *svdirUnit) svdir.Status {
	if u.since.IsZero() {
		u.since = m.clock.Now()
	}
	if _, err := os.Stat(filepath.Join(u.dir(), "down")); err == nil && !u.isLog && u.state.Active() == Inactive {
		u.want = svdir.WantDown
	}
	return u.supStatus()
}

// svdirOpened records the outcome of svdir.Open; a unit whose
// directory could not be opened fails with the reason.
func (m *Manager) svdirOpened(u *svdirUnit, d *svdir.Dir, err error) bool {
	if err == nil {
		u.sup = d
		m.svdirByDir()[d] = u
		return true
	}
	u.reason = err.Error()
	m.event(u.rt, prioErr, "%s: %s", u.name, u.reason)
	u.result = ResultResources
	m.setState(u.rt, Failed)
	return false
}

// svdirOpenAhead starts preparing the supervise/ of units ahead of their
// starts (m.ahead), in order, and returns at once.
func (m *Manager) svdirOpenAhead(units []*svdirUnit) {
	if m.opts.SvdirHub == nil || len(units) < 2 {
		return // svdirOpen opens them one by one
	}
	next := make([]*nextSup, len(units))
	dirs := make([]string, len(units))
	if m.supPending == nil {
		m.supPending = map[*svdirUnit]struct{}{}
	}
	// The same workers make the cgroups of the services about to start,
	// each after its directory, in the order the starts take them: two
	// pools of workers (these and prepareGroups') both running ahead
	// of the loop took the cores from it at the start of a bring-up.
	groups := make([]*nextGroup, len(units))
	for i, u := range units {
		m.svdirBeforeOpen(u)
		next[i] = &nextSup{done: make(chan struct{})}
		dirs[i] = u.dir()
		u.supNext = next[i]
		m.supPending[u] = struct{}{}
		if m.opts.Cgroups != nil && u.want == svdir.WantUp && u.state.Active() == Inactive && u.cg == nil && u.cgNext == nil {
			groups[i] = m.groupAhead(u.rt) // it starts next (SvdirAdd)
		}
	}
	m.ahead(len(units), func(i int) {
		p := next[i]
		p.d, p.err = svdir.Prepare(dirs[i], m.opts.SvdirHub)
		close(p.done)
		m.box.put(evSvdirOpened{u: units[i]})
		if groups[i] != nil {
			m.makeGroup(units[i].name, groups[i])
		}
	})
}
