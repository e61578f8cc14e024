// Package clock is the time source tend's loops take as a parameter: the
// real clock in production, a Fake in tests, where time moves only when
// the test says so and timers fire in deadline order on the test's own
// goroutine. A test of a ten-minute RestartSec= then takes microseconds
// and cannot be flaky.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	// Now is the current time (wall and monotonic, as time.Now).
	Now() time.Time
	// AfterFunc calls f, on a goroutine of the clock's choosing, once d
	// has passed. Callers that own state post an event from f instead of
	// touching the state (see internal/supervise).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether
	// it did.
	Stop() bool
}

// Real is the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a clock that stands still until Advance or Set moves it. Its
// timers fire inside Advance/Set, in deadline order (ties in the order
// they were armed), each seeing Now at its own deadline. It is safe for
// concurrent use; a timer's function must not call Advance or Set.
type Fake struct {
	mu     sync.Mutex // guards now, timers, seq
	now    time.Time
	timers []*fakeTimer
	seq    uint64
}

// NewFake returns a fake clock that reads t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

type fakeTimer struct {
	c   *Fake
	at  time.Time
	seq uint64
	f   func()
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer due d after the fake now; d <= 0 is due at the
// next Advance (even by 0).
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

// Advance moves the clock d forward, firing every timer that falls due
// on the way.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	to := c.now.Add(d)
	c.mu.Unlock()
	c.Set(to)
}

// Set moves the clock to t, firing the timers due by then. Setting it
// back fires nothing (a wall-clock jump backwards; timers wait for the
// time to come again).
func (c *Fake) Set(t time.Time) {
	for {
		c.mu.Lock()
		next := c.nextLocked()
		if next == nil || next.at.After(t) {
			c.now = t
			c.mu.Unlock()
			return
		}
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == next })
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// nextLocked is the timer due first, or nil.
func (c *Fake) nextLocked() *fakeTimer {
	var n *fakeTimer
	for _, t := range c.timers {
		if n == nil || t.at.Before(n.at) || t.at.Equal(n.at) && t.seq < n.seq {
			n = t
		}
	}
	return n
}

// Pending reports how many timers are armed.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns how long until the first armed timer is due, and false
// when none is armed.
func (c *Fake) Next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nextLocked()
	if n == nil {
		return 0, false
	}
	return n.at.Sub(c.now), true
}
