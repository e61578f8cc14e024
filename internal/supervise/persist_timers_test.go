package supervise

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
)

// TestPlainTimerEncoding: a waiting timer's part of the state file,
// encoded at each write by hand, is byte for byte what json.Marshal
// makes of its SavedUnit, for names that need escaping, start times
// other than since, and no manager start yet.
func TestPlainTimerEncoding(t *testing.T) {
	for _, c := range []struct {
		name    string
		startup bool
		start   time.Duration // its start time minus since; -1: none recorded
	}{
		{"a.timer", true, 0},
		{`dev-disk-by\x2duuid-1.timer`, true, -1},
		{"b.timer", false, 0},
		{"c.timer", true, -time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newTimerRig(t, timerDef(c.name, "OnCalendar=*-*-* 08:00"), oneshot(c.name[:len(c.name)-len(".timer")]+".service"))
			r.job(plan.Start, c.name)
			tm := r.timer(c.name)
			if _, ok := plainTimer(tm.rt); !ok {
				t.Fatalf("timer %s (last %v) is not plain", tm.state, tm.last)
			}
			tm.startTimes = nil
			if c.start != -1 {
				tm.startTimes = []time.Time{tm.since.Add(c.start)}
			}
			if !c.startup {
				tm.env = nil
			}
			var startup []byte
			if c.startup {
				startup = appendJSONTime(nil, r.m.opts.Timers.Startup)
			}
			su, err := r.m.saveUnit(tm.rt)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(su)
			if got := appendPlainTimer(nil, tm.rt, startup); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestPlainTimersInStateFile: a state file with waiting timers, which
// the manager does not keep encoded, reads back with every timer and
// its state, and a timer that fired is kept encoded again.
func TestPlainTimersInStateFile(t *testing.T) {
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("t.service"),
		timerDef("u.timer", "OnCalendar=*-*-* 09:00"), oneshot("u.service"))
	r.m.opts.StateFile = filepath.Join(t.TempDir(), "state")
	r.job(plan.Start, "t.timer")
	r.job(plan.Start, "u.timer")
	r.m.persist()
	check := func(want map[string]string) {
		t.Helper()
		s, err := ReadStateFile(r.m.opts.StateFile)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, u := range s.Units {
			if u.Kind == "timer" {
				got[u.Name] = u.State
			}
		}
		if len(got) != len(want) {
			t.Fatalf("timers saved %v; want %v", got, want)
		}
		for n, st := range want {
			if got[n] != st {
				t.Errorf("%s saved as %q; want %q", n, got[n], st)
			}
		}
	}
	check(map[string]string{"t.timer": "waiting", "u.timer": "waiting"})
	for u := range r.m.saved {
		if u.name == "t.timer" || u.name == "u.timer" {
			t.Errorf("%s kept encoded while it waits", u.name)
		}
	}
	r.advanceTo(at("2026-01-01 08:00:00"))
	r.m.persist()
	check(map[string]string{"t.timer": "running", "u.timer": "waiting"})
	r.finish("t.service")
	r.m.persist()
	check(map[string]string{"t.timer": "waiting", "u.timer": "waiting"})
	saved, _ := ReadStateFile(r.m.opts.StateFile)
	r2 := restoredRig(t, saved, at("2026-01-01 08:30:00"), false,
		timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("t.service"),
		timerDef("u.timer", "OnCalendar=*-*-* 09:00"), oneshot("u.service"))
	if tm := r2.timer("t.timer"); tm.state != Waiting || !tm.last.Equal(at("2026-01-01 08:00:00")) {
		t.Errorf("t.timer restored %s, last %v; want waiting, last 08:00", tm.state, tm.last)
	}
	if tm := r2.timer("u.timer"); tm.state != Waiting || tm.alarm == nil {
		t.Errorf("u.timer restored %s, alarm %v; want waiting, armed", tm.state, tm.alarm)
	}
}
