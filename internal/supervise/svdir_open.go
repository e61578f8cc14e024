package supervise

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/svdir"
)

// Taking over a scan directory opens the supervise/ of every service
// directory in it: a dozen files, FIFOs and renames each. Done one after
// the other before the first start, that was the serial phase of a
// bring-up of many directories; svdirOpenAhead does it on workers, in
// start order, while the loop starts each service as soon as its own
// supervise/ is open (svdirOpen waits for that one only). A worker
// hands each opened directory to the loop (evSvdirOpened); until then
// the unit's supNext is pending, which only job checks and these
// hand-overs may see: any other event first waits for every pending
// directory (svdirTakeAll), so nothing else finds a unit half-taken.

// nextSup is a supervise/ a worker opens ahead of its unit's start; d and
// err are set before done closes. st is what the worker wrote first.
type nextSup struct {
	done chan struct{}
	st   svdir.Status
	d    *svdir.Dir
	err  error
}

// evSvdirOpened: a worker opened u's pending supervise/.
type evSvdirOpened struct{ u *svdirUnit }

// svdirOpen takes the directory's supervise/ (its lock, the FIFOs) the
// first time it is needed, or the one a worker opened for it. A
// directory another supervisor holds is refused, as runsv refuses it,
// and the unit fails saying who holds it.
func (m *Manager) svdirOpen(u *svdirUnit) bool {
	if u.supNext != nil {
		return m.svdirTake(u)
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

// svdirTake takes u's pending supervise/, waiting for its worker, and
// brings the files up to date if u changed since they were written.
func (m *Manager) svdirTake(u *svdirUnit) bool {
	p := u.supNext
	<-p.done
	u.supNext = nil
	delete(m.supPending, u)
	if !m.svdirOpened(u, p.d, p.err) {
		return false
	}
	if u.supStatus() != p.st {
		m.svdirWrite(u)
	}
	return true
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

// svdirOpenAhead starts opening the supervise/ of units ahead of their
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
	for i, u := range units {
		next[i] = &nextSup{done: make(chan struct{}), st: m.svdirBeforeOpen(u)}
		dirs[i] = u.dir()
		u.supNext = next[i]
		m.supPending[u] = struct{}{}
	}
	m.ahead(len(units), func(i int) {
		p := next[i]
		p.d, p.err = svdir.Open(dirs[i], m.opts.SvdirHub, p.st)
		close(p.done)
		m.box.put(evSvdirOpened{u: units[i]})
	})
}
