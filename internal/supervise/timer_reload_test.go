package supervise

import (
	"runtime"
	"testing"
	"weak"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// TestTimerReloadReschedules: a daemon-reload that changes a waiting
// timer's OnCalendar= or its spans moves its next elapse; one whose
// definition did not change keeps it.
func TestTimerReloadReschedules(t *testing.T) {
	cal := timerDef("cal.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us")
	mono := timerDef("mono.timer", "OnActiveSec=1h", "AccuracySec=1us")
	same := timerDef("same.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us")
	defs := []*unit.Unit{oneshot("cal.service"), oneshot("mono.service"), oneshot("same.service"), cal, mono, same}
	r := newTimerRig(t, defs...)
	for _, n := range []string{"cal.timer", "mono.timer", "same.timer"} {
		r.job(plan.Start, n)
	}
	r.advanceTo(at("2026-01-01 00:30:00"))
	units := map[string]*unit.Unit{}
	for _, d := range defs {
		units[d.Name] = d
	}
	units["cal.timer"] = timerDef("cal.timer", "OnCalendar=*-*-* 09:30", "AccuracySec=1us")
	units["mono.timer"] = timerDef("mono.timer", "OnActiveSec=2h", "AccuracySec=1us")
	ch := r.m.applyPlan(plan.New(units, plan.Options{}))
	drain(r.m)
	if len(ch.Changed) != 2 {
		t.Fatalf("changed %q; want the two timers", ch.Changed)
	}
	for _, c := range []struct{ name, next string }{
		{"cal.timer", "2026-01-01 09:30:00"},
		{"mono.timer", "2026-01-01 02:00:00"}, // two hours from the timer's start, not from the reload
		{"same.timer", "2026-01-01 08:00:00"},
	} {
		tm := r.timer(c.name)
		next := tm.next
		if next.IsZero() {
			next = tm.nextMono
		}
		if tm.state != Waiting || !next.Equal(at(c.next)) {
			t.Errorf("%s after the reload: %s, next %v; want waiting, %s", c.name, tm.state, next, c.next)
		}
	}
	r.advanceTo(at("2026-01-01 08:00:00"))
	if r.runs("cal.service") || !r.runs("same.service") {
		t.Fatalf("at 08:00: cal.service %s, same.service %s; want only same", r.svc("cal.service").state, r.svc("same.service").state)
	}
	r.advanceTo(at("2026-01-01 09:30:00"))
	if !r.runs("cal.service") {
		t.Fatalf("cal.service did not run at its new time")
	}
}

// TestTimerReloadReleasesOldUnit: a waiting timer whose unit a reload
// finds unchanged reads its calendar from the new load of the unit, so
// the old load is collected (a started timer kept it whole, ~1 KiB, in
// every daemon-reload after its start), and it still fires at its time
// and shows its calendar.
func TestTimerReloadReleasesOldUnit(t *testing.T) {
	lines := []string{"OnCalendar=*-*-* 08:00", "AccuracySec=1us"}
	r, old := startedTimerRig(t, lines)
	units := map[string]*unit.Unit{
		"same.service": oneshot("same.service"),
		"same.timer":   timerDef("same.timer", lines...),
	}
	ch := r.m.applyPlan(plan.New(units, plan.Options{}))
	drain(r.m)
	if len(ch.Changed) != 0 {
		t.Fatalf("changed %q; want none", ch.Changed)
	}
	for range 3 { // weak pointers clear once the object is found unreachable
		runtime.GC()
	}
	if old.Value() != nil {
		t.Errorf("the timer's unit as first loaded is still reachable after the reload")
	}
	st := r.m.snapshot(r.timer("same.timer").rt, true)
	if st.Timer == nil || len(st.Timer.Calendar) != 1 || !st.Timer.Calendar[0].Next.Equal(at("2026-01-01 08:00:00")) {
		t.Fatalf("status after the reload: %+v; want one calendar due at 08:00", st.Timer)
	}
	r.advanceTo(at("2026-01-01 08:00:00"))
	if !r.runs("same.service") {
		t.Fatalf("same.service did not run at 08:00 after the reload")
	}
}

// startedTimerRig is a rig whose same.timer (lines) waits, and a weak
// pointer to that timer's unit as loaded: the rig's plan is all that
// holds it.
func startedTimerRig(t *testing.T, lines []string) (*timerRig, weak.Pointer[unit.Unit]) {
	def := timerDef("same.timer", lines...)
	r := newTimerRig(t, oneshot("same.service"), def)
	r.job(plan.Start, "same.timer")
	if tm := r.timer("same.timer"); tm.state != Waiting {
		t.Fatalf("same.timer: %s; want waiting", tm.state)
	}
	return r, weak.Make(def)
}
