package clock

import (
	"slices"
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

// BenchmarkWakeLateness arms timers of a few milliseconds, alternately
// the runtime's (AfterFunc) and the precise one, and reports how late
// each kind runs its function beyond its deadline (p50, p99 in µs).
func BenchmarkWakeLateness(b *testing.B) {
	c := Real().(Precise)
	kinds := []struct {
		name string
		arm  func(d time.Duration, f func()) Timer
	}{{"runtime", c.AfterFunc}, {"precise", c.PreciseAfterFunc}}
	late := make([][]time.Duration, len(kinds))
	for i := range b.N {
		for k, kind := range kinds {
			d := time.Duration(1000+i%4000) * time.Microsecond
			fired := make(chan time.Time, 1)
			due := time.Now().Add(d)
			kind.arm(d, func() { fired <- time.Now() })
			late[k] = append(late[k], (<-fired).Sub(due))
		}
	}
	for k, kind := range kinds {
		slices.Sort(late[k])
		n := len(late[k])
		b.ReportMetric(float64(late[k][n/2].Microseconds()), kind.name+"-p50-µs")
		b.ReportMetric(float64(late[k][n*99/100].Microseconds()), kind.name+"-p99-µs")
	}
}
