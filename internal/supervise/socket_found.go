package supervise

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/procfs"
	"github.com/tendproject/tend/internal/unit"
)

// The per-connection instances of Accept=yes sockets are left out of
// the state file while they run: written for each, it would be written
// twice per connection. What a crash needs to know of them is in their
// cgroups, named after them: after a crash the new manager takes back
// every instance group of a restored socket that still has processes.
// (A re-exec hands them over with everything else, connection included.)

// instancesInGroups reports whether running instances can be found in
// their cgroups after a crash, so that the state file need not list them.
func (m *Manager) instancesInGroups() bool {
	return m.opts.Cgroups != nil && m.opts.Cgroups.Mode() != cgroup.ModeNone && m.opts.LoadUnit != nil
}

// unsaved reports whether u, a running per-connection instance the state
// file has no entry for, may change without the file being written.
func (m *Manager) unsaved(u *rt) bool {
	if u.transient == nil || u.state == Failed || !m.instancesInGroups() {
		return false
	}
	e := m.saved[u]
	return e == nil || e.json == nil
}

// findInstances takes back, after a crash, the instances of sockets
// whose groups still hold processes and that the state file did not
// list; see groupMain for which process is taken for the main one.
func (m *Manager) findInstances(sockets []*socket) []*service {
	if !m.instancesInGroups() {
		return nil
	}
	base := m.opts.Cgroups.Where()
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var found []*service
	for _, s := range sockets {
		if s.state == Dead || s.state == Failed {
			continue
		}
		spec, _, ok := activate.ParseSpec(s.def, m.opts.SpecifierEnv)
		if !ok || !spec.Accept || spec.Internal != "" {
			continue
		}
		prefix, _, _ := unit.SplitName(s.name)
		for _, e := range entries {
			name := e.Name()
			inst, ok := strings.CutPrefix(name, prefix+"@")
			inst, svc := strings.CutSuffix(inst, ".service")
			if !ok || !svc || !e.IsDir() || m.units[name] != nil {
				continue
			}
			n, peer, ok := parseInstance(inst)
			pid := m.groupMain(filepath.Join(base, name))
			if !ok || pid == 0 {
				continue
			}
			engine, err := json.Marshal(savedService{MainPID: pid})
			if err != nil {
				continue
			}
			su := SavedUnit{Name: name, Kind: "service", State: Running.String(), Result: ResultSuccess,
				Since: m.clock.Now(), Invocation: newInvocationID().String(), Engine: engine,
				Transient: &SavedTransient{Owner: s.name}}
			if peer.IsValid() {
				su.Transient.Peer = peer.String()
			}
			v, ok := m.restoreInstance(su, false, nil)
			if !ok {
				continue
			}
			if !slices.Contains(s.instances, name) {
				s.instances = append(s.instances, name)
			}
			// Names from the saved counter on would meet the survivors'.
			s.nAccepted = max(s.nAccepted, n+1)
			found = append(found, v)
		}
	}
	return found
}

// parseInstance reads an instance string as activate.Conn.Instance
// makes it: "N-LOCAL:PORT-REMOTE:PORT", "N-PID-UID" or "N-unknown". The
// peer is the remote address of an Internet connection.
func parseInstance(inst string) (uint64, netip.Addr, bool) {
	num, rest, ok := strings.Cut(inst, "-")
	n, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil {
		return 0, netip.Addr{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	remote := rest[i+1:]
	if j := strings.LastIndexByte(remote, ':'); j > 0 {
		if a, err := netip.ParseAddr(remote[:j]); err == nil {
			return n, a, true
		}
	}
	return n, netip.Addr{}, true
}

// groupMain is the main process of the instance whose cgroup directory
// is dir (0 if none): the process whose parent is outside the group —
// the instance's own children have it as their parent, while it was
// tend's child and has been reparented. Of several such, the oldest;
// pids alone would mislead after they wrap.
func (m *Manager) groupMain(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return 0
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	if m.proc == nil {
		m.proc = procfs.New(m.opts.Proc).NewReader()
	}
	main, start := 0, uint64(0)
	for _, p := range pids {
		st, err := m.proc.Stat(p)
		if err != nil || slices.Contains(pids, st.PPID) {
			continue
		}
		if main == 0 || st.StartTime < start || st.StartTime == start && p < main {
			main, start = p, st.StartTime
		}
	}
	return main
}
