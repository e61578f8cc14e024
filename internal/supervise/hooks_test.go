package supervise

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// recorder is a kind made for these tests: passive, and it records the
// events it is sent (what a socket or timer engine would act on).
type recorder struct {
	passive
	got []unitEvent
}

func (r *recorder) start(m *Manager)               { r.activate(m, "", "") }
func (r *recorder) event(_ *Manager, ev unitEvent) { r.got = append(r.got, ev) }

// newRecorders returns a manager with units a.socket, b.socket and
// c.socket run by recorders, and t.service.
func newRecorders(t *testing.T) (*Manager, map[string]*recorder) {
	t.Helper()
	var defs []*unit.Unit
	for _, n := range []string{"a.socket", "b.socket", "c.socket"} {
		defs = append(defs, &unit.Unit{Name: n, Kind: unit.KindSocket, Load: unit.Loaded})
	}
	m, _, _ := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, 0), defs...)
	recs := map[string]*recorder{}
	for _, d := range defs {
		u, _ := m.lookup(d.Name)
		r := &recorder{passive: passive{u}}
		u.eng = r
		recs[d.Name] = r
	}
	return m, recs
}

func TestAlarmsShareOneTimer(t *testing.T) {
	m, recs := newRecorders(t)
	fake := m.clock.(*clock.Fake)
	unitOf := func(n string) *rt { u, _ := m.lookup(n); return u }
	now := m.clock.Now()
	m.setAlarm(unitOf("a.socket"), now.Add(3*time.Hour))
	m.setAlarm(unitOf("b.socket"), now.Add(time.Hour))
	m.setAlarm(unitOf("c.socket"), now.Add(2*time.Hour))
	m.setAlarm(unitOf("c.socket"), now.Add(4*time.Hour)) // replaces c's alarm
	if n := fake.Pending(); n != 1 {
		t.Fatalf("%d clock timers armed for three alarms; want 1", n)
	}
	// A state change does not touch an alarm.
	m.setState(unitOf("b.socket"), Running)
	advance(m, time.Hour-time.Nanosecond)
	if len(recs["b.socket"].got) != 0 {
		t.Fatal("alarm fired early")
	}
	advance(m, time.Nanosecond)
	if !reflect.DeepEqual(recs["b.socket"].got, []unitEvent{alarm{}}) {
		t.Fatalf("b got %v at its alarm; want one alarm", recs["b.socket"].got)
	}
	m.setAlarm(unitOf("a.socket"), time.Time{}) // cleared
	advance(m, 5*time.Hour)
	if len(recs["a.socket"].got) != 0 || len(recs["c.socket"].got) != 1 || len(recs["b.socket"].got) != 1 {
		t.Fatalf("a %v, b %v, c %v; want nothing, one, one", recs["a.socket"].got, recs["b.socket"].got, recs["c.socket"].got)
	}
	if n := fake.Pending(); n != 0 {
		t.Fatalf("%d clock timers armed with no alarm set; want 0", n)
	}
}

func TestTrigger(t *testing.T) {
	m, _ := newRecorders(t)
	a, _ := m.lookup("a.socket")
	if err := m.trigger(a, "t.service"); err != nil {
		t.Fatal(err)
	}
	drain(m)
	svc := svcOf(t, m, "t.service")
	if svc.state != Running {
		t.Fatalf("triggered service is %s; want running", svc.state)
	}
	if st := m.snapshot(svc.rt, false); st.LastTriggeredBy != "a.socket" {
		t.Fatalf("status says last triggered by %q; want a.socket", st.LastTriggeredBy)
	}
	if err := m.trigger(a, "nope.service"); err == nil {
		t.Fatal("triggering a unit that does not exist succeeded")
	}
}

func TestWatchFD(t *testing.T) {
	m, recs := newRecorders(t)
	a, _ := m.lookup("a.socket")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(r.Fd())
	if err := m.watchFD(a, fd); err != nil {
		t.Fatal(err)
	}
	defer func() { m.fds.close() }()
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	waitEvent := func() {
		t.Helper()
		select {
		case <-m.box.wake:
			drain(m)
		case <-time.After(10 * time.Second):
			t.Fatal("no readable event")
		}
	}
	waitEvent()
	if !reflect.DeepEqual(recs["a.socket"].got, []unitEvent{readable{fd: fd}}) {
		t.Fatalf("got %v; want one readable", recs["a.socket"].got)
	}
	// One-shot: still readable, but not reported again until re-armed;
	// re-armed, the byte already there is reported at once.
	if err := m.watchFD(a, fd); err != nil {
		t.Fatal(err)
	}
	waitEvent()
	if len(recs["a.socket"].got) != 2 {
		t.Fatalf("after re-arming: %v; want a second readable", recs["a.socket"].got)
	}
	m.unwatchFD(fd)
	if len(m.fds.byFD) != 0 {
		t.Fatal("descriptor still watched after unwatchFD")
	}
}

func TestSaveRestore(t *testing.T) {
	m, u, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, time.Hour))
	place(m, u, Running, f)
	apply(t, m, u, "main-exit-1")
	drain(m)
	u.statusText = "serving"
	saved, err := m.saveUnit(u.rt)
	if err != nil {
		t.Fatal(err)
	}
	m2, u2, _ := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, time.Hour))
	if err := m2.restoreUnit(u2.rt, saved); err != nil {
		t.Fatal(err)
	}
	want, got := m.snapshot(u.rt, false), m2.snapshot(u2.rt, false)
	want.Def, got.Def = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored status\n%+v\nwant\n%+v", got, want)
	}
	if u2.mainPID != 0 || u2.controlPID != 0 {
		t.Fatal("restore adopted processes")
	}
	saved.Kind = "target"
	if err := m2.restoreUnit(u2.rt, saved); err == nil {
		t.Fatal("restored a target's state into a service")
	}
}

// TestTriggerWhileRunning: a oneshot triggered again while its run goes
// on (a cron job still running at its next time) is not started a
// second time, and its journal says why.
func TestTriggerWhileRunning(t *testing.T) {
	h := newHarness(t, map[string]string{
		"job.service": "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> %D/runs; echo started > %D/up; read x < %D/go; exit 0'\n",
		"t.target":    "[Unit]\n",
	})
	if err := unix.Mkfifo(h.path("go"), 0o600); err != nil {
		t.Fatal(err)
	}
	trigger := func() {
		t.Helper()
		err := h.m.do(context.Background(), func() {
			u, _ := h.m.lookup("t.target")
			if err := h.m.trigger(u, "job.service"); err != nil {
				t.Error(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	trigger()
	h.waitFile("up")
	trigger()
	// Let the run end: open the FIFO for writing and close it.
	f, err := os.OpenFile(h.path("go"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	h.waitState("job.service", "dead")
	if b, _ := os.ReadFile(h.path("runs")); string(b) != "run\n" {
		t.Fatalf("runs %q; want one run", b)
	}
	if log := h.logs.dump(); !strings.Contains(log, "job.service: still running since") || !strings.Contains(log, "triggered by t.target") {
		t.Errorf("journal lacks the reason:\n%s", log)
	}
}
