package supervise

import (
	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/plan"
	"golang.org/x/sys/unix"
)

// reloadSockets applies a daemon-reload (or an inetd.conf re-read) to
// the socket units that run: a changed one keeps every listener whose
// address and settings are unchanged — its queue and its service's
// connections with it — binds the new ones and closes those gone; one
// whose unit is gone stops; a new one that an active unit wants starts.
func (m *Manager) reloadSockets(ch plan.Changes) {
	for _, name := range ch.Changed {
		if u := m.units[name]; u != nil {
			if s, ok := u.eng.(*socket); ok {
				s.refresh(m)
			}
		}
	}
	for _, name := range ch.Removed {
		if u := m.units[name]; u != nil && u.def.Kind == "socket" && up(u.state) {
			m.event(u, prioInfo, "%s: unit removed, closing its listeners.", u.name)
			m.jobs.submitInternalUnit(plan.Stop, u)
		}
	}
	var start []string
	for _, name := range ch.Added {
		u := m.units[name]
		if u == nil || u.def.Kind != "socket" || u.state.Active() != Inactive {
			continue
		}
		for _, w := range m.plan.Reverse(name).WantedBy {
			if v := m.units[w]; v != nil && up(v.state) {
				start = append(start, name)
				break
			}
		}
	}
	if len(start) > 0 {
		m.jobs.submitInternal(plan.Start, start, plan.Replace)
	}
}

// refresh re-reads the unit of a running socket; see reloadSockets.
func (s *socket) refresh(m *Manager) {
	if (s.state != Listening && s.state != Running) || s.spec == nil {
		return
	}
	spec, _, ok := activate.ParseSpec(s.def, m.opts.SpecifierEnv)
	if !ok {
		m.event(s.rt, prioWarn, "%s: the new definition is not usable; keeping the running one.", s.name)
		return
	}
	if spec.Accept != s.spec.Accept || spec.Internal != s.spec.Internal || spec.Service != s.spec.Service {
		m.jobs.submitInternal(plan.Restart, []string{s.name}, plan.Replace)
		return
	}
	own, err := socketOwner(spec)
	keep := map[string]*activate.Bound{}
	for _, b := range s.bound {
		keep[b.Key] = b
	}
	var bound []*activate.Bound
	if err == nil {
		bound, err = spec.Open(own, keep)
	}
	if err != nil {
		m.event(s.rt, prioErr, "%s: cannot apply the new listeners (%v); keeping the running ones.", s.name, err)
		return
	}
	for _, b := range keep { // not in the new definition
		m.unwatchFD(int(b.File.Fd()))
		b.File.Close()
	}
	s.spec, s.bound = spec, bound
	m.listenersMoved = true
	if spec.Accept || spec.Internal != "" {
		for _, b := range bound {
			_ = unix.SetNonblock(int(b.File.Fd()), true)
		}
	}
	if s.state == Listening {
		s.enterListening(m)
	}
}
