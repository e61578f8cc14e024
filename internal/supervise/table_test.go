package supervise

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// fakeProcs hands out pids from a private range and records signals, so
// the state machine can be driven through every state without a process.
type fakeProcs struct {
	next     int
	signals  []string
	svdirErr error // spawnSvdir fails ./run with it
}

func (f *fakeProcs) spawn(u *service, cmd unit.Command, r role) (int, error) {
	f.next++
	return f.next, nil
}

func (f *fakeProcs) kill(pid int, sig syscall.Signal) error {
	f.signals = append(f.signals, fmt.Sprintf("%d:%s", pid, unix.SignalName(sig)))
	return nil
}

// tableUnit builds a service with one command in every phase and long
// deadlines, so no timer fires during a test.
func tableUnit(typ unit.ServiceType, restart unit.RestartPolicy, restartSec time.Duration) *unit.Unit {
	cmd := []unit.Command{{Path: "/bin/true", Argv: []string{"true"}}}
	return &unit.Unit{
		Name: "t.service", Kind: unit.KindService, Load: unit.Loaded,
		StartLimitInterval: 0, StartLimitBurst: 0,
		Service: &unit.Service{
			Type: typ, Restart: restart, RestartSec: restartSec,
			ExecStart: cmd, TimeoutStart: time.Hour, TimeoutStop: time.Hour, TimeoutAbort: time.Hour,
			Kill: unit.KillContext{Mode: unit.KillControlGroup, Signal: int(unix.SIGTERM), FinalKillSignal: int(unix.SIGKILL), SendSIGKILL: true},
		},
	}
}

// newTableManager returns a manager over def (and others), driven by the
// test goroutine instead of a loop.
func newTableManager(t testing.TB, def *unit.Unit, others ...*unit.Unit) (*Manager, *service, *fakeProcs) {
	t.Helper()
	ns, err := notify.Listen(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	defs := map[string]*unit.Unit{def.Name: def}
	for _, o := range others {
		defs[o.Name] = o
	}
	m := New(plan.New(defs, plan.Options{}), Options{Notify: ns, Clock: clock.NewFake(tableEpoch)})
	f := &fakeProcs{next: 1 << 30}
	m.procs = f
	r, err := m.lookup(def.Name)
	if err != nil {
		t.Fatal(err)
	}
	return m, r.eng.(*service), f
}

// tableEpoch is where the fake clock of a table manager starts.
var tableEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// svcOf is the service engine of the unit called name.
func svcOf(t *testing.T, m *Manager, name string) *service {
	t.Helper()
	u, err := m.lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.eng.(*service)
}

// drain handles queued events (job checks, spawn failures, timers the
// test made due with advance) the way the loop would.
func drain(m *Manager) {
	defer m.armDeadlines() // as the loop does once a batch is done
	for range 100 {
		evs := m.box.take()
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			m.handle(ev)
		}
	}
}

// advance moves a table manager's fake clock by d and handles what fell
// due.
func advance(m *Manager, d time.Duration) {
	m.clock.(*clock.Fake).Advance(d)
	drain(m)
}

// place puts u in state s with the processes (and watchdog) that state
// implies.
func place(m *Manager, u *service, s SubState, f *fakeProcs) {
	u.state, u.result = s, ResultSuccess
	u.cmds, u.cmdIdx = u.svc().ExecStart, 0
	u.watchdog = u.svc().Watchdog
	if keepsWatchdog(s) {
		m.resetWatchdog(u)
	}
	switch s {
	case Start, Running, Reload, Stop, StopWatchdog, StopSigterm, StopSigkill, StartPost:
		f.next++
		u.mainPID = f.next
		m.pids[u.mainPID] = pidRef{u: u.rt, role: roleMain}
	}
	switch s {
	case Condition, StartPre, StartPost, Reload, Stop, StopPost:
		f.next++
		u.controlPID = f.next
		m.pids[u.controlPID] = pidRef{u: u.rt, role: roleControl}
	}
}

type tableEvent struct {
	name  string
	apply func(m *Manager, u *service)
}

func exitEvent(r role, ws unix.WaitStatus) func(m *Manager, u *service) {
	return func(m *Manager, u *service) {
		pid := u.mainPID
		if r == roleControl {
			pid = u.controlPID
		}
		if pid != 0 {
			m.onExit(reaper.Exit{PID: pid, Status: ws})
		}
	}
}

// notifyEvent is msg arriving from u's main process, if it has one.
func notifyEvent(msg notify.Message) func(m *Manager, u *service) {
	return func(m *Manager, u *service) {
		if u.mainPID != 0 {
			msg.PID = u.mainPID
			m.handle(evNotify{msg: msg})
		}
	}
}

func jobEvent(kind plan.JobKind) func(m *Manager, u *service) {
	return func(m *Manager, u *service) {
		// A refused job (reload of a unit without ExecReload=) changes nothing.
		if tx, err := m.plan.Transaction(kind, []string{u.name}, plan.Replace, m.activeState); err == nil {
			if _, err := m.jobs.submit(tx); err != nil {
				panic(err)
			}
		}
	}
}

var tableEvents = []tableEvent{
	{"start", jobEvent(plan.Start)},
	{"stop", jobEvent(plan.Stop)},
	{"restart", jobEvent(plan.Restart)},
	{"reload", jobEvent(plan.Reload)},
	{"main-exit-0", exitEvent(roleMain, 0)},
	{"main-exit-1", exitEvent(roleMain, 1<<8)},
	{"main-killed-9", exitEvent(roleMain, unix.WaitStatus(unix.SIGKILL))},
	{"control-exit-0", exitEvent(roleControl, 0)},
	{"control-exit-1", exitEvent(roleControl, 1<<8)},
	{"timeout", func(m *Manager, u *service) { m.onTimeout(u) }},
	{"ready", notifyEvent(notify.Message{Ready: true})},
	{"stopping", notifyEvent(notify.Message{Stopping: true})},
	{"cgroup-empty", func(m *Manager, u *service) { m.onCgroupEmpty(u) }},
	{"main-aborted", exitEvent(roleMain, unix.WaitStatus(unix.SIGABRT))},
	{"watchdog-ping", notifyEvent(notify.Message{Watchdog: true})},
	{"watchdog-trigger", notifyEvent(notify.Message{Trigger: true})},
	{"watchdog-usec-0", notifyEvent(notify.Message{Raw: map[string]string{"WATCHDOG_USEC": "0"}})},
	{"watchdog-usec-2h", notifyEvent(notify.Message{WatchdogUSec: 2 * time.Hour, Raw: map[string]string{"WATCHDOG_USEC": "7200000000"}})},
	// The watchdog's deadline passing, if one is armed (as its timer would).
	{"watchdog-expired", func(m *Manager, u *service) {
		if u.wdTimer != nil {
			m.handle(evKind{u: u.rt, ev: watchdogExpired{gen: u.wdGen}})
		}
	}},
}

// apply applies the table event called name to u.
func apply(t testing.TB, m *Manager, u *service, name string) {
	t.Helper()
	for _, e := range tableEvents {
		if e.name == name {
			e.apply(m, u)
			return
		}
	}
	t.Fatalf("no table event %q", name)
}

// updateTable rewrites testdata/transitions.txt from the state machine;
// review the diff before committing it.
var updateTable = flag.Bool("update-table", false, "rewrite testdata/transitions.txt")

// TestEveryStateEveryEvent walks all state × event pairs of every kind
// of unit — the service types, with and without WatchdogSec=, then the
// passive kinds — checks the invariants that must hold after any of
// them, and compares the state each pair leads to with the expected one
// in testdata/transitions.txt: one matrix per kind (and service type and
// watchdog setting), headed "# kind=…", a row per state, a column per
// event.
func TestEveryStateEveryEvent(t *testing.T) {
	types := []unit.ServiceType{unit.TypeSimple, unit.TypeNotify, unit.TypeOneshot, unit.TypeForking}
	var got strings.Builder
	for _, typ := range types {
		for _, wd := range []time.Duration{0, time.Hour} {
			fmt.Fprintf(&got, "# kind=service Type=%s WatchdogSec=%s\n", typ, wd)
			tw := tabwriter.NewWriter(&got, 0, 0, 1, ' ', 0)
			fmt.Fprint(tw, "state")
			for _, ev := range tableEvents {
				fmt.Fprintf(tw, "\t%s", ev.name)
			}
			fmt.Fprintln(tw)
			for s := Dead; s <= AutoRestart; s++ { // a service's states
				fmt.Fprint(tw, s)
				for _, ev := range tableEvents {
					next := s
					t.Run(fmt.Sprintf("%s/watchdog=%s/%s/%s", typ, wd, s, ev.name), func(t *testing.T) {
						def := tableUnit(typ, unit.RestartOnFailure, time.Hour)
						def.Service.Watchdog = wd
						m, u, f := newTableManager(t, def)
						place(m, u, s, f)
						gen := u.gen
						ev.apply(m, u)
						drain(m)
						checkInvariants(t, m, u, u.gen != gen)
						next = u.state
					})
					fmt.Fprintf(tw, "\t%s", next)
				}
				fmt.Fprintln(tw)
			}
			tw.Flush()
			got.WriteString("\n")
		}
	}
	for _, k := range passiveKinds {
		passiveMatrix(t, &got, k.kind, k.def)
	}
	socketMatrix(t, &got)
	timerMatrix(t, &got)
	svdirMatrix(t, &got, false)
	svdirMatrix(t, &got, true)
	const golden = "testdata/transitions.txt"
	if *updateTable {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-table to create it)", err)
	}
	if got.String() != string(want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s:%d:\ngot  %s\nwant %s", golden, i+1, g, w)
			}
		}
	}
}

// checkInvariants checks u after an event; entered says whether the event
// changed u's state (a state placed by the test has no deadline armed).
func checkInvariants(t *testing.T, m *Manager, u *service, entered bool) {
	t.Helper()
	if u.state >= numSubStates {
		t.Fatalf("invalid state %d", u.state)
	}
	switch u.state {
	case Dead, Failed, AutoRestart, Exited:
		if u.mainPID != 0 && u.state != Exited || u.controlPID != 0 {
			t.Errorf("%s with processes tracked: main %d control %d", u.state, u.mainPID, u.controlPID)
		}
	}
	if entered && u.state.stopping() && u.state != Stop && !u.hasDeadline() {
		t.Errorf("%s without a deadline", u.state)
	}
	if entered && u.state == AutoRestart && !u.hasDeadline() {
		t.Errorf("auto-restart without a restart timer")
	}
	for pid, ref := range m.pids {
		if ref.u == u.rt && pid != u.mainPID && pid != u.controlPID {
			t.Errorf("stale pid %d tracked as %v", pid, ref.role)
		}
	}
	if u.job != nil && u.job.finished {
		t.Errorf("finished job still attached")
	}
	if u.wdTimer != nil && !hearsWatchdog(u.state) {
		t.Errorf("watchdog armed in %s", u.state)
	}
	if u.wdTimer == nil && !u.wdLast.IsZero() {
		t.Errorf("watchdog timestamp %v without a watchdog", u.wdLast)
	}
	if u.timer != nil {
		u.timer.Stop()
	}
	if u.wdTimer != nil {
		u.wdTimer.Stop()
	}
}

// TestTransitions pins the transitions that matter most, as systemd makes them.
func TestTransitions(t *testing.T) {
	tests := []struct {
		typ     unit.ServiceType
		restart unit.RestartPolicy
		from    SubState
		event   string
		want    SubState
	}{
		{unit.TypeSimple, unit.RestartNo, Dead, "start", Running},
		{unit.TypeSimple, unit.RestartNo, Failed, "start", Running},
		{unit.TypeSimple, unit.RestartNo, Running, "start", Running},
		{unit.TypeSimple, unit.RestartNo, Running, "stop", StopSigterm},
		{unit.TypeSimple, unit.RestartNo, StopSigterm, "main-exit-0", Dead},
		{unit.TypeSimple, unit.RestartNo, StopSigterm, "timeout", StopSigkill},
		{unit.TypeSimple, unit.RestartNo, StopSigkill, "timeout", Failed},
		{unit.TypeSimple, unit.RestartNo, Running, "main-exit-0", Dead},
		{unit.TypeSimple, unit.RestartNo, Running, "main-exit-1", Failed},
		{unit.TypeSimple, unit.RestartOnFailure, Running, "main-exit-1", AutoRestart},
		{unit.TypeSimple, unit.RestartOnFailure, Running, "main-exit-0", Dead},
		{unit.TypeSimple, unit.RestartAlways, Running, "main-exit-0", AutoRestart},
		{unit.TypeSimple, unit.RestartOnAbnormal, Running, "main-killed-9", AutoRestart},
		{unit.TypeSimple, unit.RestartOnAbnormal, Running, "main-exit-1", Failed},
		{unit.TypeSimple, unit.RestartAlways, AutoRestart, "stop", Dead},
		{unit.TypeSimple, unit.RestartAlways, AutoRestart, "timeout", Running},
		{unit.TypeSimple, unit.RestartNo, Dead, "stop", Dead},
		{unit.TypeSimple, unit.RestartNo, Failed, "stop", Failed},
		{unit.TypeNotify, unit.RestartNo, Running, "stopping", Stop},
		{unit.TypeSimple, unit.RestartNo, Running, "stopping", Running}, // NotifyAccess=none
		{unit.TypeNotify, unit.RestartNo, Dead, "start", Start},
		{unit.TypeNotify, unit.RestartNo, Start, "ready", Running},
		{unit.TypeNotify, unit.RestartNo, Start, "timeout", StopSigterm},
		{unit.TypeNotify, unit.RestartNo, Start, "main-exit-0", Failed},
		{unit.TypeOneshot, unit.RestartNo, Dead, "start", Start},
		{unit.TypeOneshot, unit.RestartNo, Start, "main-exit-0", Dead},
		{unit.TypeOneshot, unit.RestartNo, Start, "main-exit-1", Failed},
		{unit.TypeForking, unit.RestartNo, Dead, "start", Start},
		{unit.TypeSimple, unit.RestartNo, Exited, "stop", Dead},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s/%s", tt.typ, tt.restart, tt.from, tt.event), func(t *testing.T) {
			m, u, f := newTableManager(t, tableUnit(tt.typ, tt.restart, time.Hour))
			place(m, u, tt.from, f)
			apply(t, m, u, tt.event)
			drain(m)
			if u.state != tt.want {
				t.Errorf("%s + %s → %s; want %s", tt.from, tt.event, u.state, tt.want)
			}
			checkInvariants(t, m, u, u.state != tt.from)
		})
	}
}

// TestStoppingEndsReloadPhase: STOPPING=1 while the first of two
// ExecReload= commands runs enters stop, and that command's exit starts
// nothing more of the reload; the main process's exit ends the unit.
func TestStoppingEndsReloadPhase(t *testing.T) {
	def := tableUnit(unit.TypeNotify, unit.RestartNo, time.Hour)
	def.Service.ExecReload = []unit.Command{{Path: "/bin/first"}, {Path: "/bin/second"}}
	m, u, f := newTableManager(t, def)
	place(m, u, Running, f)
	apply(t, m, u, "reload")
	drain(m)
	if u.state != Reload || u.controlPID == 0 {
		t.Fatalf("after reload: %s control %d", u.state, u.controlPID)
	}
	apply(t, m, u, "stopping")
	drain(m)
	if u.state != Stop {
		t.Fatalf("after STOPPING=1: %s; want stop", u.state)
	}
	spawned := f.next
	apply(t, m, u, "control-exit-0")
	drain(m)
	if f.next != spawned || u.controlPID != 0 {
		t.Fatalf("the first reload command's exit started another process (control %d)", u.controlPID)
	}
	if u.state != Stop {
		t.Fatalf("after the reload command's exit: %s; want stop (waiting for the main process)", u.state)
	}
	apply(t, m, u, "main-exit-0")
	drain(m)
	if u.state != Dead {
		t.Fatalf("after the main process exited: %s; want dead", u.state)
	}
	checkInvariants(t, m, u, true)
}

// TestDeadlineArmedOnceEventDone: deadlines armed while the loop handles
// events become timers once the batch is done, and only the one of the state
// the unit is left in. A Restart=always service's restart passes through
// states with deadlines and ends running without one: no timer. One that
// ends waiting for READY=1 keeps its start deadline.
func TestDeadlineArmedOnceEventDone(t *testing.T) {
	for _, tt := range []struct {
		typ       unit.ServiceType
		state     SubState
		wantTimer bool
	}{
		{unit.TypeSimple, Running, false},
		{unit.TypeNotify, Start, true},
	} {
		t.Run(string(tt.typ), func(t *testing.T) {
			m, u, f := newTableManager(t, tableUnit(tt.typ, unit.RestartAlways, 0))
			place(m, u, Running, f)
			pid := u.mainPID
			m.box.put(evExit{exit: reaper.Exit{PID: pid, Status: 1 << 8}})
			for m.box.pending() {
				m.handleBatch(m.box.take())
			}
			m.armDeadlines() // as the loop does before it waits again
			if u.state != tt.state || u.mainPID == pid {
				t.Fatalf("after the exit: %s, main pid %d (was %d); want %s with a new one", u.state, u.mainPID, pid, tt.state)
			}
			if got := u.timer != nil; got != tt.wantTimer || len(m.toArm) != 0 {
				t.Errorf("timer armed: %v (%d pending); want %v (none pending)", got, len(m.toArm), tt.wantTimer)
			}
		})
	}
}
