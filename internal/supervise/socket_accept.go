package supervise

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// How a socket unit activates: Accept=no starts its service on the
// first readable event and hands it the listeners; Accept=yes accepts
// each connection itself and starts one instance of the template per
// connection, a transient unit the plan does not know.

// Socket events.
type (
	// triggeredChanged: u, a service this socket activates, changed state.
	triggeredChanged struct{ u *rt }
	// instanceEnded: u, a per-connection instance of this socket, ended.
	instanceEnded struct{ u *rt }
	// builtinDone: a connection to an in-process built-in ended.
	builtinDone struct{ peer netip.Addr }
)

// acceptBatch bounds the connections taken per readable event, so that a
// flood on one socket leaves the loop to others between batches.
const acceptBatch = 32

func (s *socket) onReadable(m *Manager, fd int) {
	if s.state != Listening || s.bound == nil {
		return // stale: the socket is stopping, or its service owns it
	}
	switch {
	case s.builtin != nil && s.isDatagram(fd):
		s.builtin.datagram(m, fd)
		_ = m.watchFD(s.rt, fd)
	case s.spec.Accept || s.builtin != nil:
		s.acceptAll(m, fd)
	default:
		s.activate(m)
	}
}

// triggerAllowed counts one trigger against TriggerLimitIntervalSec= and
// TriggerLimitBurst=; zero for either disables the limit.
func (s *socket) triggerAllowed(m *Manager) bool {
	sp := s.spec
	if sp.TriggerLimitInterval <= 0 || sp.TriggerLimitBurst <= 0 {
		return true
	}
	now := m.clock.Now()
	if s.trigWindow.IsZero() || now.Sub(s.trigWindow) >= sp.TriggerLimitInterval {
		s.trigWindow, s.trigCount = now, 0
	}
	s.trigCount++
	if s.trigCount <= sp.TriggerLimitBurst {
		return true
	}
	m.event(s.rt, prioWarn, "%s: Trigger limit hit, refusing further activation.", s.name)
	s.reason = "trigger limit hit"
	s.enterStopPre(m, ResultTriggerLimitHit)
	return false
}

// activate starts the service of an Accept=no socket, which takes over
// the listeners until it stops.
func (s *socket) activate(m *Manager) {
	if !s.triggerAllowed(m) {
		return
	}
	s.unwatchAll(m)
	if err := m.trigger(s.rt, s.spec.Service); err != nil {
		s.reason = err.Error()
		s.enterStopPre(m, ResultResources)
		return
	}
	m.setState(s.rt, Running)
}

// onServiceChanged follows the activated service, as systemd's
// socket_trigger_notify: the socket listens again once the service is
// down with no job pending, and steps aside when it runs.
func (s *socket) onServiceChanged(m *Manager, u *rt) {
	if s.spec == nil || s.spec.Accept || (s.state != Listening && s.state != Running) {
		return
	}
	if u.state == Failed && u.result == ResultStartLimitHit {
		s.reason = u.name + " hit its start limit"
		s.enterStopPre(m, ResultServiceStartLimitHit)
		return
	}
	if u.job != nil {
		return
	}
	switch u.state {
	case Dead, Failed, FinalSigterm, FinalSigkill, AutoRestart:
		if s.state == Running {
			s.enterListening(m)
		}
	case Running:
		if s.state == Listening {
			s.unwatchAll(m)
			m.setState(s.rt, Running)
		}
	}
}

// noteTriggered tells the sockets of u that u changed state: the socket
// that accepted u's connection, or those that activate u. setState
// calls it.
func (m *Manager) noteTriggered(u *rt) {
	if t := u.transient; t != nil && (u.state == Dead || u.state == Failed) {
		m.box.put(evKind{u: t.owner, ev: instanceEnded{u: u}})
		return
	}
	if m.plan == nil {
		return
	}
	for _, name := range m.plan.Reverse(u.name).TriggeredBy {
		if v := m.units[name]; v != nil {
			switch v.eng.(type) {
			case *socket, *timer:
				m.box.put(evKind{u: v, ev: triggeredChanged{u: u}})
			}
		}
	}
}

// acceptAll accepts what is queued (up to a batch) and watches for more.
func (s *socket) acceptAll(m *Manager, fd int) {
	for range acceptBatch {
		nfd, c, err := activate.Accept(fd)
		if errors.Is(err, unix.ECONNABORTED) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				m.event(s.rt, prioErr, "%s: accept: %v", s.name, err)
			}
			break
		}
		s.admit(m, nfd, c)
		if s.state != Listening {
			return
		}
	}
	_ = m.watchFD(s.rt, fd)
}

// admit checks a new connection against IPAddressAllow=/Deny=,
// MaxConnections= and MaxConnectionsPerSource= and hands it to its
// instance or built-in.
func (s *socket) admit(m *Manager, nfd int, c activate.Conn) {
	peer := c.Remote.Addr().Unmap()
	sp := s.spec
	switch {
	case c.IP && !activate.Allowed(peer, sp.IPAddressAllow, sp.IPAddressDeny):
		s.refuse(m, nfd, "peer "+peer.String()+" is not allowed (IPAddressAllow=/IPAddressDeny=)")
		return
	case s.nConnections >= uint64(sp.MaxConnections):
		s.refuse(m, nfd, "too many incoming connections ("+strconv.FormatUint(s.nConnections, 10)+")")
		return
	case c.IP && sp.MaxConnectionsPerSource > 0 && s.perSource[peer] >= sp.MaxConnectionsPerSource:
		s.refuse(m, nfd, "too many connections from "+peer.String())
		return
	}
	if !s.triggerAllowed(m) {
		unix.Close(nfd)
		return
	}
	conn := os.NewFile(uintptr(nfd), "connection")
	if s.builtin != nil {
		s.count(peer, c.IP)
		s.builtin.serve(conn, peer)
		return
	}
	prefix, _, _ := unit.SplitName(s.name)
	name := prefix + "@" + c.Instance(s.nAccepted) + ".service"
	def, err := m.opts.LoadUnit(name)
	if err == nil && def.Load != unit.Loaded {
		err = errors.New(string(def.Load))
	}
	if err == nil && m.units[def.Name] != nil {
		err = errors.New("a unit of that name exists")
	}
	if err != nil {
		conn.Close()
		m.event(s.rt, prioErr, "%s: cannot create %s: %v", s.name, name, err)
		s.reason = "cannot create " + name + ": " + err.Error()
		s.enterStopPre(m, ResultResources)
		return
	}
	s.count(peer, c.IP)
	m.noteInstance(def.Name, s.name)
	u := &rt{name: def.Name, def: def, state: Dead,
		transient: &transientRef{owner: s.rt, conn: conn, env: c.Env(), peer: peer}}
	u.eng = newEngine(u)
	m.units[u.name] = u
	u.triggeredBy = s.name
	s.instances = append(s.instances, u.name)
	m.start(u)
	if u.state == Dead || u.state == Failed { // skipped by a condition, or failed at once
		m.noteTriggered(u)
	}
}

// noteInstance tells OnInstanceCreated that name is a per-connection
// instance of the template of socketName.
func (m *Manager) noteInstance(name, socketName string) {
	if m.opts.OnInstanceCreated != nil {
		prefix, _, _ := unit.SplitName(socketName)
		m.opts.OnInstanceCreated(name, prefix+"@.service")
	}
}

func (s *socket) count(peer netip.Addr, ip bool) {
	s.nAccepted++
	s.nConnections++
	if ip {
		if s.perSource == nil {
			s.perSource = map[netip.Addr]int{}
		}
		s.perSource[peer]++
	}
}

func (s *socket) release(peer netip.Addr) {
	if n, ok := s.perSource[peer]; ok {
		if n <= 1 {
			delete(s.perSource, peer)
		} else {
			s.perSource[peer] = n - 1
		}
	}
}

// refuse closes a connection tend will not serve and counts it. A flood
// is logged at every power of two, not per connection.
func (s *socket) refuse(m *Manager, nfd int, why string) {
	unix.Close(nfd)
	s.nRefused++
	if s.nRefused&(s.nRefused-1) == 0 {
		m.event(s.rt, prioWarn, "%s: %s, dropping connection (%d refused so far).", s.name, why, s.nRefused)
	}
}

// transientRef marks a unit the plan does not know: the per-connection
// instance of an Accept=yes socket (owner), with its connection.
type transientRef struct {
	owner *rt
	conn  *os.File // nil once handed over to the main process (handOverConnection) or lost in a crash
	env   []string // REMOTE_ADDR, REMOTE_PORT
	peer  netip.Addr
	ended bool // counted out of the socket's connections
}

// handOverConnection closes tend's copy of an Accept=yes instance's
// connection once its main process has its own, if no later main
// process can need it (inetd's way): the connection then closes when
// the instance's processes end, and its teardown is theirs, not the
// manager loop's. An instance that may start its main process again
// (Restart=, RestartForceExitStatus=, a oneshot's next ExecStart=)
// keeps it until it ends, as systemd keeps it for every instance; a
// restart job on one that gave it up starts without it, as after a
// crash of the manager.
func (u *service) handOverConnection() {
	t := u.transient
	if t == nil || t.conn == nil {
		return
	}
	svc := u.svc()
	force := svc.RestartForceExitStatus
	if svc.Restart != unit.RestartNo || len(force.Codes) > 0 || len(force.Signals) > 0 ||
		(svc.Type == unit.TypeOneshot && len(svc.ExecStart) > 1) {
		return
	}
	t.conn.Close()
	t.conn = nil
}

// onInstanceEnded counts an instance's connection out and removes the
// instance once it is dead; a failed one stays for status until
// reset-failed, as systemd keeps it.
func (s *socket) onInstanceEnded(m *Manager, u *rt) {
	t := u.transient
	if !t.ended && (u.state == Dead || u.state == Failed) {
		t.ended = true
		s.instances = slices.DeleteFunc(s.instances, func(n string) bool { return n == u.name })
		s.nConnections--
		s.release(t.peer)
		if t.conn != nil {
			t.conn.Close()
		}
		if m.opts.OnInstanceEnded != nil {
			m.opts.OnInstanceEnded(u.name)
		}
	}
	if u.state == Dead && u.job == nil && m.units[u.name] == u {
		delete(m.units, u.name)
		m.setAlarm(u, time.Time{})
		if u.cg != nil {
			_ = m.removeGroup(u)
		}
	}
}

// serviceSockets gives a service's main process its sockets: the
// connection of an Accept=yes instance, or the listeners of every
// Accept=no socket that activates it (Sockets= first), as LISTEN_FDS,
// LISTEN_FDNAMES (LISTEN_PID is set by spawn in the child) and, with
// StandardInput=/StandardOutput=socket, its standard streams; only the
// standard streams when its sockets say X-Tend-StdioOnly=.
func (m *Manager) serviceSockets(u *service, spec *spawn.Spec) {
	var files []*os.File
	var names []string
	stdioOnly := true // every socket giving files says X-Tend-StdioOnly=
	if t := u.transient; t != nil {
		if t.ended || t.conn == nil { // nil: handed over, or lost in a crash of the manager
			return
		}
		files, names = []*os.File{t.conn}, []string{"connection"}
		spec.Env = append(spec.Env, t.env...)
		s, ok := t.owner.eng.(*socket)
		stdioOnly = ok && s.spec != nil && s.spec.StdioOnly
	} else {
		for _, name := range m.socketsOf(u) {
			v := m.units[name]
			if v == nil {
				continue
			}
			if s, ok := v.eng.(*socket); ok && len(s.bound) > 0 && !s.spec.Accept && s.builtin == nil {
				files, names = append(files, s.files()...), append(names, s.fileNames()...)
				stdioOnly = stdioOnly && s.spec.StdioOnly
			}
		}
	}
	if len(files) == 0 {
		return
	}
	m.socketStreams(u, spec, files, names)
	if stdioOnly {
		return // the inetd way: the standard streams only
	}
	spec.ExtraFiles = files
	spec.Env = append(spec.Env, "LISTEN_FDS="+strconv.Itoa(len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
}

// socketStreams sets the standard streams of u's main process that its
// unit gives a socket (StandardInput=socket, fd:NAME, …).
func (m *Manager) socketStreams(u *service, spec *spawn.Spec, files []*os.File, names []string) {
	ec := &u.svc().Exec
	outSpec := ec.StandardOutput
	if outSpec == "inherit" { // the same as standard input
		outSpec = ec.StandardInput
	}
	errSpec := ec.StandardError
	if errSpec == "" || errSpec == "inherit" {
		errSpec = outSpec
	}
	for _, s := range []struct {
		spec string
		dst  **os.File
	}{{ec.StandardInput, &spec.Stdin}, {outSpec, &spec.Stdout}, {errSpec, &spec.Stderr}} {
		if f := pickSocket(s.spec, files, names); f != nil {
			*s.dst = f
		} else if name, ok := strings.CutPrefix(s.spec, "fd:"); ok {
			m.event(u.rt, prioWarn, "%s: no socket named %q for %s; using /dev/null", u.name, name, s.spec)
		}
	}
}

// pickSocket is the socket a standard stream spec names: "socket" the
// first one, "fd:NAME" the one of that FileDescriptorName=; nil if none.
func pickSocket(spec string, files []*os.File, names []string) *os.File {
	if spec == "socket" {
		return files[0]
	}
	if name, ok := strings.CutPrefix(spec, "fd:"); ok {
		if i := slices.Index(names, name); i >= 0 {
			return files[i]
		}
	}
	return nil
}

// socketsOf lists the socket units whose listeners u gets: Sockets=,
// then the sockets that name u, by name.
func (m *Manager) socketsOf(u *service) []string {
	out := slices.Clone(u.svc().Sockets)
	by := m.plan.Reverse(u.name).TriggeredBy
	slices.Sort(by)
	for _, n := range by {
		if strings.HasSuffix(n, ".socket") && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (s *socket) isDatagram(fd int) bool {
	for _, b := range s.bound {
		if int(b.File.Fd()) == fd {
			return b.Listener.Address.Type == activate.Datagram
		}
	}
	return false
}
