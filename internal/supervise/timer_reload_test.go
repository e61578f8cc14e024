package supervise

import (
	"testing"

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
