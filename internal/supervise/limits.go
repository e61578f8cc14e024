package supervise

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/unit"
)

// defaultTasksMax is DefaultTasksMax=, in percent of the system's task
// limit, as systemd sets it for services.
const defaultTasksMax = 15

// defaultCPUQuotaPeriod is the period of CPUQuota= when
// CPUQuotaPeriodSec= is not set.
const defaultCPUQuotaPeriod = 100 * time.Millisecond

// applyLimits gives u's group the resource limits of its definition,
// once per group and definition (a restart that keeps the group writes
// nothing). Settings whose controller is not available here were
// reported when the unit loaded (UnavailableLimits); failed writes are
// reported here.
func (m *Manager) applyLimits(u *rt) {
	if u.cg == nil || u.def == nil || u.def.Service == nil || (u.limitsCg == u.cg && u.limitsDef == u.def) {
		return
	}
	if u.transient != nil && !u.def.Service.ResourceSettings().Set() && !m.opts.Cgroups.Native("pids") {
		// A per-connection instance with no limits of its own would get
		// only DefaultTasksMax=, which without the pids controller in
		// its own hierarchy costs a v1 group per connection: a mkdir,
		// a process move and an rmdir, as much as the rest of its
		// cgroup work (see newGroup).
		return
	}
	u.limitsCg, u.limitsDef = u.cg, u.def
	m.reportLimits(u, m.setLimits(u.cg, u.def))
}

// setLimits writes def's limits to g. It touches no state of the loop's:
// prepareGroups' workers call it for the groups they make ahead.
func (m *Manager) setLimits(g *cgroup.Group, def *unit.Unit) error {
	_, err := g.Apply(ResolveLimits(def.Service.ResourceSettings(), m.opts.Cgroups))
	return err
}

func (m *Manager) reportLimits(u *rt, err error) {
	if err != nil {
		m.event(u, prioWarn, "%s: resource limits: %v", u.name, err)
	}
}

// UnavailableLimits names the resource-control directives of svc that
// no cgroup controller available to cm can apply, for the load-time
// warning (DefaultTasksMax= is not the unit's: never named).
func UnavailableLimits(svc *unit.Service, cm *cgroup.Manager) []string {
	r := svc.ResourceSettings()
	if !r.Set() {
		return nil
	}
	missing := cm.Unavailable(ResolveLimits(r, cm))
	if r.TasksMax == nil {
		missing = slices.DeleteFunc(missing, func(d string) bool { return d == "TasksMax" })
	}
	return missing
}

// ResolveLimits turns a unit's settings into numbers: percentages of the
// machine's memory and task limit, the default TasksMax=, quota per
// period, device numbers.
func ResolveLimits(r *unit.ResourceContext, cm *cgroup.Manager) cgroup.Limits {
	var l cgroup.Limits
	var mem uint64 // read only for a percentage
	for _, f := range []struct {
		src *unit.Amount
		dst **uint64
	}{{r.MemoryMin, &l.MemoryMin}, {r.MemoryLow, &l.MemoryLow}, {r.MemoryHigh, &l.MemoryHigh},
		{r.MemoryMax, &l.MemoryMax}, {r.MemorySwapMax, &l.MemorySwapMax}} {
		if f.src != nil {
			if f.src.Percent > 0 && mem == 0 {
				mem = cm.SystemMemory()
			}
			v := f.src.Resolve(mem)
			*f.dst = &v
		}
	}
	tasks := unit.Amount{Percent: defaultTasksMax}
	if r.TasksMax != nil {
		tasks = *r.TasksMax
	}
	if whole := cm.SystemTasks(); whole > 0 || tasks.Percent == 0 {
		v := tasks.Resolve(whole)
		l.TasksMax = &v
	}
	if r.CPUQuota > 0 {
		period := r.CPUQuotaPeriod
		if period <= 0 {
			period = defaultCPUQuotaPeriod
		}
		period = min(max(period, time.Millisecond), time.Second) // the kernel's bounds
		l.CPUPeriod = uint64(period.Microseconds())
		l.CPUQuota = max(1000, uint64(float64(l.CPUPeriod)*r.CPUQuota/100))
	}
	l.CPUWeight, l.IOWeight = r.CPUWeight, r.IOWeight
	l.AllowedCPUs, l.AllowedMems = r.AllowedCPUs, r.AllowedMemoryNodes
	l.JoinFirst = r.Set()
	for _, d := range r.IODevices {
		if major, minor, ok := blockDevice(d.Path); ok {
			l.IODevices = append(l.IODevices, cgroup.IOLimit{Major: major, Minor: minor, Kind: d.Kind, Value: d.Value})
		}
	}
	return l
}

// blockDevice is the device of an I/O setting's path: the node itself if
// it is a block device, else the device holding the file.
func blockDevice(path string) (uint32, uint32, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0, 0, false
	}
	dev := st.Dev
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		dev = st.Rdev
	}
	return unix.Major(dev), unix.Minor(dev), true
}

// hasMemoryLimit reports whether the kernel may kill u's processes for
// exceeding a limit of the unit's own, so that a SIGKILL is worth
// checking against the group's OOM count.
func hasMemoryLimit(svc *unit.Service) bool {
	r := svc.ResourceSettings()
	return r.MemoryMax != nil || r.MemoryHigh != nil || r.MemorySwapMax != nil
}

// noteOOMBase remembers the group's OOM kill count before a main process
// of a memory-limited service starts.
func (m *Manager) noteOOMBase(u *service) {
	u.oomBase = -1
	if u.cg != nil && hasMemoryLimit(u.svc()) {
		u.oomBase = u.cg.OOMKills()
	}
}

// oomKilled reports whether st, a main process's end, was the kernel's
// OOM killer at work in the unit's group.
func (m *Manager) oomKilled(u *service, st exitStatus) bool {
	if st.code != "killed" || st.status != int(unix.SIGKILL) || u.cg == nil || u.oomBase < 0 {
		return false
	}
	return u.cg.OOMKills() > u.oomBase
}
