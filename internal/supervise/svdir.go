package supervise

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/unit"
)

// svdirUnit is the engine of .svdir units: a runit/daemontools service
// directory run as runsv(8) runs it, with tend as the one supervisor of
// every directory instead of a runsv process each. Its definition is
// made in code (the daemon's scan of --svdir directories): def.Path is
// the directory's ./run, so that cat shows it ("SVC/log/run" for the log
// subservice, whose unit is "NAME:log.svdir").
//
// States: Running while ./run runs (StopSigterm once it was sent TERM
// and is not wanted up), StopPost while ./finish runs, AutoRestart
// during runsv's one-second pause before restarting a ./run that
// exited at once or could not be started (runsv retries it every
// second; the reason is the status text), Stop while a log service
// told to exit reads its pipe to the end, Dead when down, Failed when
// supervise/ could not be taken. Every change is written to supervise/
// (status, stat, pid), so runit's sv and daemontools' svstat read tend
// as they read runsv.
type svdirUnit struct {
	*rt
	isLog bool

	sup *svdir.Dir // supervise/, open while the unit is known; nil before the first start or after exit
	// supNext is supervise/ being opened by svdirOpenAhead's workers.
	supNext *nextSup
	want    svdir.Want

	pid       int  // ./run, or ./finish while finishing
	finishing bool // pid is ./finish
	term      bool // TERM sent to ./run, which has not exited yet
	paused    bool
	runStart  time.Time // when ./run last started (runsv's one-second rule)
	since     time.Time // the status file's timestamp
	lastExit  exitStatus
	lastPID   int
	exited    bool   // lastExit is set
	reason    string // why supervise/ could not be taken: the unit fails
	runErr    string // why ./run could not be started last time; retried every second
	exiting   bool   // told to exit ('x', or the directory left its scan directory)
	removed   bool   // not taken over again once let go of: the directory left, or tend stops
	pipe      *svdirPipe
	out       keptOutput // ./run's journal pipes, kept across its restarts
	ctl       svdirCtl
	lastStart time.Time // the last spawn of ./run, for the status view

	pidStart pidStart            // pid's start time, noted when saved
	saved    *savedSvdir         // as restored, until resume takes it
	kept     map[string]*os.File // descriptors a re-exec kept, until resume takes them
}

// svdirPipe carries the main service's stdout to its log service's
// stdin. It is made once, by whichever side starts first, and kept by
// tend (both ends) for as long as the directory is supervised, so
// neither side's restart loses what the other writes: runsv does the
// same.
type svdirPipe struct{ r, w *os.File }

func newSvdirPipe() (*svdirPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("cannot make the log pipe: %w", err)
	}
	return &svdirPipe{r: os.NewFile(uintptr(fds[0]), "svdir-log-r"), w: os.NewFile(uintptr(fds[1]), "svdir-log-w")}, nil
}

// closeWrite lets the log service read end-of-file once the main
// service's processes are gone (runsv's exit: the logger drains and ends).
func (p *svdirPipe) closeWrite() {
	if p != nil && p.w != nil {
		p.w.Close()
		p.w = nil
	}
}

func (p *svdirPipe) close() {
	p.closeWrite()
	if p != nil && p.r != nil {
		p.r.Close()
		p.r = nil
	}
}

// svdirRunScript is argv[0] of a directory's service.
const svdirRunScript = "./run"

// svdirLogSuffix ends the unit name of a log/ subservice (svdir.UnitName).
const svdirLogSuffix = ":log.svdir"

func newSvdirUnit(u *rt) *svdirUnit {
	u.grouped = true
	return &svdirUnit{rt: u, isLog: strings.HasSuffix(u.name, svdirLogSuffix)}
}

func (u *svdirUnit) dir() string { return filepath.Dir(u.def.Path) }

// peer is the other half of a directory with log/: the log unit of a
// main service, the main unit of a log; nil when there is none.
func (m *Manager) svdirPeer(u *svdirUnit) *svdirUnit {
	name := strings.TrimSuffix(u.name, ".svdir") + svdirLogSuffix
	if u.isLog {
		name = strings.TrimSuffix(u.name, svdirLogSuffix) + ".svdir"
	}
	if v, ok := m.units[name]; ok {
		if e, ok := v.eng.(*svdirUnit); ok {
			return e
		}
	}
	return nil
}

// logPipe returns the pipe shared with the peer, making it on first use;
// nil for a main service without log/.
func (m *Manager) svdirLogPipe(u *svdirUnit) (*svdirPipe, error) {
	if u.pipe != nil {
		return u.pipe, nil
	}
	peer := m.svdirPeer(u)
	if peer == nil {
		return nil, nil
	}
	if peer.pipe == nil || peer.pipe.w == nil {
		p, err := newSvdirPipe()
		if err != nil {
			return nil, err
		}
		peer.pipe = p
	}
	u.pipe = peer.pipe
	return u.pipe, nil
}

// svdirByDir maps open supervise directories to their units, for the
// commands the hub reads.
func (m *Manager) svdirByDir() map[*svdir.Dir]*svdirUnit {
	if m.svdirs == nil {
		m.svdirs = map[*svdir.Dir]*svdirUnit{}
	}
	return m.svdirs
}

func (m *Manager) svdirClose(u *svdirUnit) {
	if u.sup == nil {
		return
	}
	delete(m.svdirByDir(), u.sup)
	u.sup.Close()
	u.sup = nil
}

func (u *svdirUnit) start(m *Manager) {
	if u.state == Failed || u.state == Dead {
		u.reason = ""
	}
	if !m.svdirOpen(u) {
		return
	}
	u.exiting = false
	m.svdirCommand(u, svdir.CmdUp)
	if u.sup != nil && !u.sup.Written() {
		m.svdirWrite(u) // taken from a worker, and not started (an override runs)
	}
	m.jobs.unitChanged(u.rt)
}

// stop is sv down (sv exit for a directory that is going away). A log
// service told to exit whose main service is gone is not signalled: it
// reads end-of-file once the main service's processes are gone, as under
// runsv, so no line in the pipe is lost.
func (u *svdirUnit) stop(m *Manager) {
	switch {
	case u.pid == 0 || u.sup == nil:
		if u.want == svdir.WantUp {
			u.want = svdir.WantDown
		}
		m.svdirDown(u)
	case u.isLog && u.exiting && (u.pipe == nil || u.pipe.w == nil):
		u.want = svdir.WantExit
		m.svdirSettle(u)
	case u.exiting && !u.isLog:
		m.svdirCommand(u, svdir.CmdExit)
	default:
		m.svdirCommand(u, svdir.CmdDown)
	}
	m.jobs.unitChanged(u.rt)
}

func (u *svdirUnit) reload(m *Manager) {
	m.jobs.fail(u.rt, "failed", "Job type reload is not applicable for unit "+u.name+" (use sv hup).")
}

func (u *svdirUnit) event(m *Manager, ev unitEvent) {
	switch e := ev.(type) {
	case procExit:
		if e.role == roleControl {
			m.svdirControlDone(u, e.pid, e.st)
			return
		}
		if e.pid == u.pid {
			m.svdirExited(u, e.st)
		}
	case deadline:
		switch u.state {
		case AutoRestart:
			m.svdirDown(u)
		case Stop:
			// A logger that does not end at end-of-file is stopped as sv
			// down stops it, after the stop timeout; runsv would wait.
			m.event(u.rt, prioWarn, "%s: still running %s after its service ended; sending TERM", u.name, unit.DefaultTimeout)
			m.svdirSignal(u, unix.SIGTERM)
			m.svdirSignal(u, unix.SIGCONT)
			u.term = true
			m.svdirSettle(u)
		}
	}
}

// svdirExited handles the end of ./run or ./finish as runsv does: after
// ./run, ./finish runs if it is readable (with the exit code and signal);
// after both, the service is down, and restarted if wanted up — a
// second later when ./run lasted less than a second.
func (m *Manager) svdirExited(u *svdirUnit, st exitStatus) {
	delete(m.pids, u.pid)
	u.pid, u.term, u.paused = 0, false, false
	if !u.finishing {
		u.lastExit, u.exited = st, true
		prio := prioInfo
		if st.code != "exited" || st.status != 0 {
			prio = prioNotice
		}
		m.event(u.rt, prio, "%s: ./run exited, %s", u.name, st)
		if m.svdirFinish(u, finishArgs(st)) {
			return
		}
	} else {
		u.finishing = false
	}
	m.svdirEnded(u)
}

// svdirEnded is the service with ./run (and ./finish) over: restarted,
// after runsv's one-second pause when ./run lasted less than a second.
func (m *Manager) svdirEnded(u *svdirUnit) {
	u.since = m.clock.Now()
	if u.want == svdir.WantUp && !u.exiting && u.reason == "" && u.since.Sub(u.runStart) < time.Second {
		m.setState(u.rt, AutoRestart)
		m.arm(u.rt, time.Second-u.since.Sub(u.runStart))
		m.svdirWrite(u)
		return
	}
	m.svdirDown(u)
}

// svdirFinish starts ./finish after ./run if it is there; false when
// there is none or it could not be started.
func (m *Manager) svdirFinish(u *svdirUnit, args []string) bool {
	if u.isLog || unix.Access(filepath.Join(u.dir(), "finish"), unix.R_OK) != nil {
		return false
	}
	pid, err := m.svdirSpawn(u, append([]string{"./finish"}, args...), roleMain)
	if err != nil {
		m.event(u.rt, prioWarn, "%s: cannot run ./finish: %v", u.name, err)
		return false
	}
	u.pid, u.finishing = pid, true
	m.svdirSettle(u)
	return true
}

// svdirDown is the service with nothing running: started again when
// wanted up, otherwise down (and let go of, when told to exit).
func (m *Manager) svdirDown(u *svdirUnit) {
	if u.want == svdir.WantUp && !u.exiting && u.reason == "" {
		m.svdirRun(u)
		return
	}
	m.svdirSettle(u)
	if u.exiting && u.pid == 0 && u.ctl.pid == 0 {
		m.svdirLetGo(u)
	}
}

// svdirRun starts ./run. A ./run that cannot be started is runsv's exit
// 111: ./finish runs with "111 0", and ./run is tried again a second
// later for as long as the service is wanted up, as runsv does; the
// reason is the status text meanwhile, and a start job waiting for the
// service fails with it.
func (m *Manager) svdirRun(u *svdirUnit) {
	if u.cg == nil {
		if err := m.prepare(u.rt); err != nil {
			m.event(u.rt, prioWarn, "%s: %v", u.name, err)
		}
	}
	u.runStart = m.clock.Now()
	pid, err := m.svdirSpawn(u, []string{svdirRunScript}, roleMain)
	if err != nil {
		m.svdirNotStarted(u, "cannot run ./run: "+err.Error())
		return
	}
	u.runErr = ""
	u.pid, u.lastPID, u.finishing, u.term, u.paused = pid, pid, false, false, false
	u.since, u.lastStart, u.result = u.runStart, u.runStart, ResultSuccess
	if u.invocation == (invocationID{}) || u.state.Active() == Inactive || u.state == Failed {
		u.invocation = newInvocationID()
	}
	m.svdirSettle(u)
	m.svdirStarted(u)
}

// svdirStarted finishes a start job once ./run was started, whatever
// ./run does next: a log/run that exits at once would otherwise keep
// its job, and the service ordered after it, waiting for a moment when
// it is seen running. Through the mailbox, so that the jobs it lets run
// do not start inside this one.
func (m *Manager) svdirStarted(u *svdirUnit) {
	j := u.job
	if j == nil || !j.running || !(j.kind == plan.Start || j.kind == plan.Restart && j.phase == 1) {
		return
	}
	m.box.put(evCall{done: make(chan struct{}), fn: func() {
		if u.job == j && j.running {
			m.jobs.fail(u.rt, "done", "")
		}
	}})
}

// svdirNotStarted handles a ./run that could not be started: said once
// per reason (not every second), ./finish, then the restart pause.
func (m *Manager) svdirNotStarted(u *svdirUnit, reason string) {
	if reason != u.runErr {
		m.event(u.rt, prioErr, "%s: %s; trying again every second", u.name, reason)
	}
	u.runErr = reason
	u.lastExit, u.exited = exitStatus{code: "exited", status: 111}, true
	u.result = ResultResources
	if !m.svdirFinish(u, svdir.FinishArgsNotStarted) {
		m.svdirEnded(u)
	}
	if j := u.job; j != nil && j.running && (j.kind == plan.Start || j.kind == plan.Restart) {
		m.jobs.fail(u.rt, "failed", u.name+": "+reason)
	}
}

// svdirSettle moves the unit to the state its processes and want make,
// and writes supervise/.
func (m *Manager) svdirSettle(u *svdirUnit) {
	s := Dead
	switch {
	case u.finishing:
		s = StopPost
	case u.pid != 0 && u.term && u.want != svdir.WantUp:
		s = StopSigterm
	case u.pid != 0 && u.isLog && u.exiting:
		s = Stop // reads its pipe to the end
	case u.pid != 0:
		s = Running
	case u.reason != "":
		s = Failed
	case u.state == AutoRestart && u.want == svdir.WantUp && !u.exiting:
		s = AutoRestart // a signal command during the pause does not end it
	}
	if s == Dead || s == Failed {
		u.out.drop() // no restart follows: the journal pipes may end
	}
	if s != u.state {
		m.setState(u.rt, s)
		if s == Stop {
			m.arm(u.rt, unit.DefaultTimeout)
		}
	}
	m.svdirWrite(u)
}

// supStatus is the unit as supervise/status says it.
func (u *svdirUnit) supStatus() svdir.Status {
	st := svdir.Status{Since: u.since, PID: u.pid, Paused: u.paused, Want: u.want, Term: u.term}
	switch {
	case u.finishing:
		st.State = svdir.StateFinish
	case u.pid != 0:
		st.State = svdir.StateRun
	}
	return st
}

func (m *Manager) svdirWrite(u *svdirUnit) {
	if u.sup == nil {
		return
	}
	if err := u.sup.Write(u.supStatus()); err != nil && !u.exiting {
		m.event(u.rt, prioWarn, "%s: %v", u.name, err)
	}
}

// svdirLetGo ends the supervision of a directory told to exit: its
// supervise/ is released (sv then says "runsv not running"), and the log
// service, once the main service is gone, reads end-of-file and ends.
func (m *Manager) svdirLetGo(u *svdirUnit) {
	m.svdirClose(u)
	if u.isLog {
		if u.pipe != nil {
			u.pipe.close()
			u.pipe = nil
		}
		p := m.svdirPeer(u)
		if p != nil {
			p.pipe = nil
		}
		if !u.removed && (p == nil || p.sup == nil && p.pid == 0 && !p.removed) {
			m.svdirRetake(p, u)
		}
		return
	}
	peer := m.svdirPeer(u)
	if u.cg != nil {
		// What ./run left behind (a backgrounded child) would hold the
		// log pipe, and the log service would wait for it forever. One
		// by one rather than cgroup.kill: after that, the kernel kills
		// every process later cloned into the group, and the directory
		// may be taken over again (sv exit) or come back under its name.
		for range 3 {
			pids, err := u.cg.PIDs()
			if err != nil || len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				_ = m.procs.kill(pid, syscall.SIGKILL)
			}
		}
	}
	if u.pipe != nil {
		u.pipe.closeWrite()
	}
	u.pipe = nil
	if peer != nil {
		// The log goes where its service goes: a directory gone (its
		// log/ may not be seen any more) or tend stopping takes both.
		peer.removed = peer.removed || u.removed
	}
	if peer != nil && !peer.exiting {
		peer.exiting = true
		peer.want = svdir.WantExit
		if peer.pid == 0 {
			m.svdirDown(peer)
		} else {
			m.svdirSettle(peer)
		}
		return
	}
	if !u.removed && (peer == nil || peer.sup == nil) {
		m.svdirRetake(u, peer)
	}
}

// svdirRetake takes a directory over again after sv exit, as runsvdir
// starts a new runsv for a directory whose runsv ended: supervise/ is
// taken again and the services start unless there is a down file.
// main or log may be nil.
func (m *Manager) svdirRetake(main, log *svdirUnit) {
	var start []string
	for _, u := range []*svdirUnit{log, main} {
		if u == nil || u.removed {
			continue
		}
		u.exiting, u.want = false, svdir.WantUp
		if !m.svdirOpen(u) {
			continue
		}
		m.svdirWrite(u)
		if u.want == svdir.WantUp {
			start = append(start, u.name)
		}
	}
	if len(start) > 0 {
		m.jobs.submitInternal(plan.Start, start, plan.Replace)
	}
}

func (u *svdirUnit) sub() string {
	switch u.state {
	case Running:
		return "run"
	case Stop:
		return "drain"
	case StopSigterm:
		return "run, got TERM"
	case StopPost:
		return "finish"
	case AutoRestart:
		return "restart-pause"
	}
	return u.state.String()
}

func (u *svdirUnit) status(st *Status) {
	if !u.finishing {
		st.MainPID = u.pid
	} else {
		st.ControlPID = u.pid
	}
	if u.ctl.pid != 0 {
		st.ControlPID = u.ctl.pid
	}
	st.ExecMainPID = u.lastPID
	if u.exited {
		st.ExecMainCode, st.ExecMainStat = u.lastExit.code, u.lastExit.status
	}
	st.StatusText = u.reason
	if st.StatusText == "" {
		st.StatusText = u.runErr
	}
	if st.StatusText == "" && u.sup != nil {
		st.StatusText = strings.TrimSuffix(u.supStatus().Stat(), "\n")
	}
}

func (u *svdirUnit) kill(m *Manager, who string, sig syscall.Signal) error {
	switch who {
	case "main":
		if u.pid == 0 {
			return fmt.Errorf("no main process to kill for %s", u.name)
		}
		return m.procs.kill(u.pid, sig)
	case "control":
		if u.ctl.pid == 0 {
			return fmt.Errorf("no control process to kill for %s", u.name)
		}
		return m.procs.kill(u.ctl.pid, sig)
	case "all", "":
		if u.cg != nil {
			return u.cg.Kill(sig)
		}
		for _, pid := range []int{u.pid, u.ctl.pid} {
			if pid != 0 {
				_ = m.procs.kill(pid, sig)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown kill target %q (want main, control or all)", who)
}

func (u *svdirUnit) resetFailed() { u.reason = "" }

// savedSvdir is what of a service directory outlives the manager;
// svdir_resume.go takes its processes and descriptors back.
type savedSvdir struct {
	Want     uint8     `json:"want"`
	PID      int       `json:"pid,omitempty"`
	PIDStart uint64    `json:"pid_start,omitempty"` // clock ticks after boot, to know the pid again without a cgroup
	Finish   bool      `json:"finishing,omitempty"`
	Term     bool      `json:"term,omitempty"`
	Paused   bool      `json:"paused,omitempty"`
	RunStart time.Time `json:"run_start,omitzero"`
	Since    time.Time `json:"since,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	LastPID  int       `json:"last_pid,omitempty"`
	LastCode string    `json:"last_code,omitempty"`
	LastStat int       `json:"last_status,omitempty"`
	Exiting  bool      `json:"exiting,omitempty"`
}

func (u *svdirUnit) save() (json.RawMessage, error) {
	s := savedSvdir{Want: uint8(u.want), PID: u.pid, PIDStart: u.pidStart.of(u.pid), Finish: u.finishing, Term: u.term,
		Paused: u.paused, RunStart: u.runStart, Since: u.since, Reason: u.reason, LastPID: u.lastPID, Exiting: u.exiting}
	if u.exited {
		s.LastCode, s.LastStat = u.lastExit.code, u.lastExit.status
	}
	return json.Marshal(s)
}

// restore takes back what was wanted and why the unit failed; the pid
// is only a record until resume adopted it.
func (u *svdirUnit) restore(data json.RawMessage) error {
	var s savedSvdir
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("service directory %s: %w", u.name, err)
	}
	u.want, u.since, u.reason, u.lastPID = svdir.Want(s.Want), s.Since, s.Reason, s.LastPID
	u.runStart, u.exiting = s.RunStart, s.Exiting
	if s.LastCode != "" {
		u.lastExit, u.exited = exitStatus{code: s.LastCode, status: s.LastStat}, true
	}
	u.saved = &s
	return nil
}

// finishArgs are ./finish's arguments for how ./run ended
// (svdir.FinishArgs, from the exit status tend keeps).
func finishArgs(st exitStatus) []string {
	switch st.code {
	case "exited":
		return []string{strconv.Itoa(st.status), "0"}
	case "dumped":
		return []string{"-1", strconv.Itoa(st.status | 0x80)}
	}
	return []string{"-1", strconv.Itoa(st.status)}
}

// svdirSpawner starts one program of a service directory; tests replace
// it (fakeProcs) to walk the states without processes.
type svdirSpawner interface {
	spawnSvdir(u *svdirUnit, argv []string, r role) (int, error)
}

func (m *Manager) svdirSpawn(u *svdirUnit, argv []string, r role) (int, error) {
	sp, ok := m.procs.(svdirSpawner)
	if !ok {
		return 0, errors.New("this manager cannot start service directories")
	}
	pid, err := sp.spawnSvdir(u, argv, r)
	if err == nil {
		m.pids[pid] = pidRef{u: u.rt, role: r}
	}
	return pid, err
}

// svdirDef is the definition Output needs: the journal reads output
// settings from a service section, which a directory does not have. It
// asks for one journal pipe, stdout's, which the process's stderr shares
// (spawnSvdir): runsv keeps no two streams apart either, and a thousand
// directories hold their pipes' ends across restarts.
func svdirDef(def *unit.Unit) *unit.Unit {
	d := *def
	d.Service = &unit.Service{Exec: unit.ExecContext{StandardError: "null"}}
	return &d
}
