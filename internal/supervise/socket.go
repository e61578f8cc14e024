package supervise

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// socket is the engine of .socket units (systemd.socket(5)). Its states
// are systemd's socket states: dead, start-pre, start-post, listening,
// running (Accept=no: the activated service is up and owns the
// listeners), stop-pre, stop-post and failed. The listeners are bound
// between start-pre and start-post and closed on entering stop-post;
// in between they belong to the unit, whatever its service does, so a
// service that restarts or crashes never makes a client see a refused
// connection. Accepting connections (socket_accept.go) and the inetd
// built-ins (socket_builtin.go) live beside this file.
type socket struct {
	*rt

	spec  *activate.Spec // what the unit said when it was last started
	bound []*activate.Bound

	controlPID int
	cmds       []unit.Command
	cmdIdx     int
	timedOut   bool   // the control process was killed at its deadline
	result     Result // how the stop under way ends (success or the failure)
	reason     string // why the unit last failed, for status

	// trigger limit: starts (Accept=no) or connections (Accept=yes)
	// counted in the window that began at trigWindow.
	trigWindow time.Time
	trigCount  int
	held       bool // waiting for X-Tend-TriggerLimitHoldSec to pass

	nAccepted, nConnections, nRefused uint64
	perSource                         map[netip.Addr]int
	instances                         []string // Accept=yes: the live instances, oldest first
	builtin                           *builtinServer

	resuming *socketResume // what restore read, until resume takes it (socket_reexec.go)
	lost     bool          // listeners a crash took, to bind when listening again
}

func (s *socket) sub() string { return s.state.String() }

func (s *socket) start(m *Manager) {
	switch {
	case s.state == Listening || s.state == Running || s.state == StartPre || s.state == StartPost:
		m.jobs.unitChanged(s.rt)
		return
	case s.state == StopPre || s.state == StopPost:
		s.startAfterStop = true
		return
	}
	s.stopIntent, s.skipped, s.conditionFailed = false, false, ""
	if !m.checkConditions(s.rt) {
		return
	}
	if !m.checkStartLimit(s.rt) {
		m.event(s.rt, prioWarn, "%s: Start request repeated too quickly.", s.name)
		s.fail(m, ResultStartLimitHit, "start request repeated too quickly")
		return
	}
	spec, _, ok := activate.ParseSpec(s.def, m.opts.SpecifierEnv)
	if !ok {
		s.fail(m, ResultResources, "the unit's [Socket] section is not usable (see its load warnings)")
		return
	}
	if err := m.checkActivates(s.rt, spec); err != nil {
		m.event(s.rt, prioErr, "%s: %v", s.name, err)
		s.fail(m, ResultResources, err.Error())
		return
	}
	s.spec, s.result, s.reason, s.held = spec, ResultSuccess, "", false
	s.rt.result = ResultSuccess
	s.invocation = newInvocationID()
	s.trigWindow, s.trigCount = time.Time{}, 0
	s.runControl(m, StartPre, spec.ExecStartPre)
}

// fail ends a start that never bound anything.
func (s *socket) fail(m *Manager, r Result, reason string) {
	s.rt.result, s.reason = r, reason
	m.event(s.rt, prioWarn, "%s: Failed with result '%s'.", s.name, r)
	m.setState(s.rt, Failed)
}

// checkActivates refuses a socket whose service cannot exist, as
// systemd refuses to start it: Service= (or NAME.service) must be
// loaded; for Accept=yes the template must have a file.
func (m *Manager) checkActivates(u *rt, spec *activate.Spec) error {
	if spec.Internal != "" {
		return nil
	}
	if spec.Accept {
		if m.opts.LoadUnit == nil {
			return fmt.Errorf("cannot start per-connection instances of %s here", spec.Service)
		}
		def, err := m.opts.LoadUnit(spec.Service)
		if err == nil && def.Load != unit.Loaded {
			err = fmt.Errorf("%s", def.Load)
		}
		if err != nil {
			return fmt.Errorf("template %s for Accept=yes is not loaded (%v), refusing", spec.Service, err)
		}
		return nil
	}
	def, ok := m.plan.Unit(spec.Service)
	if !ok || def.Load != unit.Loaded || def.Service == nil {
		return fmt.Errorf("socket service %s not loaded, refusing", spec.Service)
	}
	return nil
}

func (s *socket) stop(m *Manager) {
	switch s.state {
	case Dead, Failed:
		m.jobs.unitChanged(s.rt)
	case StopPre, StopPost:
		s.startAfterStop = false
	case StartPre, StartPost:
		// As systemd: a start under way is cut short — its control
		// process is killed and ExecStopPre= skipped. Its exit, when it
		// comes, is no longer the unit's to wait for.
		if s.controlPID != 0 {
			_ = m.procs.kill(s.controlPID, syscall.SIGTERM)
			s.controlPID = 0
		}
		s.result = ResultSuccess
		s.enterStopPost(m)
	default:
		s.enterStopPre(m, ResultSuccess)
	}
}

func (s *socket) reload(m *Manager) {
	m.jobs.fail(s.rt, "failed", "Job type reload is not applicable for unit "+s.name+".")
}

func (s *socket) event(m *Manager, ev unitEvent) {
	switch e := ev.(type) {
	case procExit:
		if e.pid != 0 && e.pid != s.controlPID {
			return
		}
		s.controlPID = 0
		s.controlDone(m, e.st)
	case deadline:
		if s.controlPID != 0 {
			m.event(s.rt, prioWarn, "%s: %s operation timed out. Terminating.", s.name, s.state)
			s.timedOut = true
			_ = m.procs.kill(s.controlPID, syscall.SIGKILL)
		}
	case readable:
		s.onReadable(m, e.fd)
	case triggeredChanged:
		s.onServiceChanged(m, e.u)
	case instanceEnded:
		s.onInstanceEnded(m, e.u)
	case builtinDone:
		s.nConnections--
		s.release(e.peer)
	case alarm:
		if s.held && s.state == Failed {
			m.event(s.rt, prioInfo, "%s: trigger limit hold over, listening again.", s.name)
			s.held = false
			m.start(s.rt)
		}
	}
}

// runControl enters state st and runs cmds one after another.
func (s *socket) runControl(m *Manager, st SubState, cmds []unit.Command) {
	m.setState(s.rt, st)
	s.cmds, s.cmdIdx, s.timedOut = cmds, 0, false
	if len(cmds) == 0 {
		s.phaseDone(m)
		return
	}
	m.arm(s.rt, s.spec.Timeout) // cmds come from s.spec
	s.spawnNext(m)
}

func (s *socket) spawnNext(m *Manager) {
	cmd := s.cmds[s.cmdIdx]
	spawnFn := m.spawnSocketCmd
	if sp, ok := m.procs.(socketSpawner); ok {
		spawnFn = sp.spawnSocket
	}
	pid, err := spawnFn(s, cmd)
	if err != nil {
		m.event(s.rt, prioErr, "%s: Failed to run '%s': %v", s.name, cmdName(cmd), err)
		code := spawn.ExitExec
		var se *spawn.SetupError
		if errors.As(err, &se) {
			code = se.Status // 217/USER, 200/CHDIR, …
		}
		s.controlDone(m, exitStatus{code: "exited", status: code})
		return
	}
	s.controlPID = pid
	m.pids[pid] = pidRef{u: s.rt, role: roleControl}
}

// controlDone continues after a control process ended.
func (s *socket) controlDone(m *Manager, st exitStatus) {
	cmd := unit.Command{}
	if s.cmdIdx < len(s.cmds) {
		cmd = s.cmds[s.cmdIdx]
	}
	ok := st.code == "exited" && st.status == 0 || cmd.IgnoreFailure
	if !ok || s.timedOut {
		r := ResultExitCode
		switch {
		case s.timedOut:
			r = ResultTimeout
		case st.code != "exited":
			r = ResultSignal
		}
		m.event(s.rt, prioWarn, "%s: Control process exited, %s", s.name, st)
		s.controlFailed(m, r)
		return
	}
	s.cmdIdx++
	if s.cmdIdx < len(s.cmds) {
		s.spawnNext(m)
		return
	}
	s.phaseDone(m)
}

// controlFailed leaves a phase whose command failed, as socket.c does.
func (s *socket) controlFailed(m *Manager, r Result) {
	s.reason = fmt.Sprintf("%s failed (%s)", s.state, r)
	switch s.state {
	case StartPre:
		s.result = r
		s.enterStopPost(m)
	case StartPost:
		s.enterStopPre(m, r)
	case StopPre:
		if s.result == ResultSuccess {
			s.result = r
		}
		s.enterStopPost(m)
	case StopPost:
		if s.result == ResultSuccess {
			s.result = r
		}
		s.enterDead(m)
	}
}

func (s *socket) phaseDone(m *Manager) {
	switch s.state {
	case StartPre:
		if err := s.open(m); err != nil {
			m.event(s.rt, prioErr, "%s: Failed to create listening socket (%v).", s.name, err)
			s.reason, s.result = err.Error(), ResultResources
			s.enterStopPost(m)
			return
		}
		s.runControl(m, StartPost, s.spec.ExecStartPost)
	case StartPost:
		s.enterListening(m)
	case StopPre:
		s.enterStopPost(m)
	case StopPost:
		s.enterDead(m)
	}
}

// open binds every listener, keeping those a reload carried over.
func (s *socket) open(m *Manager) error {
	own, err := socketOwner(s.spec)
	if err != nil {
		return err
	}
	bound, err := s.spec.Open(own, nil)
	if err != nil {
		return err
	}
	s.bound = bound
	if s.spec.Accept || s.spec.Internal != "" {
		// tend itself reads these: never block the loop.
		for _, b := range bound {
			_ = unix.SetNonblock(int(b.File.Fd()), true)
		}
	}
	if err := s.spec.LinkSymlinks(); err != nil {
		m.event(s.rt, prioWarn, "%s: Symlinks=: %v", s.name, err)
	}
	return nil
}

// socketOwner resolves SocketUser= and SocketGroup=.
func socketOwner(spec *activate.Spec) (activate.Owner, error) {
	own := activate.NoOwner
	if spec.SocketUser != "" {
		u, err := spawn.LookupUser(spec.SocketUser)
		if err != nil {
			return own, fmt.Errorf("SocketUser=%s: %w", spec.SocketUser, err)
		}
		own.UID = u.UID
		if spec.SocketGroup == "" {
			own.GID = u.GID
		}
	}
	if spec.SocketGroup != "" {
		g, err := spawn.LookupGroup("/etc", spec.SocketGroup)
		if err != nil {
			return own, fmt.Errorf("SocketGroup=%s: %w", spec.SocketGroup, err)
		}
		own.GID = g
	}
	return own, nil
}

// enterListening watches the listeners (or serves a built-in).
func (s *socket) enterListening(m *Manager) {
	if s.lost && !s.bindLost(m) {
		return
	}
	if s.state != Listening {
		m.setState(s.rt, Listening)
	}
	if s.spec.Internal != "" {
		if s.builtin == nil {
			s.builtin = newBuiltinServer(m, s)
		}
	}
	for _, b := range s.bound {
		if err := m.watchFD(s.rt, int(b.File.Fd())); err != nil {
			m.event(s.rt, prioErr, "%s: cannot watch %s: %v", s.name, b.Listener.Name(), err)
		}
	}
}

func (s *socket) unwatchAll(m *Manager) {
	for _, b := range s.bound {
		m.unwatchFD(int(b.File.Fd()))
	}
}

func (s *socket) enterStopPre(m *Manager, r Result) {
	s.unwatchAll(m)
	s.stopBuiltin()
	if r != ResultSuccess {
		s.result = r
		if s.reason == "" {
			s.reason = string(r)
		}
	} else {
		s.result = ResultSuccess
	}
	var cmds []unit.Command
	if s.spec != nil {
		cmds = s.spec.ExecStopPre
	}
	s.runControl(m, StopPre, cmds)
}

// enterStopPost closes the listeners, then runs ExecStopPost=.
func (s *socket) enterStopPost(m *Manager) {
	s.closeAll(m)
	var cmds []unit.Command
	if s.spec != nil {
		cmds = s.spec.ExecStopPost
	}
	s.runControl(m, StopPost, cmds)
}

func (s *socket) closeAll(m *Manager) {
	s.unwatchAll(m)
	s.stopBuiltin()
	shut := s.spec != nil && !s.serviceMayHold(m)
	for _, b := range s.bound {
		if shut {
			// The fd holder keeps a copy of each listener and drops it
			// asynchronously: shutting the socket itself down refuses
			// connections at once, whoever still has a descriptor of it.
			_ = unix.Shutdown(int(b.File.Fd()), unix.SHUT_RD)
		}
		b.File.Close()
	}
	s.bound = nil
	if s.spec != nil {
		s.spec.Cleanup()
	}
}

// serviceMayHold says whether a process of the activated service may
// have a descriptor of the listeners: an Accept=no service that is not
// down. As in systemd, such a service keeps accepting after its socket
// unit stopped, so the listeners are then only closed, not shut down.
func (s *socket) serviceMayHold(m *Manager) bool {
	if s.spec.Accept {
		return false
	}
	v, err := m.lookup(s.spec.Service)
	if err != nil {
		return false
	}
	return v.state != Dead && v.state != Failed
}

func (s *socket) enterDead(m *Manager) {
	s.rt.result = s.result
	if s.result != ResultSuccess {
		m.event(s.rt, prioWarn, "%s: Failed with result '%s'.", s.name, s.result)
		m.setState(s.rt, Failed)
		if s.result == ResultTriggerLimitHit && s.spec != nil && s.spec.TriggerLimitHold > 0 {
			s.held = true
			m.setAlarm(s.rt, m.clock.Now().Add(s.spec.TriggerLimitHold))
		}
	} else {
		m.setState(s.rt, Dead)
	}
	if s.startAfterStop {
		s.startAfterStop = false
		m.start(s.rt)
	}
}

// socketSpawner is what tests give the manager (as m.procs) to walk a
// socket's states without processes.
type socketSpawner interface {
	spawnSocket(s *socket, cmd unit.Command) (int, error)
}

// spawnSocketCmd runs one of ExecStartPre= … ExecStopPost= as the
// socket's control process, with the exec settings of its [Socket]
// section (User=, Environment=, WorkingDirectory=, …) and its output in
// the journal under the socket's name.
func (m *Manager) spawnSocketCmd(s *socket, cmd unit.Command) (int, error) {
	if err := m.prepare(s.rt); err != nil {
		return 0, err
	}
	env := append([]string{}, m.opts.BaseEnv...)
	env = append(env, "INVOCATION_ID="+s.invocation.String())
	ec := s.spec.Exec // set: the spec has commands to run
	spec := spawn.Spec{Unit: s.name, Command: cmd, Exec: ec, Env: env, Cgroup: s.cg, Dirs: m.opts.Dirs, SelfExe: m.opts.SelfExe, Forker: m.opts.Forker, Accounts: m.accounts}
	var out Output
	if m.opts.Logs != nil {
		def := *s.def
		def.Service = &unit.Service{Exec: *ec} // the journal reads StandardOutput= and friends here
		var err error
		if out, err = m.opts.Logs.Output(&def, cmd); err != nil {
			return 0, err
		}
		spec.Stdout, spec.Stderr = out.Stdout, out.Stderr
	}
	pid, err := m.startProcess(spec)
	closeOutput(out)
	if out.SetPID != nil {
		out.SetPID(pid)
	}
	return pid, err
}

func (s *socket) status(st *Status) {
	st.ControlPID = s.controlPID
	st.NAccepted, st.NConnections, st.NRefused = s.nAccepted, s.nConnections, s.nRefused
	if s.state == Failed {
		st.StatusText = s.reason
	}
	spec := s.spec
	if spec == nil || s.state == Dead || s.state == Failed {
		spec, _, _ = activate.ParseSpec(s.def, nil)
	}
	for _, l := range spec.Listen {
		st.Listen = append(st.Listen, Listen{Kind: l.Kind(), Address: l.Name()})
	}
	st.Triggers = s.instances
}

func (s *socket) kill(m *Manager, who string, sig syscall.Signal) error {
	switch who {
	case "main":
		return fmt.Errorf("no main process to kill for %s", s.name)
	case "control":
		if s.controlPID == 0 {
			return fmt.Errorf("no control process to kill for %s", s.name)
		}
		return m.procs.kill(s.controlPID, sig)
	case "all", "":
		if s.cg != nil {
			return s.cg.Kill(sig)
		}
		if s.controlPID != 0 {
			return m.procs.kill(s.controlPID, sig)
		}
		return nil
	}
	return fmt.Errorf("unknown kill target %q (want main, control or all)", who)
}

func (s *socket) resetFailed() { s.held = false }

// savedSocket is what of a socket outlives the manager. The listeners
// themselves (and Accept=yes connections) outlive a re-exec as the
// unit's fd store (saveFDs, socket_reexec.go); here they are named by
// key, and their inodes let a manager started after a crash find them
// in the service that holds them.
type savedSocket struct {
	Listeners    []string          `json:"listeners,omitempty"`
	Inodes       map[string]uint64 `json:"inodes,omitempty"` // by key
	NAccepted    uint64            `json:"n_accepted,omitempty"`
	NConnections uint64            `json:"n_connections,omitempty"`
	NRefused     uint64            `json:"n_refused,omitempty"`
	ControlPID   int               `json:"control_pid,omitempty"`
	CmdIdx       int               `json:"cmd_idx,omitempty"`
	Result       Result            `json:"result,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	TrigWindow   time.Time         `json:"trig_window,omitzero"`
	TrigCount    int               `json:"trig_count,omitempty"`
	HeldUntil    time.Time         `json:"held_until,omitzero"`
	Instances    []string          `json:"instances,omitempty"`
}

func (s *socket) save() (json.RawMessage, error) {
	v := savedSocket{NAccepted: s.nAccepted, NConnections: s.nConnections, NRefused: s.nRefused,
		ControlPID: s.controlPID, CmdIdx: s.cmdIdx, Result: s.result, Reason: s.reason,
		TrigWindow: s.trigWindow, TrigCount: s.trigCount, Instances: s.instances}
	if s.held && s.alarm != nil {
		v.HeldUntil = s.alarm.at
	}
	for _, b := range s.bound {
		v.Listeners = append(v.Listeners, b.Key)
		if ino := inode(b.File); ino != 0 {
			if v.Inodes == nil {
				v.Inodes = map[string]uint64{}
			}
			v.Inodes[b.Key] = ino
		}
	}
	return json.Marshal(v)
}

// restore reads the counters and the phase back; the listeners, the
// control process and the instances are taken back by resume
// (socket_reexec.go), once every unit is restored.
func (s *socket) restore(data json.RawMessage) error {
	var v savedSocket
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("socket %s: %w", s.name, err)
	}
	s.nAccepted, s.nConnections, s.nRefused = v.NAccepted, v.NConnections, v.NRefused
	s.controlPID, s.cmdIdx, s.result, s.reason = v.ControlPID, v.CmdIdx, v.Result, v.Reason
	s.trigWindow, s.trigCount = v.TrigWindow, v.TrigCount
	s.instances = v.Instances
	s.resuming = &socketResume{saved: v}
	return nil
}

// Listen is one listener of a socket unit, as status and list-sockets
// show it.
type Listen struct {
	Kind    string // Stream, Datagram, SequentialPacket, FIFO, Special, Netlink
	Address string
}

func (l Listen) String() string { return l.Address + " (" + l.Kind + ")" }

// fileNames is LISTEN_FDNAMES' part for the listeners of s.
func (s *socket) fileNames() []string {
	out := make([]string, len(s.bound))
	for i := range out {
		out[i] = strings.ReplaceAll(s.spec.FileDescriptorName, ":", "_")
	}
	return out
}

func (s *socket) files() []*os.File {
	out := make([]*os.File, len(s.bound))
	for i, b := range s.bound {
		out[i] = b.File
	}
	return out
}
