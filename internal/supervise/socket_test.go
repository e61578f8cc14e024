package supervise

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

func (f *fakeProcs) spawnSocket(*socket, unit.Command) (int, error) {
	f.next++
	return f.next, nil
}

// socketUnit is t.socket (activating t.service) with a unix listener in
// dir and one command in each of its phases.
func socketUnit(dir string, extra ...string) *unit.Unit {
	lines := append([]string{"ListenStream=" + filepath.Join(dir, "t.sock"),
		"ExecStartPre=/bin/true", "ExecStartPost=/bin/true", "ExecStopPre=/bin/true", "ExecStopPost=/bin/true"}, extra...)
	u := &unit.Unit{Name: "t.socket", Kind: unit.KindSocket, Load: unit.Loaded, DefaultDependencies: true}
	for i, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		u.Entries = append(u.Entries, unit.Entry{Section: "Socket", Key: k, Value: v, File: "t.socket", Line: i + 2})
	}
	return u
}

func newSocketManager(t *testing.T, def *unit.Unit) (*Manager, *socket, *service, *fakeProcs) {
	t.Helper()
	m, svc, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, 0), def)
	u, err := m.lookup(def.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		u.eng.(*socket).closeAll(m)
		if m.fds != nil {
			m.fds.close()
		}
	})
	return m, u.eng.(*socket), svc, f
}

// socketStates are the states of a socket unit, in systemd's order.
var socketStates = []SubState{Dead, StartPre, StartPost, Listening, Running, StopPre, StopPost, Failed}

// placeSocket puts s in state st with what the state implies: a control
// process in the phases that run one, bound listeners from start-post to
// stop-pre, the service running in running.
func placeSocket(t *testing.T, m *Manager, s *socket, svc *service, st SubState, f *fakeProcs) {
	t.Helper()
	spec, _, ok := parseSocket(s)
	if !ok {
		t.Fatal("socket unit does not parse")
	}
	s.spec, s.state, s.result = spec, st, ResultSuccess
	switch st {
	case StartPre, StartPost, StopPre, StopPost:
		f.next++
		s.controlPID, s.cmds = f.next, []unit.Command{{Path: "/bin/true"}}
		m.pids[s.controlPID] = pidRef{u: s.rt, role: roleControl}
	}
	switch st {
	case StartPost, Listening, Running, StopPre:
		if err := s.open(m); err != nil {
			t.Fatal(err)
		}
	}
	if st == Listening {
		s.enterListening(m)
	}
	if st == Running {
		svc.state = Running
	}
}

// socketEvents are the jobs and the events a socket unit reacts to.
var socketEvents = []struct {
	name  string
	apply func(m *Manager, s *socket, svc *service)
}{
	{"start", socketJob(plan.Start)},
	{"stop", socketJob(plan.Stop)},
	{"restart", socketJob(plan.Restart)},
	{"reload", socketJob(plan.Reload)},
	{"control-exit-0", socketExit(0)},
	{"control-exit-1", socketExit(1 << 8)},
	{"timeout", func(m *Manager, s *socket, _ *service) { s.event(m, deadline{}) }},
	{"readable", func(m *Manager, s *socket, _ *service) {
		if len(s.bound) > 0 {
			s.event(m, readable{fd: int(s.bound[0].File.Fd())})
		}
	}},
	{"service-running", serviceNow(Running, ResultSuccess)},
	{"service-dead", serviceNow(Dead, ResultSuccess)},
	{"service-failed", serviceNow(Failed, ResultExitCode)},
	{"service-start-limit", serviceNow(Failed, ResultStartLimitHit)},
	{"alarm", func(m *Manager, s *socket, _ *service) { s.event(m, alarm{}) }},
}

func socketJob(kind plan.JobKind) func(m *Manager, s *socket, _ *service) {
	return func(m *Manager, s *socket, _ *service) {
		if tx, err := m.plan.Transaction(kind, []string{s.name}, plan.Replace, m.activeState); err == nil {
			if _, err := m.jobs.submit(tx); err != nil {
				panic(err)
			}
		}
	}
}

func socketExit(ws unix.WaitStatus) func(m *Manager, s *socket, _ *service) {
	return func(m *Manager, s *socket, _ *service) {
		if s.controlPID != 0 {
			m.onExit(reaper.Exit{PID: s.controlPID, Status: ws})
		}
	}
}

// serviceNow is the activated service reaching st (with result r).
func serviceNow(st SubState, r Result) func(m *Manager, s *socket, svc *service) {
	return func(m *Manager, s *socket, svc *service) {
		svc.state, svc.result = st, r
		s.event(m, triggeredChanged{u: svc.rt})
	}
}

// socketMatrix writes the transition matrix of socket units.
func socketMatrix(t *testing.T, w *strings.Builder) {
	fmt.Fprintf(w, "# kind=socket (t.socket, Accept=no, one command per phase)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "state")
	for _, ev := range socketEvents {
		fmt.Fprintf(tw, "\t%s", ev.name)
	}
	fmt.Fprintln(tw)
	for _, st := range socketStates {
		fmt.Fprint(tw, st)
		for _, ev := range socketEvents {
			next := ""
			t.Run(fmt.Sprintf("socket/%s/%s", st, ev.name), func(t *testing.T) {
				m, s, svc, f := newSocketManager(t, socketUnit(t.TempDir()))
				placeSocket(t, m, s, svc, st, f)
				ev.apply(m, s, svc)
				drain(m)
				checkSocket(t, m, s)
				next = s.state.String()
			})
			fmt.Fprintf(tw, "\t%s", next)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	w.WriteString("\n")
}

// checkSocket checks what must hold after any event: listeners exactly
// while the socket holds them, a control process only in the phases
// that run one, watched descriptors only while listening.
func checkSocket(t *testing.T, m *Manager, s *socket) {
	t.Helper()
	holds := s.state == StartPost || s.state == Listening || s.state == Running || s.state == StopPre
	if holds != (len(s.bound) > 0) {
		t.Errorf("%s with %d listeners bound", s.state, len(s.bound))
	}
	control := s.state == StartPre || s.state == StartPost || s.state == StopPre || s.state == StopPost
	if !control && s.controlPID != 0 {
		t.Errorf("%s with control process %d", s.state, s.controlPID)
	}
	watched := 0
	if m.fds != nil {
		m.fds.mu.Lock()
		for _, u := range m.fds.byFD {
			if u == s.rt {
				watched++
			}
		}
		m.fds.mu.Unlock()
	}
	if s.state != Listening && watched > 0 {
		t.Errorf("%s with %d descriptors watched", s.state, watched)
	}
	if s.job != nil && s.job.finished {
		t.Errorf("finished job still attached")
	}
}

// TestSocketTriggerLimit: more activations than TriggerLimitBurst=
// within the interval fail the socket with trigger-limit-hit; with
// X-Tend-TriggerLimitHoldSec= it listens again once the hold is over.
func TestSocketTriggerLimit(t *testing.T) {
	dir := t.TempDir()
	m, s, svc, f := newSocketManager(t, socketUnit(dir, "TriggerLimitBurst=2", "TriggerLimitIntervalSec=10s", "X-Tend-TriggerLimitHoldSec=1min"))
	placeSocket(t, m, s, svc, Listening, f)
	for i := 0; i < 3; i++ {
		s.event(m, readable{fd: int(s.bound[0].File.Fd())})
		drain(m)
		if i < 2 {
			if s.state != Running {
				t.Fatalf("activation %d: socket %s; want running", i+1, s.state)
			}
			serviceNow(Dead, ResultSuccess)(m, s, svc)
			drain(m)
		}
	}
	if s.state != StopPre {
		t.Fatalf("third activation within 10s: %s; want stop-pre", s.state)
	}
	for s.controlPID != 0 {
		socketExit(0)(m, s, svc)
		drain(m)
	}
	if s.state != Failed || s.rt.result != ResultTriggerLimitHit {
		t.Fatalf("after the limit: %s/%s; want failed/trigger-limit-hit", s.state, s.rt.result)
	}
	advance(m, time.Minute)
	if s.state != StartPre {
		t.Fatalf("after the hold: %s; want start-pre (listening again)", s.state)
	}
}

// TestSocketBindError: an address another socket holds fails the unit
// with the kernel's reason; nothing stays bound.
func TestSocketBindError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	def := socketUnit(t.TempDir(), "ListenStream="+l.Addr().String())
	m, s, _, _ := newSocketManager(t, def)
	m.procs = realProcesses{m} // ExecStartPre= really runs /bin/true: keep this test free of them
	def.Entries = def.Entries[:1]
	def.Entries = append(def.Entries, unit.Entry{Section: "Socket", Key: "ListenStream", Value: l.Addr().String()})
	socketJob(plan.Start)(m, s, nil)
	drain(m)
	if s.state != Failed || s.rt.result != ResultResources || !strings.Contains(s.reason, "address already in use") {
		t.Fatalf("got %s/%s %q; want failed/resources naming the address in use", s.state, s.rt.result, s.reason)
	}
	if len(s.bound) != 0 {
		t.Fatalf("%d listeners left bound", len(s.bound))
	}
}

// parseSocket types s's unit as the engine does at start.
func parseSocket(s *socket) (*activate.Spec, []unit.Diag, bool) {
	return activate.ParseSpec(s.def, nil)
}

// TestSocketStopRefusesWithCopyHeld: a stopped socket refuses new
// connections at once although another process (the fd holder) still
// has a descriptor of its listener; with its service running, the
// listener stays the service's, as in systemd.
func TestSocketStopRefusesWithCopyHeld(t *testing.T) {
	for _, svcUp := range []bool{false, true} {
		dir := t.TempDir()
		m, s, svc, f := newSocketManager(t, socketUnit(dir))
		placeSocket(t, m, s, svc, Listening, f)
		if svcUp {
			svc.rt.state = Running
		}
		held, err := unix.Dup(int(s.bound[0].File.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		s.enterStopPost(m)
		c, err := net.Dial("unix", filepath.Join(dir, "t.sock"))
		if err == nil {
			c.Close()
		}
		unix.Close(held)
		if refused := err != nil; refused == svcUp {
			t.Errorf("service running %v: connect after stop: %v", svcUp, err)
		}
	}
}
