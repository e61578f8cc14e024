package logroute

import (
	"context"
	"sync"

	"github.com/tendproject/tend/internal/journal"
)

// maxFeed bounds the committed records the feed holds for the Router. A
// Router that falls further behind (a slow disk) drops the feed and reads
// what it missed from the journal, which is the source of truth: memory
// stays bounded and nothing is lost.
const maxFeed = 1 << 20

// feed carries the journal's committed batches (Journal.Tap) to the
// Router's goroutine from memory, so that lines just written to the
// journal are not read back from its files. put runs under the journal's
// write lock and only copies.
type feed struct {
	limit int        // maxFeed, or a test's smaller bound
	mu    sync.Mutex // guards data, batches and overflow
	// data holds the batches' frames back to back; batches index it.
	data    []byte
	batches []fedBatch
	// overflow is set when a batch was dropped for want of room: the
	// Router must read the rest from the journal.
	overflow bool
	// ready has a token while batches or an overflow wait.
	ready chan struct{}
	// spare is the taker's previous buffers, reused by the next take,
	// and frames the slice take returns.
	spareData    []byte
	spareBatches []fedBatch
	frames       []journal.Frames
}

type fedBatch struct {
	boot, unit string
	start, end int // in data
}

func newFeed(limit int) *feed {
	if limit <= 0 {
		limit = maxFeed
	}
	return &feed{limit: limit, ready: make(chan struct{}, 1)}
}

// put is the journal's tap: it copies f, or drops it past the limit
// (a batch bigger than the limit is taken when nothing else waits).
func (fd *feed) put(f journal.Frames) {
	fd.mu.Lock()
	if fd.overflow || len(fd.data)+len(f.Data) > fd.limit && len(fd.batches) > 0 {
		fd.overflow = true
	} else {
		start := len(fd.data)
		fd.data = append(fd.data, f.Data...)
		fd.batches = append(fd.batches, fedBatch{boot: f.Boot, unit: f.Unit, start: start, end: len(fd.data)})
	}
	fd.mu.Unlock()
	select {
	case fd.ready <- struct{}{}:
	default:
	}
}

// take waits until batches or an overflow wait, or ctx ends, and hands
// them over. The batches' Data stay valid until the next take.
func (fd *feed) take(ctx context.Context) (bs []journal.Frames, overflow bool, ok bool) {
	select {
	case <-ctx.Done():
		return nil, false, false
	case <-fd.ready:
	}
	bs, overflow = fd.takeNow()
	return bs, overflow, true
}

// takeNow hands over what waits, without waiting.
func (fd *feed) takeNow() ([]journal.Frames, bool) {
	fd.mu.Lock()
	data, batches, overflow := fd.data, fd.batches, fd.overflow
	fd.data, fd.batches, fd.overflow = fd.spareData[:0], fd.spareBatches[:0], false
	fd.mu.Unlock()
	if cap(data) <= maxSpare || len(data) >= cap(data)/4 && cap(data) <= 2*fd.limit {
		// Reused while it is filled: a flood regrows no buffer per take.
		fd.spareData, fd.spareBatches = data, batches
	} else {
		fd.spareData, fd.spareBatches = nil, nil // give a burst's memory back
	}
	out := fd.frames[:0]
	for _, b := range batches {
		out = append(out, journal.Frames{Boot: b.boot, Unit: b.unit, Data: data[b.start:b.end]})
	}
	fd.frames = out
	return out, overflow
}

// maxSpare is the largest buffer kept for the next take whatever it
// held; a bigger one is kept only while takes fill a quarter of it.
const maxSpare = 256 << 10
