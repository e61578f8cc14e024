package clock

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	c := NewFake(t0)
	var got []string
	var at []time.Duration
	arm := func(name string, d time.Duration) Timer {
		return c.AfterFunc(d, func() {
			got = append(got, name)
			at = append(at, c.Now().Sub(t0))
		})
	}
	arm("c", 3*time.Second)
	arm("a", time.Second)
	arm("b1", 2*time.Second)
	arm("b2", 2*time.Second)
	stopped := arm("x", 1500*time.Millisecond)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop returned true")
	}
	if n := c.Pending(); n != 4 {
		t.Fatalf("Pending = %d; want 4", n)
	}
	if d, ok := c.Next(); !ok || d != time.Second {
		t.Fatalf("Next = %v, %v; want 1s, true", d, ok)
	}
	c.Advance(2 * time.Second)
	if want := []string{"a", "b1", "b2"}; !slices.Equal(got, want) {
		t.Fatalf("after 2s fired %v; want %v", got, want)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second}; !slices.Equal(at, want) {
		t.Fatalf("timers saw now at %v; want %v", at, want)
	}
	if c.Now() != t0.Add(2*time.Second) {
		t.Fatalf("Now = %v", c.Now())
	}
	c.Advance(time.Hour)
	if len(got) != 4 || c.Pending() != 0 {
		t.Fatalf("fired %v, %d pending", got, c.Pending())
	}
	if _, ok := c.Next(); ok {
		t.Fatal("Next with no timer reported one")
	}
}

// A timer armed from a firing timer's function fires in the same Advance
// if it falls due within it.
func TestFakeTimerArmedByTimer(t *testing.T) {
	c := NewFake(t0)
	n := 0
	var tick func()
	tick = func() {
		n++
		c.AfterFunc(time.Second, tick)
	}
	c.AfterFunc(time.Second, tick)
	c.Advance(5 * time.Second)
	if n != 5 {
		t.Fatalf("ticked %d times in 5s; want 5", n)
	}
}

func TestFakeSetBackFiresNothing(t *testing.T) {
	c := NewFake(t0)
	fired := false
	c.AfterFunc(time.Minute, func() { fired = true })
	c.Set(t0.Add(-time.Hour))
	if fired || c.Now() != t0.Add(-time.Hour) {
		t.Fatalf("fired %v, now %v", fired, c.Now())
	}
	c.Set(t0.Add(time.Minute))
	if !fired {
		t.Fatal("timer did not fire once its time came")
	}
}

func TestRealFires(t *testing.T) {
	c := Real()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if c.AfterFunc(time.Hour, func() {}).Stop() != true {
		t.Fatal("Stop of a pending real timer returned false")
	}
}
