package logroute

import (
	"context"
	"sync"
	"time"

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
	mu    sync.Mutex // guards batches, size, overflow, cur and used
	// batches wait for the Router; size is their bytes.
	batches []journal.Frames
	size    int
	// overflow is set when a batch was dropped for want of room: the
	// Router must read the rest from the journal.
	overflow bool
	// ready has a token while batches or an overflow wait.
	ready chan struct{}
	// The batches are packed into buffers: cur is the one being filled,
	// used every buffer the waiting batches are in.
	cur  []byte
	used [][]byte
	// bufs recycles the buffers of batches the Router is done with: a
	// flood copies into reused memory, and an idle feed's buffers go at
	// the next garbage collections.
	bufs sync.Pool
	// taken and takenBufs are what the last take handed over, the
	// Router's until the next take.
	taken     []journal.Frames
	takenBufs [][]byte
	// room, made by a writer that found the feed more than half full
	// (waitRoom), is closed by the take that empties it. stalled is set
	// when a writer's wait ran out with the Router taking nothing: the
	// next writers do not wait until it takes again.
	room    chan struct{}
	stalled bool
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
	if fd.overflow || fd.size+len(f.Data) > fd.limit && len(fd.batches) > 0 {
		fd.overflow = true
	} else {
		n := len(f.Data)
		if cap(fd.cur)-len(fd.cur) < n {
			fd.cur = fd.buf(n)
			fd.used = append(fd.used, fd.cur)
		}
		start := len(fd.cur)
		fd.cur = append(fd.cur, f.Data...)
		f.Data = fd.cur[start:len(fd.cur):len(fd.cur)]
		fd.batches = append(fd.batches, f)
		fd.size += n
	}
	fd.mu.Unlock()
	select {
	case fd.ready <- struct{}{}:
	default:
	}
}

// minFeedBuf is the smallest buffer made: small batches share one.
const minFeedBuf = 64 << 10

// buf is an empty buffer for n bytes, recycled when one is big enough.
func (fd *feed) buf(n int) []byte {
	if p, ok := fd.bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, max(n, minFeedBuf))
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
	for i, b := range fd.takenBufs {
		fd.bufs.Put(&b)
		fd.takenBufs[i] = nil
	}
	clear(fd.taken)
	fd.mu.Lock()
	bs, bufs, overflow := fd.batches, fd.used, fd.overflow
	fd.batches, fd.used, fd.size, fd.overflow = fd.taken[:0], fd.takenBufs[:0], 0, false
	// The next batch starts a buffer of its own: these go back to the
	// pool at the next take.
	fd.cur = nil
	if fd.room != nil {
		close(fd.room)
		fd.room = nil
	}
	fd.stalled = false
	fd.mu.Unlock()
	fd.taken, fd.takenBufs = bs, bufs
	return bs, overflow
}

// waitRoom waits while the feed is more than half full, until the Router
// took what waits, for at most limit. A wait that runs out marks the
// Router stalled (a slow file): later calls return at once until it takes
// again, so that it holds the writers back once, not on every batch. An
// overflowed feed is not waited for: the Router reads the journal then.
func (fd *feed) waitRoom(limit time.Duration) {
	fd.mu.Lock()
	if fd.overflow || fd.stalled || fd.size <= fd.limit/2 {
		fd.mu.Unlock()
		return
	}
	if fd.room == nil {
		fd.room = make(chan struct{})
	}
	room := fd.room
	fd.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-room:
	case <-t.C:
		fd.mu.Lock()
		if fd.room == room {
			fd.stalled = true
		}
		fd.mu.Unlock()
	}
}
