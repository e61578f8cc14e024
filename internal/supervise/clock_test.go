package supervise

import (
	"testing"
	"time"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/unit"
)

// These tests drive the deadlines of a service with the fake clock: each
// checks that nothing happens a moment before a deadline and the
// transition happens at it, with no sleeping.

func TestRestartSecOnFakeClock(t *testing.T) {
	m, u, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartOnFailure, 10*time.Minute))
	place(m, u, Running, f)
	u.activeAt = m.clock.Now()
	apply(t, m, u, "main-exit-1")
	drain(m)
	if u.state != AutoRestart {
		t.Fatalf("after a failed exit: %s; want auto-restart", u.state)
	}
	advance(m, 10*time.Minute-time.Nanosecond)
	if u.state != AutoRestart {
		t.Fatalf("1ns before RestartSec=10min: %s; want auto-restart", u.state)
	}
	advance(m, time.Nanosecond)
	if u.state != Running || u.nRestarts != 1 {
		t.Fatalf("at RestartSec=10min: %s, %d restarts; want running, 1", u.state, u.nRestarts)
	}
}

// RestartSteps= grows the delay from RestartSec= towards
// RestartMaxDelaySec=; a run as long as the maximum resets it.
func TestRestartStepsOnFakeClock(t *testing.T) {
	def := tableUnit(unit.TypeSimple, unit.RestartAlways, time.Second)
	def.Service.RestartSteps, def.Service.RestartMaxDelay = 2, 4*time.Second
	m, u, f := newTableManager(t, def)
	place(m, u, Running, f)
	u.activeAt = m.clock.Now()
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		apply(t, m, u, "main-exit-1")
		drain(m)
		d, ok := m.clock.(*clock.Fake).Next()
		if u.state != AutoRestart || !ok || d != want {
			t.Fatalf("restart %d: %s, delay %v (armed %v); want auto-restart after %v", i, u.state, d, ok, want)
		}
		advance(m, d)
		if u.state != Running {
			t.Fatalf("restart %d: %s after the delay; want running", i, u.state)
		}
	}
	advance(m, 4*time.Second) // a healthy run as long as the maximum delay
	apply(t, m, u, "main-exit-1")
	drain(m)
	if d, _ := m.clock.(*clock.Fake).Next(); d != time.Second {
		t.Fatalf("after a long run the delay is %v; want RestartSec=1s again", d)
	}
}

func TestStartTimeoutOnFakeClock(t *testing.T) {
	def := tableUnit(unit.TypeNotify, unit.RestartNo, time.Hour)
	def.Service.TimeoutStart = 90 * time.Second
	m, u, _ := newTableManager(t, def)
	apply(t, m, u, "start")
	drain(m)
	if u.state != Start {
		t.Fatalf("after start: %s; want start (waiting for READY=1)", u.state)
	}
	advance(m, 90*time.Second-time.Millisecond)
	if u.state != Start {
		t.Fatalf("before TimeoutStartSec=: %s; want start", u.state)
	}
	advance(m, time.Millisecond)
	if u.state != StopSigterm || u.result != ResultTimeout {
		t.Fatalf("at TimeoutStartSec=: %s (%s); want stop-sigterm (timeout)", u.state, u.result)
	}
	// The fake processes never die: TimeoutStopSec= (1h) escalates.
	advance(m, time.Hour)
	if u.state != StopSigkill {
		t.Fatalf("after TimeoutStopSec=: %s; want stop-sigkill", u.state)
	}
}

func TestWatchdogOnFakeClock(t *testing.T) {
	def := tableUnit(unit.TypeNotify, unit.RestartNo, time.Hour)
	def.Service.Watchdog = 30 * time.Second
	m, u, _ := newTableManager(t, def)
	apply(t, m, u, "start")
	apply(t, m, u, "ready")
	drain(m)
	if u.state != Running {
		t.Fatalf("after READY=1: %s; want running", u.state)
	}
	for range 5 {
		advance(m, 29*time.Second)
		apply(t, m, u, "watchdog-ping")
		drain(m)
	}
	if u.state != Running {
		t.Fatalf("with a keep-alive every 29s: %s; want running", u.state)
	}
	if got := u.wdLast; got != m.clock.Now() {
		t.Fatalf("last keep-alive at %v; want %v", got, m.clock.Now())
	}
	advance(m, 30*time.Second)
	if u.state != StopWatchdog || u.result != ResultWatchdog {
		t.Fatalf("30s without a keep-alive: %s (%s); want stop-watchdog (watchdog)", u.state, u.result)
	}
}

// A deadline that has fired but whose event the loop has not handled yet
// must not act on the state the unit has entered meanwhile.
func TestStaleTimerIgnored(t *testing.T) {
	m, u, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, time.Minute))
	place(m, u, Running, f)
	apply(t, m, u, "main-exit-1")
	drain(m)
	if u.state != AutoRestart {
		t.Fatalf("%s; want auto-restart", u.state)
	}
	m.clock.(*clock.Fake).Advance(time.Minute) // the event is queued, not handled
	apply(t, m, u, "start")                    // handled first: running again
	if u.state != Running {
		t.Fatalf("after start: %s; want running", u.state)
	}
	drain(m)
	if u.state != Running {
		t.Fatalf("the restart timer's late event acted on the new run: %s; want running", u.state)
	}
}

// Since and the timestamps status shows come from the clock.
func TestTimestampsFromClock(t *testing.T) {
	m, u, _ := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, time.Hour))
	advance(m, 42*time.Second)
	apply(t, m, u, "start")
	drain(m)
	if want := tableEpoch.Add(42 * time.Second); u.since != want || u.activeAt != want {
		t.Fatalf("since %v, active at %v; want %v", u.since, u.activeAt, want)
	}
}
