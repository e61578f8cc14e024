package condition

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func (e *evaluator) testCPUs(arg string) (bool, error) {
	n := e.env.CPUs
	if n == 0 {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			return false, fmt.Errorf("reading CPU affinity: %w", err)
		}
		n = set.Count()
	}
	return compareSize(arg, uint64(n), false)
}

func (e *evaluator) testMemory(arg string) (bool, error) {
	have := e.env.MemoryBytes
	if have == 0 {
		var err error
		if have, err = e.physicalMemory(); err != nil {
			return false, err
		}
	}
	return compareSize(arg, have, true)
}

// physicalMemory is MemTotal, or the memory limit of our cgroup when that
// is lower (in a container the limit is what is assigned to us).
func (e *evaluator) physicalMemory() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(e.env.Proc, "meminfo"))
	if err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	var total uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("bad MemTotal %q", v)
				}
				total = kb * 1024
			}
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("no MemTotal in %s/meminfo", e.env.Proc)
	}
	if lim, ok := e.cgroupMemoryLimit(); ok && lim < total {
		total = lim
	}
	return total, nil
}

// cgroupMemoryLimit reads the memory limit of this process's cgroup,
// cgroup v2 first, then the v1 memory controller.
func (e *evaluator) cgroupMemoryLimit() (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(e.env.Proc, "self/cgroup"))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join(e.env.Sys, "fs/cgroup", parts[2], "memory.max")
		case slicesContains(strings.Split(parts[1], ","), "memory"):
			file = filepath.Join(e.env.Sys, "fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		s, err := readTrim(file)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// testControlGroupController checks "v1", "v2", or that every listed
// controller systemd knows is available; unknown names are ignored.
func (e *evaluator) testControlGroupController(arg string) (bool, error) {
	unified := filepath.Join(e.env.Sys, "fs/cgroup/cgroup.controllers")
	v2 := exists(unified)
	switch arg {
	case "v1":
		return !v2, nil
	case "v2":
		return v2, nil
	case "":
		return false, fmt.Errorf("empty controller list")
	}
	avail := map[string]bool{}
	if v2 {
		s, _ := readTrim(unified)
		for _, c := range strings.Fields(s) {
			avail[c] = true
		}
	} else if b, err := os.ReadFile(filepath.Join(e.env.Proc, "cgroups")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 4 && f[3] == "1" {
				avail[f[0]] = true
			}
		}
	}
	for _, c := range strings.Fields(arg) {
		switch c {
		case "cpu", "cpuacct", "cpuset", "io", "blkio", "memory", "devices", "pids":
			if !avail[c] {
				return false, nil
			}
		}
	}
	return true, nil
}

// testPressure checks "[slice:]N%[/10sec|1min|5min]" against the
// system-wide pressure stall information of resource (memory, cpu, io):
// "full" if the kernel reports it, else "some". The slice part is
// accepted but the system-wide value is used, as tend does not manage
// slices. Without PSI support the condition holds, as in systemd.
func (e *evaluator) testPressure(resource string) func(string) (bool, error) {
	return func(arg string) (bool, error) {
		if i := strings.LastIndexByte(arg, ':'); i >= 0 {
			arg = arg[i+1:]
		}
		pct, window, _ := strings.Cut(arg, "/")
		key := map[string]string{"": "avg300", "5min": "avg300", "1min": "avg60", "10sec": "avg10"}[window]
		if key == "" {
			return false, fmt.Errorf("bad pressure window %q", window)
		}
		limit, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
		if err != nil || !strings.HasSuffix(pct, "%") || limit < 0 || limit > 100 {
			return false, fmt.Errorf("bad pressure threshold %q", pct)
		}
		b, err := os.ReadFile(filepath.Join(e.env.Proc, "pressure", resource))
		if err != nil {
			return true, nil
		}
		vals := map[string]float64{}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			for _, kv := range f[min(1, len(f)):] {
				if v, ok := strings.CutPrefix(kv, key+"="); ok {
					if x, err := strconv.ParseFloat(v, 64); err == nil {
						vals[f[0]] = x
					}
				}
			}
		}
		v, ok := vals["full"]
		if !ok {
			if v, ok = vals["some"]; !ok {
				return true, nil
			}
		}
		return v <= limit, nil
	}
}

// testACPower holds for "true" if a mains supply is online or none is
// known, and for "false" if one is known and all are offline.
func (e *evaluator) testACPower(arg string) (bool, error) {
	want, err := parseBool(arg)
	if err != nil {
		return false, err
	}
	dir := filepath.Join(e.env.Sys, "class/power_supply")
	ents, _ := os.ReadDir(dir)
	known, online := false, false
	for _, ent := range ents {
		if t, _ := readTrim(filepath.Join(dir, ent.Name(), "type")); t != "Mains" {
			continue
		}
		known = true
		if o, _ := readTrim(filepath.Join(dir, ent.Name(), "online")); o == "1" {
			online = true
		}
	}
	onAC := online || !known
	return onAC == want, nil
}

// isEncrypted reports whether the block device under p is a dm-crypt
// device or sits on one.
func (e *evaluator) isEncrypted(p string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return false, nil
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	return e.cryptDevice(filepath.Join(e.env.Sys, "dev/block", dev), 0), nil
}

func (e *evaluator) cryptDevice(dir string, depth int) bool {
	if depth > 8 {
		return false
	}
	if uuid, err := readTrim(filepath.Join(dir, "dm/uuid")); err == nil && strings.HasPrefix(uuid, "CRYPT-") {
		return true
	}
	slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
	for _, s := range slaves {
		if e.cryptDevice(filepath.Join(dir, "slaves", s.Name()), depth+1) {
			return true
		}
	}
	return false
}
