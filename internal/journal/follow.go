package journal

import (
	"context"
	"math"
	"os"
	"time"
)

// Follow runs q like Query (q.Reverse is ignored) and then keeps calling fn
// for each new matching entry as it is committed, until ctx ends (it then
// returns nil) or fn fails. It waits on the journal's commit notification:
// no polling.
func (j *Journal) Follow(ctx context.Context, q Query, fn func(Entry) error) error {
	return j.FollowIdle(ctx, q, fn, nil)
}

// FollowIdle is Follow that also calls idle, when not nil, each time every
// entry committed so far has been handed to fn and it is about to wait:
// the moment for a reader that batches to flush. An error from idle ends
// it like one from fn.
func (j *Journal) FollowIdle(ctx context.Context, q Query, fn func(Entry) error, idle func() error) error {
	q.Reverse = false
	ch := j.changed() // taken before hi: a commit after hi closes it
	hi := j.committed.Load()
	fs := &followState{pos: map[string]int64{}, files: map[string]*os.File{}}
	defer fs.close()
	q.follow = fs
	fs.startQuery()
	if _, err := runQuery(ctx, j, q, hi, fn); err != nil {
		return ignoreCanceled(ctx, err)
	}
	fs.endQuery()
	next := Query{Units: q.Units, Since: q.Since, Until: q.Until, Grep: q.Grep,
		CaseSensitive: q.CaseSensitive, Priorities: q.Priorities, Boot: q.Boot, Matches: q.Matches, UIDs: q.UIDs,
		follow: fs}
	for {
		if idle != nil {
			if err := idle(); err != nil {
				return err
			}
		}
		// Close marks the journal closed before its final notify: either
		// ch is that notify's channel or closed is already visible.
		if j.isClosed() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
		ch = j.changed()
		newHi := j.committed.Load()
		if newHi == hi {
			continue
		}
		next.AfterCursor = FormatCursor(Entry{Seq: hi})
		fs.startQuery()
		if _, err := runQuery(ctx, j, next, newHi, fn); err != nil {
			return ignoreCanceled(ctx, err)
		}
		fs.endQuery()
		hi = newHi
	}
}

func (j *Journal) isClosed() bool {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	return j.closed
}

func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil && err == ctx.Err() {
		return nil
	}
	return err
}

// noLimit is the sequence bound of queries over everything.
const noLimit = math.MaxUint64

// aLongTimeAgo is a deadline in the past, used to interrupt a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// followState is what a follower remembers between its queries, which
// run after every commit and each want the few entries just appended:
// where it stopped in each segment (the next query decodes from there,
// not from the start of the block), and the active segments' files,
// kept open rather than opened and closed per commit. Only the
// follower's goroutine uses it.
type followState struct {
	pos   map[string]int64 // segment path → offset past the last record delivered
	files map[string]*os.File
	used  map[string]bool // files read by the current query
	// spare are buffers of ended iterators, for the next query's.
	spare []iterBufs
}

// maxFollowPos bounds the remembered positions (segments come and go).
const maxFollowPos = 1024

// resumeAt is where to start decoding the chunk [start, end) of path.
func (fs *followState) resumeAt(path string, start, end int64) int64 {
	if p, ok := fs.pos[path]; ok && p > start && p < end {
		return p // the records before p were delivered already
	}
	return start
}

// file returns the kept file of path, nil when none.
func (fs *followState) file(path string) *os.File {
	f := fs.files[path]
	if f != nil {
		fs.used[path] = true
	}
	return f
}

// keep takes f, just opened for path, into the state.
func (fs *followState) keep(path string, f *os.File) {
	fs.files[path] = f
	fs.used[path] = true
}

// iterBufs are a unit iterator's read buffer and record slice.
type iterBufs struct {
	buf  []byte
	recs []rec
}

// maxFollowBufs and maxFollowBuf bound what a follower keeps for its next
// query: the buffers of a few units, none of a long first read.
const (
	maxFollowBufs = 4
	maxFollowBuf  = 256 << 10
)

// lend gives a new unit iterator buffers that earlier queries used: a
// follower runs one query per commit, and allocating (and zeroing) its
// read buffer anew each time was a good part of its cost.
func (fs *followState) lend() ([]byte, []rec) {
	if len(fs.spare) == 0 {
		return nil, nil
	}
	b := fs.spare[len(fs.spare)-1]
	fs.spare = fs.spare[:len(fs.spare)-1]
	return b.buf, b.recs
}

// giveBack keeps an ended iterator's buffers for lend. The entries of the
// query that used them were delivered already.
func (fs *followState) giveBack(buf []byte, recs []rec) {
	if len(fs.spare) >= maxFollowBufs || cap(buf) > maxFollowBuf || cap(buf) == 0 {
		return
	}
	clear(recs[:cap(recs)])
	fs.spare = append(fs.spare, iterBufs{buf[:0], recs[:0]})
}

func (fs *followState) startQuery() {
	if len(fs.pos) > maxFollowPos {
		clear(fs.pos)
	}
	fs.used = map[string]bool{}
}

// endQuery closes the files the query did not read: segments sealed
// since (the writer moved on) or of units that wrote nothing, so that a
// segment retention removes is not held open.
func (fs *followState) endQuery() {
	for p, f := range fs.files {
		if !fs.used[p] {
			f.Close()
			delete(fs.files, p)
		}
	}
}

func (fs *followState) close() {
	for p, f := range fs.files {
		f.Close()
		delete(fs.files, p)
	}
}
