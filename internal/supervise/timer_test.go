package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	timerspec "github.com/tendproject/tend/internal/timer"
	"github.com/tendproject/tend/internal/unit"
)

// timerDef is the timer unit name with [Timer] lines.
func timerDef(name string, lines ...string) *unit.Unit {
	u := &unit.Unit{Name: name, Kind: unit.KindTimer, Load: unit.Loaded, DefaultDependencies: true, Path: "/u/" + name}
	for i, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		u.Entries = append(u.Entries, unit.Entry{Section: "Timer", Key: k, Value: v, File: u.Path, Line: i + 2})
	}
	return u
}

// oneshot is a Type=oneshot service called name.
func oneshot(name string) *unit.Unit {
	u := tableUnit(unit.TypeOneshot, unit.RestartNo, 0)
	u.Name = name
	return u
}

// timerRig is a table manager with timers and their services on a fake
// clock that starts at tableEpoch; the machine booted an hour before.
type timerRig struct {
	t   *testing.T
	m   *Manager
	clk *clock.Fake
	f   *fakeProcs
}

func newTimerRig(t *testing.T, defs ...*unit.Unit) *timerRig {
	t.Helper()
	// newTableManager wants a service first.
	var first *unit.Unit
	var rest []*unit.Unit
	for _, d := range defs {
		if first == nil && d.Kind == unit.KindService {
			first = d
		} else {
			rest = append(rest, d)
		}
	}
	m, _, f := newTableManager(t, first, rest...)
	m.opts.Timers = TimerEnv{
		StampDir: filepath.Join(t.TempDir(), "timers"),
		Boot:     tableEpoch.Add(-time.Hour), Startup: tableEpoch,
		Host: timerspec.Host{Perturb: 20 * time.Second},
		Rand: func() uint64 { return 0 },
	}
	return &timerRig{t: t, m: m, clk: m.clock.(*clock.Fake), f: f}
}

func (r *timerRig) timer(name string) *timer {
	u, err := r.m.lookup(name)
	if err != nil {
		r.t.Fatal(err)
	}
	return u.eng.(*timer)
}

func (r *timerRig) svc(name string) *service { return svcOf(r.t, r.m, name) }

func (r *timerRig) job(kind plan.JobKind, name string) {
	tx, err := r.m.plan.Transaction(kind, []string{name}, plan.Replace, r.m.activeState)
	if err == nil {
		_, err = r.m.jobs.submit(tx)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	drain(r.m)
}

// finish makes the oneshot service name exit 0.
func (r *timerRig) finish(name string) {
	s := r.svc(name)
	if s.mainPID == 0 {
		r.t.Fatalf("%s has no main process to finish (state %s)", name, s.state)
	}
	r.m.onExit(reaper.Exit{PID: s.mainPID, Status: 0})
	drain(r.m)
}

// advanceTo moves the clock to at.
// localZoneToBerlin makes the rig's local zone UTC until the returned
// func makes it Europe/Berlin (the test is skipped without zone data).
func (r *timerRig) localZoneToBerlin() func() {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		r.t.Skip(err)
	}
	zone := time.UTC
	r.m.opts.Timers.Local = func() *time.Location { return zone }
	return func() { zone = berlin }
}

func (r *timerRig) advanceTo(at time.Time) {
	r.clk.Set(at)
	drain(r.m)
}

func (r *timerRig) runs(name string) bool { return r.svc(name).state == Start }

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestTimerOnCalendar(t *testing.T) {
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("t.service"))
	r.job(plan.Start, "t.timer")
	tm := r.timer("t.timer")
	if tm.state != Waiting || !tm.next.Equal(at("2026-01-01 08:00:00")) {
		t.Fatalf("after start: %s, next %v; want waiting, 08:00", tm.state, tm.next)
	}
	r.advanceTo(at("2026-01-01 07:59:59"))
	if r.runs("t.service") {
		t.Fatal("service started a second early")
	}
	r.advanceTo(at("2026-01-01 08:00:00"))
	if !r.runs("t.service") || tm.state != Running {
		t.Fatalf("at 08:00: service %s, timer %s; want start, running", r.svc("t.service").state, tm.state)
	}
	if st := r.m.snapshot(r.svc("t.service").rt, false); st.LastTriggeredBy != "t.timer" {
		t.Errorf("LastTriggeredBy = %q", st.LastTriggeredBy)
	}
	r.finish("t.service")
	if tm.state != Waiting || !tm.next.Equal(at("2026-01-02 08:00:00")) || !tm.last.Equal(at("2026-01-01 08:00:00")) {
		t.Fatalf("after the run: %s next %v last %v", tm.state, tm.next, tm.last)
	}
	st := r.m.snapshot(tm.rt, true)
	if st.Timer == nil || st.Timer.Unit != "t.service" || !st.Timer.NextElapseRealtime.Equal(at("2026-01-02 08:00:00")) ||
		len(st.Timer.Calendar) != 1 || st.Timer.Calendar[0].Spec != "*-*-* 08:00:00" {
		t.Fatalf("status %+v", st.Timer)
	}
	r.job(plan.Stop, "t.timer")
	if tm.state != Dead || tm.alarm != nil {
		t.Fatalf("after stop: %s, alarm %v", tm.state, tm.alarm)
	}
}

func TestTimerOnActiveSec(t *testing.T) {
	for _, remain := range []bool{true, false} {
		t.Run(fmt.Sprint("RemainAfterElapse=", remain), func(t *testing.T) {
			r := newTimerRig(t, timerDef("t.timer", "OnActiveSec=90s", "AccuracySec=1us", fmt.Sprint("RemainAfterElapse=", remain)), oneshot("t.service"))
			r.job(plan.Start, "t.timer")
			r.advanceTo(tableEpoch.Add(89 * time.Second))
			if r.runs("t.service") {
				t.Fatal("ran early")
			}
			r.advanceTo(tableEpoch.Add(90 * time.Second))
			if !r.runs("t.service") {
				t.Fatal("did not run at 90s")
			}
			r.finish("t.service")
			tm := r.timer("t.timer")
			want := Elapsed
			if !remain {
				want = Dead
			}
			if tm.state != want {
				t.Fatalf("after its one run: %s; want %s", tm.state, want)
			}
			r.job(plan.Start, "t.timer")
			r.advanceTo(tableEpoch.Add(time.Hour))
			if remain != (tm.state == Elapsed) || remain && r.svc("t.service").state != Dead {
				t.Fatalf("start of an elapsed timer: %s, service %s", tm.state, r.svc("t.service").state)
			}
		})
	}
}

// OnBootSec= and OnStartupSec= count from the boot and the manager's
// start; one already past when the timer starts elapses at once.
func TestTimerOnBootAndStartup(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnBootSec=2h", "AccuracySec=1us"), oneshot("a.service"),
		timerDef("b.timer", "OnStartupSec=10min", "AccuracySec=1us"), oneshot("b.service"),
		timerDef("c.timer", "OnBootSec=30min", "AccuracySec=1us"), oneshot("c.service"))
	for _, n := range []string{"a.timer", "b.timer", "c.timer"} {
		r.job(plan.Start, n)
	}
	r.advanceTo(r.clk.Now())
	if !r.runs("c.service") {
		t.Fatal("OnBootSec=30min, an hour after boot: did not run at once")
	}
	if st := r.m.snapshot(r.timer("a.timer").rt, false); st.Timer.NextElapseMonotonic != 2*time.Hour {
		t.Errorf("NextElapseMonotonic = %v; want 2h", st.Timer.NextElapseMonotonic)
	}
	r.advanceTo(tableEpoch.Add(10*time.Minute - time.Second))
	if r.runs("b.service") {
		t.Fatal("OnStartupSec ran early")
	}
	r.advanceTo(tableEpoch.Add(10 * time.Minute))
	if !r.runs("b.service") || r.runs("a.service") {
		t.Fatal("OnStartupSec=10min did not run at 10min (or OnBootSec=2h ran)")
	}
	r.advanceTo(tableEpoch.Add(time.Hour))
	if !r.runs("a.service") {
		t.Fatal("OnBootSec=2h did not run two hours after boot")
	}
	r.finish("c.service")
	if s := r.timer("c.timer").state; s != Elapsed {
		t.Fatalf("one-shot boot timer after its run: %s; want elapsed", s)
	}
}

func TestTimerOnUnitActiveInactive(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnActiveSec=1min", "OnUnitActiveSec=1h", "AccuracySec=1us"), oneshot("a.service"),
		timerDef("b.timer", "OnActiveSec=1min", "OnUnitInactiveSec=30min", "AccuracySec=1us"), oneshot("b.service"))
	r.job(plan.Start, "a.timer")
	r.job(plan.Start, "b.timer")
	r.advanceTo(tableEpoch.Add(time.Minute))
	if !r.runs("a.service") || !r.runs("b.service") {
		t.Fatal("OnActiveSec=1min did not run")
	}
	r.advanceTo(tableEpoch.Add(5 * time.Minute))
	r.finish("a.service")
	r.finish("b.service")
	if a := r.timer("a.timer"); a.state != Waiting || !a.nextMono.Equal(tableEpoch.Add(61*time.Minute)) {
		t.Fatalf("OnUnitActiveSec=1h: %s next %v; want waiting, an hour after the unit started", a.state, a.nextMono)
	}
	if b := r.timer("b.timer"); b.state != Waiting || !b.nextMono.Equal(tableEpoch.Add(35*time.Minute)) {
		t.Fatalf("OnUnitInactiveSec=30min: %s next %v; want waiting, 30min after the unit ended", b.state, b.nextMono)
	}
	r.advanceTo(tableEpoch.Add(35 * time.Minute))
	if !r.runs("b.service") || r.runs("a.service") {
		t.Fatal("second runs at the wrong times")
	}
}

// Persistent=: a run missed while tend was down is made at start-up; a
// timer that never ran gets a stamp (and no run); each run moves it.
func TestTimerPersistent(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnCalendar=daily", "Persistent=yes", "AccuracySec=1us"), oneshot("a.service"),
		timerDef("b.timer", "OnCalendar=daily", "Persistent=yes", "AccuracySec=1us"), oneshot("b.service"))
	dir := r.m.opts.Timers.StampDir
	os.MkdirAll(dir, 0o755)
	old := tableEpoch.Add(-72 * time.Hour)
	os.WriteFile(filepath.Join(dir, "stamp-a.timer"), nil, 0o644)
	os.Chtimes(filepath.Join(dir, "stamp-a.timer"), old, old)
	r.advanceTo(tableEpoch.Add(5 * time.Second))
	r.job(plan.Start, "a.timer")
	r.job(plan.Start, "b.timer")
	if st := r.m.snapshot(r.timer("a.timer").rt, false); !st.Timer.LastTrigger.Equal(old) {
		t.Errorf("LastTrigger %v; want the stamp's %v", st.Timer.LastTrigger, old)
	}
	drain(r.m)
	r.advanceTo(r.clk.Now())
	if !r.runs("a.service") {
		t.Fatalf("missed run not made at start-up: timer %s next %v", r.timer("a.timer").state, r.timer("a.timer").next)
	}
	if r.runs("b.service") {
		t.Fatal("a timer without a stamp ran at start-up")
	}
	fi, err := os.Stat(filepath.Join(dir, "stamp-b.timer"))
	if err != nil {
		t.Fatalf("no stamp made for a timer that never ran: %v", err)
	}
	if !fi.ModTime().Equal(tableEpoch.Add(5 * time.Second)) {
		t.Errorf("new stamp at %v", fi.ModTime())
	}
	fi, _ = os.Stat(filepath.Join(dir, "stamp-a.timer"))
	if !fi.ModTime().Equal(tableEpoch.Add(5 * time.Second)) {
		t.Errorf("stamp after the run at %v; want the run's time", fi.ModTime())
	}
}

func TestTimerRandomizedDelay(t *testing.T) {
	for _, rnd := range []uint64{0, 1, 12345678901, 1<<64 - 1} {
		r := newTimerRig(t, timerDef("t.timer", "OnCalendar=*-*-* 08:00", "RandomizedDelaySec=1h", "AccuracySec=1us"), oneshot("t.service"))
		r.m.opts.Timers.Rand = func() uint64 { return rnd }
		r.job(plan.Start, "t.timer")
		next := r.timer("t.timer").next
		due := at("2026-01-01 08:00:00")
		if next.Before(due) || !next.Before(due.Add(time.Hour)) {
			t.Fatalf("random %d: next %v outside [08:00, 09:00)", rnd, next)
		}
		if want := due.Add(time.Duration(rnd%3600000000) * time.Microsecond); !next.Equal(want) {
			t.Fatalf("random %d: next %v; want %v", rnd, next, want)
		}
		r.advanceTo(next.Add(-time.Microsecond))
		if r.runs("t.service") {
			t.Fatal("ran before its delay")
		}
		r.advanceTo(next)
		if !r.runs("t.service") {
			t.Fatal("did not run after its delay")
		}
	}
	// FixedRandomDelay=: the same delay at every start, whatever the random source.
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=*-*-* 08:00", "RandomizedDelaySec=1h", "FixedRandomDelay=yes"), oneshot("t.service"))
	r.job(plan.Start, "t.timer")
	first := r.timer("t.timer").next
	r.job(plan.Stop, "t.timer")
	r.m.opts.Timers.Rand = func() uint64 { return 42 }
	r.job(plan.Start, "t.timer")
	if n := r.timer("t.timer").next; !n.Equal(first) {
		t.Fatalf("fixed delay moved: %v then %v", first, n)
	}
}

// AccuracySec=: timers due within the same minute wake together at the
// machine's perturbation point, as late as their accuracy allows.
func TestTimerAccuracyCoalesces(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnCalendar=*-*-* 08:00:30"), oneshot("a.service"),
		timerDef("b.timer", "OnCalendar=*-*-* 08:00:45"), oneshot("b.service"),
		timerDef("c.timer", "OnCalendar=*-*-* 08:00:45", "AccuracySec=1us"), oneshot("c.service"))
	for _, n := range []string{"a.timer", "b.timer", "c.timer"} {
		r.job(plan.Start, n)
	}
	r.advanceTo(at("2026-01-01 08:00:45"))
	if r.runs("a.service") || r.runs("b.service") || !r.runs("c.service") {
		t.Fatal("at 08:00:45 only the 1us timer should have run")
	}
	r.advanceTo(at("2026-01-01 08:01:19"))
	if r.runs("a.service") || r.runs("b.service") {
		t.Fatal("ran before the perturbation point")
	}
	r.advanceTo(at("2026-01-01 08:01:20"))
	if !r.runs("a.service") || !r.runs("b.service") {
		t.Fatal("did not both run at 08:01:20 (the minute's point)")
	}
	if n := r.timer("a.timer").next; !n.Equal(at("2026-01-01 08:00:30")) {
		t.Errorf("NextElapse shows %v; want the due time, not the wake-up", n)
	}
}

// The wall clock set back by an hour: the due time that ran does not
// run again; set forward past a due time: it runs once.
func TestTimerClockSetBack(t *testing.T) {
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=hourly", "AccuracySec=1us"), oneshot("t.service"))
	r.job(plan.Start, "t.timer")
	r.advanceTo(at("2026-01-01 01:00:00"))
	r.finish("t.service")
	starts := r.f.next
	r.clk.Set(at("2026-01-01 00:10:00"))
	r.m.TimeChanged(true)
	drain(r.m)
	r.advanceTo(at("2026-01-01 01:00:00"))
	if r.runs("t.service") || r.f.next != starts {
		t.Fatal("01:00 ran twice after the clock was set back")
	}
	if n := r.timer("t.timer").next; !n.Equal(at("2026-01-01 02:00:00")) {
		t.Fatalf("next %v; want 02:00", n)
	}
	r.advanceTo(at("2026-01-01 02:00:00"))
	if !r.runs("t.service") {
		t.Fatal("02:00 did not run")
	}
	r.finish("t.service")
	// Forward over three due times: one catch-up run, then the hour.
	r.clk.Set(at("2026-01-01 05:30:00"))
	r.m.TimeChanged(true)
	drain(r.m)
	if !r.runs("t.service") {
		t.Fatal("no run after the clock jumped over due times")
	}
	r.finish("t.service")
	if n := r.timer("t.timer").next; !n.Equal(at("2026-01-01 06:00:00")) {
		t.Fatalf("next after the catch-up %v; want 06:00", n)
	}
	// A last run a year ahead of the clock (the clock was wrong) is forgotten.
	tm := r.timer("t.timer")
	tm.last = at("2027-01-01 00:00:00")
	r.m.TimeChanged(true)
	drain(r.m)
	if n := tm.next; !n.Equal(at("2026-01-01 06:00:00")) {
		t.Fatalf("next with a far-future last run %v; want 06:00", n)
	}
}

func TestTimerOnClockAndTimezoneChange(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnClockChange=yes"), oneshot("a.service"),
		timerDef("b.timer", "OnTimezoneChange=yes", "OnCalendar=yearly"), oneshot("b.service"),
		timerDef("c.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("c.service"))
	toBerlin := r.localZoneToBerlin()
	for _, n := range []string{"a.timer", "b.timer", "c.timer"} {
		r.job(plan.Start, n)
	}
	if s := r.timer("a.timer").state; s != Waiting {
		t.Fatalf("OnClockChange= alone: %s; want waiting", s)
	}
	r.m.TimeChanged(true)
	drain(r.m)
	if !r.runs("a.service") || r.runs("b.service") {
		t.Fatal("clock change: wrong units ran")
	}
	toBerlin()
	r.m.TimeChanged(false)
	drain(r.m)
	if !r.runs("b.service") {
		t.Fatal("time-zone change did not trigger OnTimezoneChange=yes")
	}
	if n := r.timer("c.timer").next; !n.Equal(at("2026-01-01 07:00:00")) {
		t.Fatalf("08:00 in the new zone (Berlin): next %v; want 07:00 UTC", n.UTC())
	}
}

// A waiting timer keeps no parsed calendar: the elapse after a firing
// is computed in the local zone of that moment, as systemd computes a
// spec that names no zone, and a spec naming its zone stays in it.
func TestTimerCalendarInZoneOfComputation(t *testing.T) {
	r := newTimerRig(t, timerDef("a.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), oneshot("a.service"),
		timerDef("b.timer", "OnCalendar=*-*-* 08:00 UTC", "AccuracySec=1us"), oneshot("b.service"))
	toBerlin := r.localZoneToBerlin()
	r.job(plan.Start, "a.timer")
	r.job(plan.Start, "b.timer")
	toBerlin() // no time-zone change event: only the next computation sees it
	r.advanceTo(at("2026-01-01 08:00:00"))
	if !r.runs("a.service") || !r.runs("b.service") {
		t.Fatal("08:00 UTC did not run both")
	}
	r.finish("a.service")
	r.finish("b.service")
	if n := r.timer("a.timer").next; !n.Equal(at("2026-01-02 07:00:00")) {
		t.Errorf("a: next %v; want 08:00 Berlin (07:00 UTC)", n.UTC())
	}
	if n := r.timer("b.timer").next; !n.Equal(at("2026-01-02 08:00:00")) {
		t.Errorf("b: next %v; want 08:00 UTC", n.UTC())
	}
}

// A timer whose unit does not exist is refused at start, with the reason.
func TestTimerMissingUnit(t *testing.T) {
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=daily", "Unit=missing.service"), oneshot("t.service"))
	tx, err := r.m.plan.Transaction(plan.Start, []string{"t.timer"}, plan.Replace, r.m.activeState)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := r.m.jobs.submit(tx)
	if err != nil {
		t.Fatal(err)
	}
	drain(r.m)
	var j *job
	for i, pj := range tx.Jobs {
		if pj.Unit == "t.timer" {
			j = jobs[i]
		}
	}
	tm := r.timer("t.timer")
	if !j.finished || j.result != "failed" || !strings.Contains(j.err, "missing.service to trigger not loaded") {
		t.Fatalf("job %v %q %q", j.finished, j.result, j.err)
	}
	if st := r.m.snapshot(tm.rt, false); st.Active != Inactive || !strings.Contains(st.StatusText, "Refusing to start, unit missing.service") {
		t.Fatalf("status %s %q", st.Active, st.StatusText)
	}
}

// A start job of the triggered unit that fails without the unit changing
// state (here: its dependency fails) sends the timer back to waiting.
func TestTimerTriggeredJobFails(t *testing.T) {
	svc := oneshot("t.service")
	svc.EnsureDeps().Requires = []string{"bad.service"}
	svc.EnsureDeps().After = []string{"bad.service"}
	r := newTimerRig(t, timerDef("t.timer", "OnCalendar=*-*-* 08:00", "AccuracySec=1us"), svc, oneshot("bad.service"))
	r.job(plan.Start, "t.timer")
	r.advanceTo(at("2026-01-01 08:00:00"))
	bad := r.svc("bad.service")
	r.m.onExit(reaper.Exit{PID: bad.mainPID, Status: 1 << 8})
	drain(r.m)
	if tm := r.timer("t.timer"); tm.state != Waiting || !tm.next.Equal(at("2026-01-02 08:00:00")) {
		t.Fatalf("after the triggered start failed: %s next %v; want waiting for tomorrow", tm.state, tm.next)
	}
}

// timerStates are a timer unit's states, in systemd's order.
var timerStates = []SubState{Dead, Waiting, Running, Elapsed, Failed}

var timerEvents = []struct {
	name  string
	apply func(r *timerRig)
}{
	{"start", func(r *timerRig) { r.job(plan.Start, "t.timer") }},
	{"stop", func(r *timerRig) { r.job(plan.Stop, "t.timer") }},
	{"restart", func(r *timerRig) { r.job(plan.Restart, "t.timer") }},
	{"reload", func(r *timerRig) {
		if tx, err := r.m.plan.Transaction(plan.Reload, []string{"t.timer"}, plan.Replace, r.m.activeState); err == nil {
			r.m.jobs.submit(tx)
			drain(r.m)
		}
	}},
	{"elapse", func(r *timerRig) { r.advanceTo(r.clk.Now().Add(time.Hour)) }},
	{"service-running", timerServiceNow(Running)},
	{"service-dead", timerServiceNow(Dead)},
	{"service-failed", timerServiceNow(Failed)},
	{"clock-change", func(r *timerRig) { r.m.TimeChanged(true); drain(r.m) }},
	{"tz-change", func(r *timerRig) { r.m.TimeChanged(false); drain(r.m) }},
}

func timerServiceNow(st SubState) func(r *timerRig) {
	return func(r *timerRig) {
		s := r.svc("t.service")
		if s.mainPID != 0 {
			delete(r.m.pids, s.mainPID)
			s.mainPID = 0
		}
		s.state = st
		r.m.noteTriggered(s.rt)
		drain(r.m)
	}
}

// placeTimer brings t.timer (OnActiveSec=1h) to st the way it gets
// there.
func placeTimer(r *timerRig, st SubState) {
	switch st {
	case Waiting:
		r.job(plan.Start, "t.timer")
	case Running, Elapsed:
		r.job(plan.Start, "t.timer")
		r.advanceTo(r.clk.Now().Add(time.Hour))
		if st == Elapsed {
			r.finish("t.service")
		}
	case Failed:
		tm := r.timer("t.timer")
		tm.state, tm.rt.result = Failed, ResultResources
	}
	if s := r.timer("t.timer").state; s != st {
		r.t.Fatalf("placed in %s, got %s", st, s)
	}
}

func timerMatrix(t *testing.T, w *strings.Builder) {
	fmt.Fprintf(w, "# kind=timer (t.timer, OnActiveSec=1h, RemainAfterElapse=yes; t.service Type=oneshot)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "state")
	for _, ev := range timerEvents {
		fmt.Fprintf(tw, "\t%s", ev.name)
	}
	fmt.Fprintln(tw)
	for _, st := range timerStates {
		fmt.Fprint(tw, st)
		for _, ev := range timerEvents {
			next := ""
			t.Run(fmt.Sprintf("timer/%s/%s", st, ev.name), func(t *testing.T) {
				r := newTimerRig(t, timerDef("t.timer", "OnActiveSec=1h", "AccuracySec=1us"), oneshot("t.service"))
				placeTimer(r, st)
				ev.apply(r)
				tm := r.timer("t.timer")
				if (tm.state == Waiting) != (tm.alarm != nil) {
					t.Errorf("%s with alarm %v", tm.state, tm.alarm)
				}
				if tm.job != nil && tm.job.finished {
					t.Errorf("finished job still attached")
				}
				next = tm.state.String()
			})
			fmt.Fprintf(tw, "\t%s", next)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	w.WriteString("\n")
}
