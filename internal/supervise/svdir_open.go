package supervise

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tendproject/tend/internal/svdir"
)

// Taking over a scan directory opens the supervise/ of every service
// directory in it: a dozen files, FIFOs and renames each. Done one after
// the other before the first start, that was the serial phase of a
// bring-up of many directories; svdirOpenAhead does it on workers, in
// start order, while the loop starts each service as soon as its own
// supervise/ is open (svdirOpen waits for that one only).

// nextSup is a supervise/ a worker opens ahead of its unit's start; d and
// err are set before done closes.
type nextSup struct {
	done chan struct{}
	d    *svdir.Dir
	err  error
}

// svdirOpen takes the directory's supervise/ (its lock, the FIFOs) the
// first time it is needed, or the one a worker opened for it. A
// directory another supervisor holds is refused, as runsv refuses it,
// and the unit fails saying who holds it.
func (m *Manager) svdirOpen(u *svdirUnit) bool {
	if p := u.supNext; p != nil {
		<-p.done
		u.supNext = nil
		return m.svdirOpened(u, p.d, p.err)
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

// svdirOpenAhead starts opening the supervise/ of units on a few
// workers, in order, and returns at once; each unit's svdirOpen waits
// for its own. The caller ends the batch with svdirOpenRest within the
// same loop event, so no unit is left half-taken.
func (m *Manager) svdirOpenAhead(units []*svdirUnit) *sync.WaitGroup {
	var wg sync.WaitGroup
	if m.opts.SvdirHub == nil || len(units) < 2 {
		return &wg // svdirOpen opens them one by one
	}
	next := make([]*nextSup, len(units))
	dirs := make([]string, len(units))
	sts := make([]svdir.Status, len(units))
	for i, u := range units {
		next[i] = &nextSup{done: make(chan struct{})}
		dirs[i], sts[i] = u.dir(), m.svdirBeforeOpen(u)
		u.supNext = next[i]
	}
	var claimed atomic.Int64
	for range min(2, len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(claimed.Add(1) - 1)
				if i >= len(units) {
					return
				}
				next[i].d, next[i].err = svdir.Open(dirs[i], m.opts.SvdirHub, sts[i])
				close(next[i].done)
			}
		}()
	}
	return &wg
}

// svdirOpenRest waits for svdirOpenAhead's workers and takes the
// supervise/ of every unit no start took meanwhile (down services, and
// those waiting for a dependency), so sv can talk to them at once.
func (m *Manager) svdirOpenRest(units []*svdirUnit, wg *sync.WaitGroup) {
	wg.Wait()
	for _, u := range units {
		if u.supNext != nil || u.sup == nil {
			m.svdirOpen(u)
		}
	}
}
