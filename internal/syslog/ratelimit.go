package syslog

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// senderKind tells what a sender key identifies.
type senderKind uint8

const (
	byPID senderKind = iota + 1
	byUID
	byAddr
)

// sender identifies a rate-limit bucket: a process, a user, or a remote
// address. It is a comparable value so that lookups do not allocate.
type sender struct {
	kind senderKind
	id   int
	addr netip.Addr
}

func (s sender) String() string {
	switch s.kind {
	case byPID:
		return fmt.Sprintf("pid %d", s.id)
	case byUID:
		return fmt.Sprintf("uid %d", s.id)
	default:
		return s.addr.String()
	}
}

// bucket counts one sender's messages in its current window.
type bucket struct {
	start      time.Time
	n          int
	suppressed int
}

// suppression is one report of messages dropped from one sender.
type suppression struct {
	from  sender
	count int
}

// limiter is a fixed-window rate limiter per sender, like journald's
// RateLimitIntervalSec=/RateLimitBurst=, with a second, larger budget per
// unprivileged uid so that a user cannot escape the limit by forking.
// Memory is bounded by max buckets. Suppressed counts are never lost: they
// are returned as reports when a window ends, when a bucket is evicted,
// and by drain.
type limiter struct {
	interval      time.Duration
	burst, uBurst int
	max           int

	// mu guards buckets and earliest.
	mu      sync.Mutex
	buckets map[sender]*bucket
	// earliest is the end of the first window that holds suppressed
	// messages, or zero; the receiver's timer is armed for it.
	earliest time.Time
}

func newLimiter(interval time.Duration, burst, uidBurst, max int) *limiter {
	return &limiter{interval: interval, burst: burst, uBurst: uidBurst, max: max,
		buckets: make(map[sender]*bucket)}
}

// allow reports whether a message from proc (and, if uid > 0, from that
// uid) may pass at now. It appends to reps the reports of windows that
// ended. armAt is non-zero when the caller must make sure expire runs then.
func (l *limiter) allow(proc sender, uid int, now time.Time, reps []suppression) (ok bool, armAt time.Time, _ []suppression) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets)+2 > l.max {
		reps = l.evictLocked(now, reps)
	}
	pb, reps := l.bucketLocked(proc, now, reps)
	var ub *bucket
	if uid > 0 {
		ub, reps = l.bucketLocked(sender{kind: byUID, id: uid}, now, reps)
	}
	deny := pb
	if pb.n < l.burst {
		deny = nil
		if ub != nil && ub.n >= l.uBurst {
			deny = ub
		}
	}
	if deny == nil {
		pb.n++
		if ub != nil {
			ub.n++
		}
		return true, time.Time{}, reps
	}
	deny.suppressed++
	if deny.suppressed == 1 {
		end := deny.start.Add(l.interval)
		if l.earliest.IsZero() || end.Before(l.earliest) {
			l.earliest = end
			armAt = end
		}
	}
	return false, armAt, reps
}

// bucketLocked returns s's bucket for now, starting a new window (and
// reporting the old one's suppressions) when the old one ended.
func (l *limiter) bucketLocked(s sender, now time.Time, reps []suppression) (*bucket, []suppression) {
	b := l.buckets[s]
	if b == nil {
		b = &bucket{start: now}
		l.buckets[s] = b
		return b, reps
	}
	if now.Sub(b.start) >= l.interval || now.Before(b.start) {
		if b.suppressed > 0 {
			reps = append(reps, suppression{s, b.suppressed})
		}
		*b = bucket{start: now}
	}
	return b, reps
}

// evictLocked makes room for two new buckets: it drops every bucket whose
// window ended and then, while still short, the one with the oldest window.
func (l *limiter) evictLocked(now time.Time, reps []suppression) []suppression {
	for s, b := range l.buckets {
		if now.Sub(b.start) >= l.interval {
			reps = l.dropLocked(s, b, reps)
		}
	}
	for len(l.buckets) > 0 && len(l.buckets)+2 > l.max {
		var oldest sender
		var ob *bucket
		for s, b := range l.buckets {
			if ob == nil || b.start.Before(ob.start) {
				oldest, ob = s, b
			}
		}
		reps = l.dropLocked(oldest, ob, reps)
	}
	return reps
}

func (l *limiter) dropLocked(s sender, b *bucket, reps []suppression) []suppression {
	if b.suppressed > 0 {
		reps = append(reps, suppression{s, b.suppressed})
	}
	delete(l.buckets, s)
	return reps
}

// expire reports the suppressions of windows that ended by now and
// returns when it must run next (zero: no suppressions outstanding).
func (l *limiter) expire(now time.Time) (next time.Time, reps []suppression) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.earliest = time.Time{}
	for s, b := range l.buckets {
		if b.suppressed == 0 {
			continue
		}
		end := b.start.Add(l.interval)
		if !now.Before(end) {
			reps = l.dropLocked(s, b, reps)
		} else if l.earliest.IsZero() || end.Before(l.earliest) {
			l.earliest = end
		}
	}
	return l.earliest, reps
}

// drain reports all outstanding suppressions, ended windows or not.
func (l *limiter) drain() []suppression {
	l.mu.Lock()
	defer l.mu.Unlock()
	var reps []suppression
	for s, b := range l.buckets {
		if b.suppressed > 0 {
			reps = append(reps, suppression{s, b.suppressed})
			b.suppressed = 0
		}
	}
	l.earliest = time.Time{}
	return reps
}
