package supervise

import (
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// restoredRig is a new timer rig, its clock at now, that took back s.
func restoredRig(t *testing.T, s SavedState, now time.Time, inherited bool, defs ...*unit.Unit) *timerRig {
	t.Helper()
	r := newTimerRig(t, defs...)
	r.clk.Set(now)
	r.m.Restore(s, inherited, nil)
	r.advanceTo(now) // fires what is due at once, as a real clock does
	return r
}

// TestTimerResume: after a re-exec or a crash a waiting timer waits
// again for its next elapse, computed from its last trigger, and fires.
func TestTimerResume(t *testing.T) {
	defs := func() []*unit.Unit {
		return []*unit.Unit{timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("t.service")}
	}
	r := newTimerRig(t, defs()...)
	r.job(plan.Start, "t.timer")
	r.advanceTo(at("2026-01-01 08:00:00"))
	r.finish("t.service")
	saved := r.m.saveAll()
	for _, inherited := range []bool{true, false} {
		r2 := restoredRig(t, saved, at("2026-01-01 09:00:00"), inherited, defs()...)
		tm := r2.timer("t.timer")
		if tm.state != Waiting || tm.alarm == nil || !tm.next.Equal(at("2026-01-02 08:00:00")) {
			t.Fatalf("inherited=%v: restored timer %s, alarm %v, next %v; want waiting, armed for 08:00 the next day", inherited, tm.state, tm.alarm, tm.next)
		}
		if !tm.last.Equal(at("2026-01-01 08:00:00")) {
			t.Errorf("last trigger %v", tm.last)
		}
		r2.advanceTo(at("2026-01-02 07:59:59"))
		if r2.runs("t.service") {
			t.Fatal("ran early")
		}
		r2.advanceTo(at("2026-01-02 08:00:00"))
		if !r2.runs("t.service") || tm.state != Running {
			t.Fatalf("at the next elapse: service %s, timer %s", r2.svc("t.service").state, tm.state)
		}
	}
}

// TestTimerResumeMissed: a calendar elapse that fell while no manager
// ran is made once, at once.
func TestTimerResumeMissed(t *testing.T) {
	defs := func() []*unit.Unit {
		return []*unit.Unit{timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("t.service")}
	}
	r := newTimerRig(t, defs()...)
	r.job(plan.Start, "t.timer")
	r.advanceTo(at("2026-01-01 08:00:00"))
	r.finish("t.service")
	r2 := restoredRig(t, r.m.saveAll(), at("2026-01-02 08:00:30"), false, defs()...)
	if !r2.runs("t.service") {
		t.Fatalf("the elapse missed while down did not run: timer %s", r2.timer("t.timer").state)
	}
	r2.finish("t.service")
	if tm := r2.timer("t.timer"); tm.state != Waiting || !tm.next.Equal(at("2026-01-03 08:00:00")) {
		t.Fatalf("after the catch-up: %s next %v", tm.state, tm.next)
	}
}

// TestTimerResumeRunning: a timer whose unit still runs stays running
// and waits again when the unit goes down; one whose unit ended while
// no manager ran waits again at once.
func TestTimerResumeRunning(t *testing.T) {
	defs := func() []*unit.Unit {
		svc := oneshot("t.service")
		svc.Service.RemainAfterExit = true
		return []*unit.Unit{timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), svc}
	}
	r := newTimerRig(t, defs()...)
	r.job(plan.Start, "t.timer")
	r.advanceTo(at("2026-01-01 08:00:00"))
	// Saved while the oneshot runs (its process will be gone) ...
	during := r.m.saveAll()
	r.finish("t.service")
	// ... and while it remains active after its exit.
	after := r.m.saveAll()
	if s := r.svc("t.service").state; s != Exited {
		t.Fatalf("service %s; want exited", s)
	}

	r2 := restoredRig(t, after, at("2026-01-01 09:00:00"), true, defs()...)
	tm := r2.timer("t.timer")
	if tm.state != Running || tm.alarm != nil {
		t.Fatalf("restored with its unit active: %s, alarm %v; want running, none", tm.state, tm.alarm)
	}
	r2.job(plan.Stop, "t.service")
	if tm.state != Waiting || tm.alarm == nil || !tm.next.Equal(at("2026-01-02 08:00:00")) {
		t.Fatalf("after its unit stopped: %s, alarm %v, next %v; want waiting for the next day", tm.state, tm.alarm, tm.next)
	}

	r3 := restoredRig(t, during, at("2026-01-01 09:00:00"), false, defs()...)
	if tm := r3.timer("t.timer"); tm.state != Waiting || tm.alarm == nil {
		t.Fatalf("restored after its unit's process ended unseen: %s, alarm %v; want waiting, armed", tm.state, tm.alarm)
	}
}

// TestTimerResumeStartup: OnStartupSec= counts from the first process's
// start across a re-exec.
func TestTimerResumeStartup(t *testing.T) {
	defs := func() []*unit.Unit {
		return []*unit.Unit{timerDef("t.timer", "OnStartupSec=10min", "AccuracySec=1us"), oneshot("t.service")}
	}
	r := newTimerRig(t, defs()...)
	r.job(plan.Start, "t.timer")
	r2 := newTimerRig(t, defs()...)
	r2.m.opts.Timers.Startup = tableEpoch.Add(5 * time.Minute) // the new process's start
	r2.clk.Set(tableEpoch.Add(5 * time.Minute))
	r2.m.Restore(r.m.saveAll(), true, nil)
	drain(r2.m)
	r2.advanceTo(tableEpoch.Add(10 * time.Minute))
	if !r2.runs("t.service") {
		t.Fatalf("OnStartupSec=10min did not run 10min after the first start: timer %s next %v", r2.timer("t.timer").state, r2.timer("t.timer").nextMono)
	}
}
