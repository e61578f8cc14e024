package supervise

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/unit"
)

// spawnSvdir gives the programs of a service directory fake pids, or
// fails as an unexecutable ./run does when svdirErr is set.
func (f *fakeProcs) spawnSvdir(u *svdirUnit, argv []string, r role) (int, error) {
	if f.svdirErr != nil && argv[0] == "./run" {
		return 0, f.svdirErr
	}
	f.next++
	return f.next, nil
}

// svdirStates are the rows of the service directory matrices: those of
// a main service (with ./finish), then the log service's drain.
var svdirStates = map[bool][]SubState{
	false: {Dead, Running, StopSigterm, StopPost, AutoRestart, Failed},
	true:  {Dead, Running, Stop, StopSigterm, AutoRestart},
}

type svdirEvent struct {
	name  string
	apply func(m *Manager, u *svdirUnit, f *fakeProcs)
}

func svdirJob(kind plan.JobKind) func(m *Manager, u *svdirUnit, f *fakeProcs) {
	return func(m *Manager, u *svdirUnit, f *fakeProcs) {
		if tx, err := m.plan.Transaction(kind, []string{u.name}, plan.Replace, m.activeState); err == nil {
			if _, err := m.jobs.submit(tx); err != nil {
				panic(err)
			}
		}
	}
}

// svdirExit is the end of the process the unit runs (./run or ./finish).
func svdirExit(ws unix.WaitStatus) func(m *Manager, u *svdirUnit, f *fakeProcs) {
	return func(m *Manager, u *svdirUnit, f *fakeProcs) {
		if u.pid != 0 {
			m.onExit(reaper.Exit{PID: u.pid, Status: ws})
		}
	}
}

func svdirCmd(c svdir.Command) func(m *Manager, u *svdirUnit, f *fakeProcs) {
	return func(m *Manager, u *svdirUnit, f *fakeProcs) { m.svdirCommand(u, c) }
}

var svdirEvents = []svdirEvent{
	{"start", svdirJob(plan.Start)},
	{"stop", svdirJob(plan.Stop)},
	{"restart", svdirJob(plan.Restart)},
	{"reload", svdirJob(plan.Reload)},
	{"exit-0", svdirExit(0)},
	{"exit-1", svdirExit(1 << 8)},
	{"killed-9", svdirExit(unix.WaitStatus(unix.SIGKILL))},
	// The state's deadline passing, if one is armed (as its timer would).
	{"timeout", func(m *Manager, u *svdirUnit, f *fakeProcs) {
		if u.hasDeadline() {
			m.handle(evFor{u: u.rt, gen: u.gen, ev: deadline{}})
		}
	}},
	{"sv-up", svdirCmd(svdir.CmdUp)},
	{"sv-down", svdirCmd(svdir.CmdDown)},
	{"sv-once", svdirCmd(svdir.CmdOnce)},
	{"sv-exit", svdirCmd(svdir.CmdExit)},
	{"sv-hup", svdirCmd(svdir.CmdHup)},
	{"sv-term", svdirCmd(svdir.CmdTerm)},
	{"sv-kill", svdirCmd(svdir.CmdKill)},
	{"sv-pause", svdirCmd(svdir.CmdPause)},
	// ./run not executable from here on, then sv up.
	{"unrunnable-up", func(m *Manager, u *svdirUnit, f *fakeProcs) {
		f.svdirErr = os.ErrPermission
		m.svdirCommand(u, svdir.CmdUp)
	}},
}

// newSvdirManager makes a table manager over a service directory (with
// ./finish and log/) whose supervise/ is real; it returns the main or
// the log unit.
func newSvdirManager(t *testing.T, isLog bool) (*Manager, *svdirUnit, *fakeProcs) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"run", "finish", "log/run"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	main := &unit.Unit{Name: "t.svdir", Kind: unit.KindSvdir, Load: unit.Loaded, Path: filepath.Join(dir, "run")}
	lg := &unit.Unit{Name: "t:log.svdir", Kind: unit.KindSvdir, Load: unit.Loaded, Path: filepath.Join(dir, "log", "run")}
	main.EnsureDeps().Wants, main.Deps.After = []string{lg.Name}, []string{lg.Name}
	m, _, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, 0), main, lg)
	hub, err := svdir.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	m.opts.SvdirHub = hub
	t.Cleanup(func() {
		for _, u := range m.svdirByDir() {
			m.svdirClose(u)
		}
		for _, n := range []string{main.Name, lg.Name} {
			if v, err := m.lookup(n); err == nil && v.eng.(*svdirUnit).pipe != nil {
				v.eng.(*svdirUnit).pipe.close()
			}
		}
		hub.Close()
	})
	name := main.Name
	if isLog {
		name = lg.Name
	}
	r, err := m.lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return m, r.eng.(*svdirUnit), f
}

// placeSvdir puts u in state s, with the processes, want and deadline
// that state implies; ./run started two seconds ago (past runsv's
// one-second rule).
func placeSvdir(t *testing.T, m *Manager, u *svdirUnit, s SubState, f *fakeProcs) {
	t.Helper()
	if s != Failed && !m.svdirOpen(u) {
		t.Fatalf("cannot open supervise/: %s", u.reason)
	}
	u.state, u.want = s, svdir.WantUp
	u.runStart = m.clock.Now().Add(-2 * time.Second)
	run := func() {
		f.next++
		u.pid, u.lastPID = f.next, f.next
		m.pids[u.pid] = pidRef{u: u.rt, role: roleMain}
	}
	switch s {
	case Dead:
		u.want = svdir.WantDown
	case Running:
		run()
	case StopSigterm:
		run()
		u.want, u.term = svdir.WantDown, true
	case StopPost:
		run()
		u.finishing = true
	case AutoRestart:
		m.arm(u.rt, time.Second)
	case Failed:
		u.reason = "service directory t: unable to lock supervise/lock: held by pid 1 (runsv)"
	case Stop: // a log service whose main service is gone
		run()
		u.exiting, u.want, u.removed = true, svdir.WantExit, true
		m.arm(u.rt, unit.DefaultTimeout)
	}
	m.svdirWrite(u)
}

// svdirMatrix writes the transition matrix of the main service or the
// log service of a service directory: the sub-state (as status shows
// it) each event leads to.
func svdirMatrix(t *testing.T, w *strings.Builder, isLog bool) {
	which := "main service, with ./finish and log/"
	if isLog {
		which = "log service"
	}
	fmt.Fprintf(w, "# kind=svdir (%s)\n", which)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "state")
	for _, ev := range svdirEvents {
		fmt.Fprintf(tw, "\t%s", ev.name)
	}
	fmt.Fprintln(tw)
	for _, s := range svdirStates[isLog] {
		var label string
		for i, ev := range svdirEvents {
			next := ""
			t.Run(fmt.Sprintf("svdir/log=%v/%s/%s", isLog, s, ev.name), func(t *testing.T) {
				m, u, f := newSvdirManager(t, isLog)
				placeSvdir(t, m, u, s, f)
				if i == 0 {
					label = u.sub()
				}
				gen := u.gen
				ev.apply(m, u, f)
				drain(m)
				checkSvdir(t, m, u, u.gen != gen)
				next = u.sub()
			})
			if i == 0 {
				fmt.Fprint(tw, label)
			}
			fmt.Fprintf(tw, "\t%s", next)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	w.WriteString("\n")
}

// checkSvdir checks what must hold after any event: processes exactly in
// the states that run one, and tracked; a deadline in the pause and the
// drain; supervise/status saying what the unit is.
func checkSvdir(t *testing.T, m *Manager, u *svdirUnit, entered bool) {
	t.Helper()
	runs := u.state == Running || u.state == StopSigterm || u.state == StopPost || u.state == Stop
	if runs != (u.pid != 0) {
		t.Errorf("%s with pid %d", u.state, u.pid)
	}
	if u.state == StopPost != u.finishing {
		t.Errorf("%s with finishing=%v", u.state, u.finishing)
	}
	for pid, ref := range m.pids {
		if ref.u == u.rt && pid != u.pid && pid != u.ctl.pid {
			t.Errorf("stale pid %d tracked as %v", pid, ref.role)
		}
	}
	if entered && (u.state == AutoRestart || u.state == Stop) && !u.hasDeadline() {
		t.Errorf("%s without a deadline", u.state)
	}
	if u.job != nil && u.job.finished {
		t.Errorf("finished job still attached")
	}
	if u.state == Failed && u.reason == "" {
		t.Errorf("failed without a reason")
	}
	if u.sup != nil {
		if got, want := u.sup.Status(), u.supStatus(); got != want {
			t.Errorf("supervise/status %+v; want %+v", got, want)
		}
	}
	if u.timer != nil {
		u.timer.Stop()
	}
}

// TestSvdirUnrunnableRetries: a ./run that cannot be started is tried
// again every second while the service is wanted up (runsv's rule), with
// the reason as status text; the start job fails with it; once ./run
// can be started the service runs and the reason is gone.
func TestSvdirUnrunnableRetries(t *testing.T) {
	m, u, f := newSvdirManager(t, false)
	os.Remove(filepath.Join(u.dir(), "finish"))
	f.svdirErr = errors.New("permission denied")
	tx, err := m.plan.Transaction(plan.Start, []string{"t:log.svdir", "t.svdir"}, plan.Replace, m.activeState)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := m.jobs.submit(tx)
	if err != nil {
		t.Fatal(err)
	}
	drain(m)
	var j *job
	for i, pj := range tx.Jobs {
		if pj.Unit == u.name {
			j = jobs[i]
		}
	}
	st := m.snapshot(u.rt, true)
	if u.state != AutoRestart || !strings.Contains(st.StatusText, "permission denied") || j.result != "failed" {
		t.Fatalf("after a failed start: %s %q, job %q; want auto-restart with the reason, job failed", u.state, st.StatusText, j.result)
	}
	for i := 0; i < 3; i++ {
		spawned := f.next
		advance(m, time.Second)
		if u.state != AutoRestart || f.next != spawned {
			t.Fatalf("retry %d: %s (spawned %d)", i, u.state, f.next-spawned)
		}
	}
	f.svdirErr = nil
	advance(m, time.Second)
	if u.state != Running || u.pid == 0 || m.snapshot(u.rt, true).StatusText != "run" {
		t.Fatalf("after ./run became executable: %s pid %d %q", u.state, u.pid, m.snapshot(u.rt, true).StatusText)
	}
}

// TestSvdirExitSkipsNotifyDrain: a service directory's processes get no
// NOTIFY_SOCKET and its engine has no use for a message, so the end of
// its ./run is handled without draining the notify socket first (a
// recvmsg and the socket's lock on the way to the restart's fork). A
// datagram waiting in the socket is left to the socket's reader.
func TestSvdirExitSkipsNotifyDrain(t *testing.T) {
	m, u, f := newSvdirManager(t, false)
	placeSvdir(t, m, u, Running, f)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: m.opts.Notify.Path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("STATUS=waiting\n")); err != nil {
		t.Fatal(err)
	}
	m.handleBatch([]event{evExit{exit: reaper.Exit{PID: u.pid, Status: unix.WaitStatus(unix.SIGKILL)}}})
	left := 0
	m.opts.Notify.Sync(func() {}, func(notify.Message) { left++ })
	if left != 1 {
		t.Errorf("%d datagrams left in the notify socket after ./run's exit; want 1 (not drained for a service directory)", left)
	}
}
