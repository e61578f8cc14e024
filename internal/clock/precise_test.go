package clock

import (
	"slices"
	"testing"
	"time"
)

func newAlarm(t testing.TB, f func()) Alarm {
	t.Helper()
	a, err := Real().(Precise).NewAlarm(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestAlarmFiresAfterItsDeadline(t *testing.T) {
	fired := make(chan time.Time, 1)
	a := newAlarm(t, func() { fired <- time.Now() })
	// One alarm, re-armed for each deadline.
	for _, d := range []time.Duration{-time.Second, 0, time.Microsecond, 20 * time.Millisecond} {
		start := time.Now()
		a.Reset(d)
		at := <-fired
		if got := at.Sub(start); got < d {
			t.Errorf("alarm of %v fired after %v; want no earlier than its deadline", d, got)
		}
		if a.Stop() {
			t.Errorf("Stop after the alarm of %v fired returned true", d)
		}
	}
}

func TestAlarmStopPreventsTheCall(t *testing.T) {
	fired := make(chan string, 2)
	name := "first"
	a := newAlarm(t, func() { fired <- name })
	a.Reset(50 * time.Millisecond)
	if !a.Stop() {
		t.Fatal("Stop of a pending alarm returned false")
	}
	if a.Stop() {
		t.Fatal("second Stop returned true")
	}
	// Another alarm, not stopped, due after the stopped one's deadline:
	// had the stopped one fired, its call would be seen first.
	later := make(chan struct{})
	newAlarm(t, func() { close(later) }).Reset(100 * time.Millisecond)
	<-later
	select {
	case got := <-fired:
		t.Fatalf("a stopped alarm fired (%s)", got)
	default:
	}
}

func TestAlarmResetReplacesTheDeadline(t *testing.T) {
	fired := make(chan time.Time, 2)
	a := newAlarm(t, func() { fired <- time.Now() })
	a.Reset(time.Hour)
	start := time.Now()
	a.Reset(10 * time.Millisecond) // earlier
	if got := (<-fired).Sub(start); got < 10*time.Millisecond || got > 10*time.Minute {
		t.Fatalf("re-armed alarm fired after %v; want 10ms", got)
	}
	a.Reset(5 * time.Millisecond)
	a.Reset(200 * time.Millisecond) // later: the 5 ms arming is gone
	start = time.Now()
	if got := (<-fired).Sub(start); got < 190*time.Millisecond {
		t.Fatalf("alarm moved later fired after %v; want 200ms", got)
	}
	select {
	case <-fired:
		t.Fatal("alarm fired twice for one arming")
	default:
	}
}

// Close returns once the alarm's goroutine has ended (a leak hangs the
// test); an alarm used after Close does nothing.
func TestAlarmClose(t *testing.T) {
	a, err := Real().(Precise).NewAlarm(func() {})
	if err != nil {
		t.Fatal(err)
	}
	a.Reset(time.Hour)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.Reset(time.Millisecond) // after Close: nothing, no stale descriptor used
	if a.Stop() {
		t.Error("Stop after Close returned true")
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkWakeLateness arms timers of a few milliseconds, alternately
// the runtime's (AfterFunc) and the precise alarm, and reports how late
// each kind runs its function beyond its deadline (p50, p99 in µs).
func BenchmarkWakeLateness(b *testing.B) {
	fired := make(chan time.Time, 1)
	alarm := newAlarm(b, func() { fired <- time.Now() })
	kinds := []struct {
		name string
		arm  func(d time.Duration)
	}{
		{"runtime", func(d time.Duration) { time.AfterFunc(d, func() { fired <- time.Now() }) }},
		{"precise", alarm.Reset},
	}
	late := make([][]time.Duration, len(kinds))
	for i := range b.N {
		for k, kind := range kinds {
			d := time.Duration(1000+i%4000) * time.Microsecond
			due := time.Now().Add(d)
			kind.arm(d)
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
