package cgroup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// limitControllers are the v1 controllers used only for limits: a unit
// gets a group in them when it asks for such a limit (CPUQuota=,
// AllowedCPUs=, IOReadBandwidthMax=…), not for every start.
var limitControllers = []string{"cpu", "cpuset", "blkio"}

// Limits are one group's resource limits, resolved to numbers. Nil and
// zero fields are not set; math.MaxUint64 is "no limit".
type Limits struct {
	MemoryMin, MemoryLow, MemoryHigh, MemoryMax, MemorySwapMax *uint64
	TasksMax                                                   *uint64
	// CPUQuota is the CPU time allowed per CPUPeriod, in microseconds.
	CPUQuota, CPUPeriod uint64
	CPUWeight           uint64
	IOWeight            uint64
	IODevices           []IOLimit
	AllowedCPUs         []int
	AllowedMems         []int
	// JoinFirst asks that processes join every group of the unit before
	// their program runs (see Group.JoinFirst): set for limits the unit
	// asked for, not for DefaultTasksMax= alone.
	JoinFirst bool
}

// IOLimit is one per-device I/O setting.
type IOLimit struct {
	Major, Minor uint32
	Kind         string // weight, rbps, wbps, riops, wiops
	Value        uint64
}

// setting is one file write that applies a directive.
type setting struct {
	directive, ctrl, file, value string
}

// Apply writes l into the group's controller files: the cgroup v2 files
// where the unified hierarchy has the controller, else the v1 ones. It
// returns the directives it could not apply because their controller is
// not available here (for the caller to report once), and the errors of
// failed writes.
func (g *Group) Apply(l Limits) (missing []string, err error) {
	g.mu.Lock()
	g.joinFirst = l.JoinFirst
	g.mu.Unlock()
	var errs []error
	for _, s := range g.settings(l) {
		if s.file == "" {
			missing = appendOnce(missing, s.directive)
			continue
		}
		dir, ok, derr := g.controllerDir(s.ctrl)
		if derr != nil {
			errs = append(errs, derr)
			continue
		}
		if !ok {
			missing = appendOnce(missing, s.directive)
			continue
		}
		if werr := writeFile(filepath.Join(dir, s.file), []byte(s.value)); werr != nil {
			if errors.Is(werr, os.ErrNotExist) {
				missing = appendOnce(missing, s.directive)
				continue
			}
			errs = append(errs, fmt.Errorf("%s=: %w", s.directive, werr))
		}
	}
	return missing, errors.Join(errs...)
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// JoinFirst reports whether a new process must join all of the unit's
// groups before its program runs, which only a process of its own can
// do: a v1 limit is then in force from the program's first
// instruction, and a fork at once cannot escape TasksMax=.
func (g *Group) JoinFirst() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.joinFirst && (len(g.statDirs) > 0 || len(g.limitDirs) > 0)
}

// usesV2 reports whether the group's limits of ctrl live in the unified
// hierarchy.
func (g *Group) usesV2(ctrl string) bool {
	return g.m.mode == ModeV2 && g.m.v2Has(ctrl)
}

// settings lists the writes that apply l, in the file format of the
// hierarchy that holds each controller; a setting without a file has no
// equivalent there.
func (g *Group) settings(l Limits) []setting {
	var out []setting
	add := func(directive, ctrl, v2file, v1file, value string) {
		file := v1file
		if g.usesV2(ctrl) {
			file = v2file
		}
		out = append(out, setting{directive, ctrl, file, value})
	}
	v2mem := g.usesV2("memory")
	mem := func(directive, v2file, v1file string, v *uint64) {
		if v != nil {
			add(directive, "memory", v2file, v1file, limitValue(*v, v2mem))
		}
	}
	mem("MemoryMin", "memory.min", "", l.MemoryMin)
	mem("MemoryLow", "memory.low", "", l.MemoryLow)
	mem("MemoryHigh", "memory.high", "", l.MemoryHigh)
	mem("MemoryMax", "memory.max", "memory.limit_in_bytes", l.MemoryMax)
	mem("MemorySwapMax", "memory.swap.max", "", l.MemorySwapMax)
	if l.TasksMax != nil {
		add("TasksMax", "pids", "pids.max", "pids.max", limitValue(*l.TasksMax, true))
	}
	if l.CPUQuota > 0 {
		if g.usesV2("cpu") {
			add("CPUQuota", "cpu", "cpu.max", "", fmt.Sprintf("%d %d", l.CPUQuota, l.CPUPeriod))
		} else {
			add("CPUQuota", "cpu", "", "cpu.cfs_period_us", strconv.FormatUint(l.CPUPeriod, 10))
			add("CPUQuota", "cpu", "", "cpu.cfs_quota_us", strconv.FormatUint(l.CPUQuota, 10))
		}
	}
	if l.CPUWeight > 0 {
		add("CPUWeight", "cpu", "cpu.weight", "cpu.shares", strconv.FormatUint(weightFor(l.CPUWeight, g.usesV2("cpu")), 10))
	}
	if len(l.AllowedCPUs) > 0 {
		add("AllowedCPUs", "cpuset", "cpuset.cpus", "cpuset.cpus", cpuList(l.AllowedCPUs))
	}
	if len(l.AllowedMems) > 0 {
		add("AllowedMemoryNodes", "cpuset", "cpuset.mems", "cpuset.mems", cpuList(l.AllowedMems))
	}
	if l.IOWeight > 0 {
		add("IOWeight", "io", "io.weight", "", "default "+strconv.FormatUint(l.IOWeight, 10))
	}
	for _, d := range l.IODevices {
		out = append(out, g.ioSetting(d))
	}
	return out
}

var ioDirectives = map[string]string{"weight": "IODeviceWeight", "rbps": "IOReadBandwidthMax",
	"wbps": "IOWriteBandwidthMax", "riops": "IOReadIOPSMax", "wiops": "IOWriteIOPSMax"}

// ioSetting is one per-device I/O limit: io.max or io.weight on v2, the
// blkio throttle files on v1 (which has no weights without CFQ).
func (g *Group) ioSetting(d IOLimit) setting {
	dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
	s := setting{directive: ioDirectives[d.Kind], ctrl: "io"}
	if g.usesV2("io") {
		s.file, s.value = "io.max", fmt.Sprintf("%s %s=%s", dev, d.Kind, limitValue(d.Value, true))
		if d.Kind == "weight" {
			s.file, s.value = "io.weight", fmt.Sprintf("%s %d", dev, d.Value)
		}
		return s
	}
	v1 := map[string]string{"rbps": "blkio.throttle.read_bps_device", "wbps": "blkio.throttle.write_bps_device",
		"riops": "blkio.throttle.read_iops_device", "wiops": "blkio.throttle.write_iops_device"}
	value := d.Value
	if value == math.MaxUint64 {
		value = 0 // v1's "no limit"
	}
	s.ctrl, s.file, s.value = "blkio", v1[d.Kind], fmt.Sprintf("%s %d", dev, value)
	return s
}

// limitValue renders a limit: "max" (v2) or -1 (v1 memory) for none.
func limitValue(v uint64, v2 bool) string {
	if v == math.MaxUint64 {
		if v2 {
			return "max"
		}
		return "-1"
	}
	return strconv.FormatUint(v, 10)
}

// weightFor maps CPUWeight= (1…10000, default 100) to v2's cpu.weight,
// or to v1's cpu.shares (default 1024, at least 2).
func weightFor(w uint64, v2 bool) uint64 {
	if v2 {
		return w
	}
	return max(2, w*1024/100)
}

func cpuList(cpus []int) string {
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

// controllerDir is the group's directory holding ctrl's files: the
// group itself on v2 (or when it is the v1 tracking controller), its v1
// stats group, or a v1 limit group made now. ok is false when ctrl is
// not available to this manager.
func (g *Group) controllerDir(ctrl string) (string, bool, error) {
	if g.m.mode == ModeNone {
		return "", false, nil
	}
	if g.usesV2(ctrl) || (g.m.mode == ModeV1 && g.m.trackCtrl == ctrl) {
		return g.dir, true, nil
	}
	if d, ok := g.statDirs[ctrl]; ok {
		return d, true, nil
	}
	g.mu.Lock()
	d, ok := g.limitDirs[ctrl]
	g.mu.Unlock()
	if ok {
		return d, true, nil
	}
	base, ok := g.m.statBases()[ctrl]
	if !ok {
		return "", false, nil
	}
	d = filepath.Join(base, g.unit)
	if ctrl == "cpuset" {
		// A v1 cpuset group takes no process before it has CPUs and
		// memory nodes: start from those of its parent.
		if err := inheritCpuset(base); err != nil {
			return "", false, err
		}
	}
	if err := mkdirGroup(d); err != nil {
		return "", false, err
	}
	if ctrl == "cpuset" {
		if err := inheritCpuset(d); err != nil {
			return "", false, err
		}
	}
	g.mu.Lock()
	if g.limitDirs == nil {
		g.limitDirs = map[string]string{}
	}
	g.limitDirs[ctrl] = d
	g.mu.Unlock()
	return d, true, nil
}

// inheritCpuset fills an empty cpuset.cpus and cpuset.mems of a v1
// cpuset group from its parent's.
func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) != "" {
			continue
		}
		p, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), p, 0); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// OOMKills is the number of processes the kernel's OOM killer has
// killed in the group (v2 memory.events, v1 memory.oom_control), -1 if
// unknown here.
func (g *Group) OOMKills() int64 {
	if g.usesV2("memory") {
		if v, ok := readKey(filepath.Join(g.dir, "memory.events"), "oom_kill"); ok {
			return v
		}
		return -1
	}
	if d, ok := g.statDirs["memory"]; ok {
		if v, ok := readKey(filepath.Join(d, "memory.oom_control"), "oom_kill"); ok {
			return v
		}
	}
	return -1
}

// SystemMemory is the machine's physical memory in bytes (the whole of
// MemoryMax=50%), 0 if unknown.
func (m *Manager) SystemMemory() uint64 {
	v, ok := readKey(filepath.Join(m.proc(), "meminfo"), "MemTotal:")
	if !ok {
		return 0
	}
	return uint64(v) * 1024
}

// SystemTasks is the system's limit on tasks (the whole of TasksMax=15%):
// the lower of kernel.pid_max and kernel.threads-max, read once (every
// unit's default limit is a share of it).
func (m *Manager) SystemTasks() uint64 {
	m.systemTasks.once.Do(func() { m.systemTasks.n = m.readSystemTasks() })
	return m.systemTasks.n
}

func (m *Manager) readSystemTasks() uint64 {
	a := readInt(filepath.Join(m.proc(), "sys/kernel"), "pid_max")
	b := readInt(filepath.Join(m.proc(), "sys/kernel"), "threads-max")
	switch {
	case a <= 0 && b <= 0:
		return 0
	case a <= 0:
		return uint64(b)
	case b <= 0:
		return uint64(a)
	}
	return uint64(min(a, b))
}

func (m *Manager) proc() string {
	if m.opts.Proc != "" {
		return m.opts.Proc
	}
	return "/proc"
}

// Maxima reads the group's memory and task limits back from its
// controller files; -1 means no limit or not known.
func (g *Group) Maxima() (memoryMax, tasksMax int64) {
	memoryMax, tasksMax = -1, -1
	if g.m.mode == ModeNone {
		return
	}
	if d, ok, _ := g.knownDir("memory"); ok {
		file := "memory.limit_in_bytes"
		if g.usesV2("memory") {
			file = "memory.max"
		}
		// v1 writes "no limit" as the largest page-aligned number.
		if v := readInt(d, file); v >= 0 && v < 1<<62 {
			memoryMax = v
		}
	}
	if d, ok, _ := g.knownDir("pids"); ok {
		tasksMax = readInt(d, "pids.max") // "max" does not parse: -1
	}
	return
}

// knownDir is controllerDir without making a v1 limit group.
func (g *Group) knownDir(ctrl string) (string, bool, error) {
	if g.usesV2(ctrl) || (g.m.mode == ModeV1 && g.m.trackCtrl == ctrl) {
		return g.dir, true, nil
	}
	d, ok := g.statDirs[ctrl]
	return d, ok, nil
}

// Unavailable names the directives of l that no controller available to
// this manager can apply (none in ModeNone; the v1 controllers tend has
// no base in; files one hierarchy lacks, like memory.high on v1), so
// that they can be reported when the unit loads.
func (m *Manager) Unavailable(l Limits) []string {
	var missing []string
	probe := &Group{m: m}
	bases := m.statBases()
	for _, s := range probe.settings(l) {
		_, based := bases[s.ctrl]
		ok := m.mode != ModeNone && s.file != "" &&
			(probe.usesV2(s.ctrl) || (m.mode == ModeV1 && m.trackCtrl == s.ctrl) || based)
		if !ok {
			missing = appendOnce(missing, s.directive)
		}
	}
	return missing
}
