package supervise

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// A socket unit across a re-exec or a crash (docs/design.md, "Crash and
// re-exec"). Across daemon-reexec its listeners are the unit's fd store:
// the same sockets, with the connections queued in them, so no client
// is refused; an Accept=yes instance keeps its connection the same way.
// After a crash the descriptors died with the manager: a listener that
// the activated service still holds is taken back from it
// (pidfd_getfd), or bound again once the service lets go of it; the
// others are bound again at once.

// socketResume is what restore read, until resume uses it once every
// unit is restored.
type socketResume struct {
	saved savedSocket
	files map[string]*os.File // listeners by key, handed back by a re-exec
}

// saveFDs names the listeners, which a re-exec keeps open.
func (s *socket) saveFDs() map[string]int {
	if len(s.bound) == 0 {
		return nil
	}
	fds := make(map[string]int, len(s.bound))
	for _, b := range s.bound {
		fds[b.Key] = int(b.File.Fd())
	}
	return fds
}

// restoreFDs takes the listeners back after a re-exec (before resume).
func (s *socket) restoreFDs(fds map[string]*os.File) {
	if s.resuming == nil {
		s.resuming = &socketResume{}
	}
	s.resuming.files = fds
}

// SavedTransient is what it takes to create a per-connection instance
// of an Accept=yes socket again: the plan does not hold it.
type SavedTransient struct {
	Owner string   `json:"owner"`
	Env   []string `json:"env,omitempty"`
	Peer  string   `json:"peer,omitempty"`
	Ended bool     `json:"ended,omitempty"`
}

// save records t, and its connection as the instance's fd store.
func (t *transientRef) save() (*SavedTransient, map[string]int) {
	st := &SavedTransient{Owner: t.owner.name, Env: t.env, Ended: t.ended}
	if t.peer.IsValid() {
		st.Peer = t.peer.String()
	}
	if t.ended || t.conn == nil {
		return st, nil
	}
	return st, map[string]int{"connection": int(t.conn.Fd())}
}

// restoreInstance creates an Accept=yes instance again under the
// socket that accepted its connection, and adopts its processes as a
// service's. The socket must be restored already.
func (m *Manager) restoreInstance(su SavedUnit, inherited bool, fds map[string]*os.File) (*service, bool) {
	conn := fds["connection"]
	owner := m.units[su.Transient.Owner]
	var sock *socket
	if owner != nil {
		sock, _ = owner.eng.(*socket)
	}
	fail := func(why string) (*service, bool) {
		if conn != nil {
			conn.Close()
		}
		m.opts.Logger.Warn("per-connection instance from the saved state not restored; its processes are left alone",
			"unit", su.Name, "reason", why)
		return nil, false
	}
	switch {
	case sock == nil:
		return fail("its socket " + su.Transient.Owner + " is not restored")
	case m.opts.LoadUnit == nil:
		return fail("no template loader")
	case m.units[su.Name] != nil:
		return fail("a unit of that name exists")
	}
	def, err := m.opts.LoadUnit(su.Name)
	if err != nil {
		return fail(err.Error())
	}
	peer, _ := netip.ParseAddr(su.Transient.Peer)
	u := &rt{name: def.Name, def: def, state: Dead, triggeredBy: owner.name,
		transient: &transientRef{owner: owner, conn: conn, env: su.Transient.Env, peer: peer, ended: su.Transient.Ended}}
	u.eng = newEngine(u)
	if err := m.restoreUnit(u, su); err != nil {
		return fail(err.Error())
	}
	svc, ok := u.eng.(*service)
	if !ok || u.state == Dead {
		return fail("not a running service")
	}
	m.units[u.name] = u
	m.noteInstance(u.name, owner.name)
	m.resumeService(svc, su.Engine, inherited)
	return svc, true
}

// resume takes back what a socket owns beyond its counters, once every
// unit is restored (its service's main pid is adopted by then):
// listeners, control process, instances, the trigger-limit hold.
func (s *socket) resume(m *Manager, inherited bool) {
	r := s.resuming
	s.resuming = nil
	if r == nil {
		r = &socketResume{}
	}
	defer func() {
		for _, f := range r.files { // listeners the unit no longer has
			f.Close()
		}
	}()
	spec, _, ok := activate.ParseSpec(s.def, m.opts.SpecifierEnv)
	s.recount(m, ok && spec.Internal != "")
	switch s.state {
	case Dead:
		return
	case Failed:
		if at := r.saved.HeldUntil; !at.IsZero() {
			s.held = true
			m.setAlarm(s.rt, at)
		}
		return
	}
	if !ok {
		m.event(s.rt, prioErr, "%s: the unit's [Socket] section is not usable any more; stopping.", s.name)
		s.reason, s.rt.result = "the unit's [Socket] section is not usable (see its load warnings)", ResultResources
		m.setState(s.rt, Failed)
		return
	}
	s.spec = spec
	s.cmds = s.phaseCommands()
	complete := s.adoptKept(r.files)
	switch s.state {
	case Running:
		if !complete && !inherited {
			s.adoptKept(s.fromService(m, r.saved.Inodes))
			complete = len(s.bound) == len(spec.Listen)
		}
		// What the service holds stays its own: bind the rest only
		// once it lets go, and ask now whether it already has.
		s.lost = !complete
		if v := m.units[spec.Service]; v != nil {
			m.box.put(evKind{u: s.rt, ev: triggeredChanged{u: v}})
		}
	case StartPost, Listening, StopPre:
		if !complete {
			if err := s.reopen(m); err != nil {
				m.event(s.rt, prioErr, "%s: Failed to create listening socket (%v).", s.name, err)
				if s.state != StopPre {
					s.reason = err.Error()
					s.enterStopPre(m, ResultResources)
					return
				}
			}
		}
	}
	switch s.state {
	case Listening:
		s.enterListening(m)
	case StartPre, StartPost, StopPre, StopPost:
		s.resumeControl(m, inherited)
	}
}

// recount makes the connection counts agree with what survived: the
// instances restored, and no built-in connection (those ran in the old
// process and ended with it).
func (s *socket) recount(m *Manager, builtin bool) {
	s.perSource = nil
	if builtin {
		s.nConnections = 0
		return
	}
	var live []string
	var n uint64
	for _, name := range s.instances {
		u := m.units[name]
		if u == nil || u.transient == nil || u.transient.owner != s.rt {
			continue
		}
		live = append(live, name)
		if t := u.transient; !t.ended {
			n++
			if t.peer.IsValid() {
				if s.perSource == nil {
					s.perSource = map[netip.Addr]int{}
				}
				s.perSource[t.peer]++
			}
		}
	}
	s.instances, s.nConnections = live, n
}

// phaseCommands is the command list of s's state.
func (s *socket) phaseCommands() []unit.Command {
	switch s.state {
	case StartPre:
		return s.spec.ExecStartPre
	case StartPost:
		return s.spec.ExecStartPost
	case StopPre:
		return s.spec.ExecStopPre
	case StopPost:
		return s.spec.ExecStopPost
	}
	return nil
}

// adoptKept takes the listeners of files (by key) that s's definition
// still has into s.bound, in the definition's order, and reports
// whether s has every listener now.
func (s *socket) adoptKept(files map[string]*os.File) bool {
	have := map[string]*activate.Bound{}
	for _, b := range s.bound {
		have[b.Key] = b
	}
	var bound []*activate.Bound
	for _, l := range s.spec.Listen {
		k := s.spec.Key(l)
		if b := have[k]; b != nil {
			bound = append(bound, b)
			continue
		}
		if f := files[k]; f != nil {
			delete(files, k)
			if s.ownsFlags() {
				f = plainFile(f)
			}
			bound = append(bound, &activate.Bound{Listener: l, File: f, Key: k})
		}
	}
	s.bound = bound
	if s.ownsFlags() {
		for _, b := range bound {
			_ = unix.SetNonblock(int(b.File.Fd()), true)
		}
	}
	return len(bound) == len(s.spec.Listen)
}

// ownsFlags: tend itself reads these listeners, non-blocking; no
// service shares them.
func (s *socket) ownsFlags() bool { return s.spec.Accept || s.spec.Internal != "" }

// plainFile gives f back as a file Go's poller does not watch. A
// descriptor handed over non-blocking would be registered with the
// poller by os.NewFile, which costs a wake-up per connection; tend
// watches its listeners itself (fdwatch.go).
func plainFile(f *os.File) *os.File {
	fd := int(f.Fd())
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		return f
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return f
	}
	name := f.Name()
	f.Close()
	_ = unix.SetNonblock(nfd, false) // set again by whoever reads it
	return os.NewFile(uintptr(nfd), name)
}

// reopen binds the listeners s lacks, keeping those it has.
func (s *socket) reopen(m *Manager) error {
	own, err := socketOwner(s.spec)
	if err != nil {
		return err
	}
	keep := map[string]*activate.Bound{}
	for _, b := range s.bound {
		keep[b.Key] = b
	}
	bound, err := s.spec.Open(own, keep)
	if err != nil {
		for _, b := range keep {
			b.File.Close()
		}
		s.bound = nil
		return err
	}
	s.bound = bound
	if s.ownsFlags() {
		for _, b := range bound {
			_ = unix.SetNonblock(int(b.File.Fd()), true)
		}
	}
	if err := s.spec.LinkSymlinks(); err != nil {
		m.event(s.rt, prioWarn, "%s: Symlinks=: %v", s.name, err)
	}
	return nil
}

// bindLost binds, when the socket listens again, the listeners a crash
// took from it and its service has let go of; a failure stops the
// socket with the reason.
func (s *socket) bindLost(m *Manager) bool {
	s.lost = false
	if err := s.reopen(m); err != nil {
		m.event(s.rt, prioErr, "%s: Failed to create listening socket (%v).", s.name, err)
		s.reason = err.Error()
		s.enterStopPre(m, ResultResources)
		return false
	}
	return true
}

// fromService takes back, after a crash, the listeners that the
// socket's service still holds (it got them as LISTEN_FDS): the same
// sockets, found by inode among the descriptors of the service's
// processes and duplicated with pidfd_getfd(2), so the queue and the
// address stay as they were.
func (s *socket) fromService(m *Manager, inodes map[string]uint64) map[string]*os.File {
	if len(inodes) == 0 {
		return nil
	}
	v := m.units[s.spec.Service]
	if v == nil {
		return nil
	}
	svc, ok := v.eng.(*service)
	if !ok {
		return nil
	}
	pids := []int{svc.mainPID}
	if svc.cg != nil {
		more, _ := svc.cg.PIDs()
		pids = append(pids, more...)
	}
	want := map[uint64]string{}
	for k, ino := range inodes {
		want[ino] = k
	}
	got := map[string]*os.File{}
	for _, pid := range pids {
		if pid <= 0 || len(want) == 0 {
			continue
		}
		grabSockets(pid, want, got)
	}
	return got
}

// grabSockets duplicates from pid the sockets whose inodes want names,
// moving each found from want to got.
func grabSockets(pid int, want map[uint64]string, got map[string]*os.File) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(pidfd)
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
		key, ok := want[ino]
		if err != nil || !ok {
			continue
		}
		target, _ := strconv.Atoi(e.Name())
		nfd, err := unix.PidfdGetfd(pidfd, target, 0) // close-on-exec
		if err != nil {
			continue
		}
		f := os.NewFile(uintptr(nfd), key)
		if inode(f) != ino { // the descriptor changed meanwhile
			f.Close()
			continue
		}
		got[key] = f
		delete(want, ino)
	}
}

// inode is the inode number of f, or 0.
func inode(f *os.File) uint64 {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return 0
	}
	return st.Ino
}

// resumeControl takes back the control process of a phase under way,
// if it is still the unit's; otherwise the phase ends with an exit
// whose status is unknown.
func (s *socket) resumeControl(m *Manager, inherited bool) {
	pid := s.controlPID
	s.controlPID = 0
	if pid != 0 {
		if err := m.prepare(s.rt); err != nil {
			m.event(s.rt, prioErr, "%s: %v", s.name, err)
		}
	}
	ok := pid != 0 && ((inherited && m.isChild(pid)) || (s.cg != nil && s.cg.Contains(pid)))
	if ok && m.opts.Reaper != nil {
		ok = m.opts.Reaper.Watch(pid, func(e reaper.Exit) { m.box.put(evExit{exit: e}) }) == nil
	}
	if ok {
		s.controlPID = pid
		m.pids[pid] = pidRef{u: s.rt, role: roleControl}
		timeout := 90 * time.Second // systemd's default TimeoutSec=
		if s.spec != nil {
			timeout = s.spec.Timeout
		}
		m.arm(s.rt, timeout)
		return
	}
	m.event(s.rt, prioWarn, "%s: Control process %s ended while the manager was down; its exit status is unknown.", s.name, pidText(pid))
	m.postState(s.rt, procExit{role: roleControl, st: exitStatus{code: codeUnknown}})
}

func pidText(pid int) string {
	if pid == 0 {
		return "(none)"
	}
	return fmt.Sprint(pid)
}
