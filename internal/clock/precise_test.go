package clock

import (
	"testing"
	"time"
)

func TestPreciseFiresAfterItsDeadline(t *testing.T) {
	c := Real().(Precise)
	for _, d := range []time.Duration{-time.Second, 0, time.Microsecond, 20 * time.Millisecond} {
		start := time.Now()
		fired := make(chan time.Time, 1)
		tm := c.PreciseAfterFunc(d, func() { fired <- time.Now() })
		at := <-fired
		if got := at.Sub(start); got < d {
			t.Errorf("timer of %v fired after %v; want no earlier than its deadline", d, got)
		}
		if tm.Stop() {
			t.Errorf("Stop after the timer of %v fired returned true", d)
		}
	}
}

func TestPreciseStopPreventsTheCall(t *testing.T) {
	c := Real().(Precise)
	fired := make(chan struct{}, 1)
	tm := c.PreciseAfterFunc(50*time.Millisecond, func() { fired <- struct{}{} })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
	// A timer that is not stopped, armed later, fires after the stopped
	// one's deadline: had the stopped one fired, it would be seen first.
	later := make(chan struct{})
	c.PreciseAfterFunc(100*time.Millisecond, func() { close(later) })
	<-later
	select {
	case <-fired:
		t.Fatal("a stopped timer fired")
	default:
	}
}
