package journal

import (
	"context"
	"math"
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
	resume := map[string]int64{} // filled by forward queries only
	q.resume = resume
	if _, err := runQuery(ctx, j, q, hi, fn); err != nil {
		return ignoreCanceled(ctx, err)
	}
	next := Query{Units: q.Units, Since: q.Since, Until: q.Until, Grep: q.Grep,
		CaseSensitive: q.CaseSensitive, Priorities: q.Priorities, Boot: q.Boot, Matches: q.Matches, UIDs: q.UIDs,
		resume: resume}
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
		if len(resume) > maxResume {
			clear(resume) // segments retention removed; start over
		}
		if _, err := runQuery(ctx, j, next, newHi, fn); err != nil {
			return ignoreCanceled(ctx, err)
		}
		hi = newHi
	}
}

// maxResume bounds a follower's remembered segment positions.
const maxResume = 1024

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
