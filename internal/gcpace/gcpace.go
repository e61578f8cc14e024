// Package gcpace paces the Go garbage collector of a daemon that must
// not wake while idle. The runtime collects at least every two minutes
// when GOGC pacing is on (its forced GC), whether anything was allocated
// or not: for a daemon holding ten thousand timer units that is a mark
// of a 100 MB heap on every core, some 360 context switches, every two
// minutes of idleness. With GOGC off the forced GC is off too; a memory
// limit that follows the live heap then paces collections as GOGC
// would: after every cycle the limit is set to the runtime's memory
// outside the heap plus the live heap grown by the GOGC percentage (and
// by at least the runtime's own minimum of 4 MB, as GOGC pacing).
package gcpace

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Pacer sets the memory limit after every collection until Stop.
type Pacer struct {
	percent uint64
	minGrow uint64

	mu      sync.Mutex // guards stopped and the sample, which the finalizer goroutine uses
	stopped bool
	sample  []metrics.Sample
	// prevPercent and prevLimit are the settings Stop puts back.
	prevPercent int
	prevLimit   int64
	// paced, when not nil, gets each limit set after a collection (tests).
	paced chan<- uint64
}

// The metrics the limit is computed from: the live heap, and the
// runtime's memory (total) less the heap's objects and its free and
// released pages, which leaves what the runtime counts against a limit
// beyond the objects (stacks, metadata, the unused ends of spans).
var names = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/released:bytes",
}

// minGrow is the runtime's own minimum heap growth at GOGC=100
// (heapMinimum); it scales with the percentage as there.
const minGrow = 4 << 20

// Start takes over the pacing: GOGC off, the limit as described in the
// package comment with percent as GOGC. It returns nil, changing
// nothing, when the environment sets GOGC or GOMEMLIMIT (the operator's
// choice stands) or percent is not positive.
func Start(percent int) *Pacer {
	if percent <= 0 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return start(percent, nil)
}

func start(percent int, paced chan<- uint64) *Pacer {
	p := &Pacer{paced: paced}
	p.percent, p.minGrow = uint64(percent), minGrow/100*uint64(percent)
	for _, n := range names {
		p.sample = append(p.sample, metrics.Sample{Name: n})
	}
	p.prevLimit = debug.SetMemoryLimit(int64(p.limit()))
	p.prevPercent = debug.SetGCPercent(-1)
	p.arm()
	return p
}

// sentinel is garbage from the moment it is made: its finalizer runs
// after the next collection, and arms the next one.
type sentinel struct{ _ [32]byte } // too large for the tiny allocator, whose objects may never be finalized

func (p *Pacer) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { p.collected() })
}

// collected runs on the runtime's finalizer goroutine after a cycle.
func (p *Pacer) collected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	l := p.limitLocked()
	debug.SetMemoryLimit(int64(l))
	p.arm()
	if p.paced != nil {
		select {
		case p.paced <- l:
		default:
		}
	}
}

func (p *Pacer) limit() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limitLocked()
}

// limitLocked is the runtime's memory outside the heap plus the live
// heap with percent to grow.
func (p *Pacer) limitLocked() uint64 {
	metrics.Read(p.sample)
	v := make([]uint64, len(p.sample))
	for i, s := range p.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	live, total := v[0], v[1]
	heap := v[2] + v[3] + v[4]
	other := total - min(heap, total)
	l := other + live + max(live/100*p.percent, p.minGrow)
	return min(l, math.MaxInt64)
}

// SetPercent paces as GOGC=percent from now on (a boot that allocates
// much garbage collects less often); nil or a stopped pacer ignores it.
func (p *Pacer) SetPercent(percent int) {
	if p == nil || percent <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.percent, p.minGrow = uint64(percent), minGrow/100*uint64(percent)
	debug.SetMemoryLimit(int64(p.limitLocked()))
}

// Stop gives the pacing back to GOGC as it was.
func (p *Pacer) Stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	debug.SetGCPercent(p.prevPercent)
	debug.SetMemoryLimit(p.prevLimit)
}
