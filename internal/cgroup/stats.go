package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are a group's resource figures; -1 means not available in this
// mode.
type Stats struct {
	Tasks       int64 // threads (pids.current, or counted)
	MemoryBytes int64 // memory.current / memory.usage_in_bytes / sum of RSS
	CPUNanos    int64 // CPU time used by the group
}

// clockTicks is USER_HZ, fixed at 100 on every Linux architecture tend
// runs on.
const clockTicks = 100

// Stats reads the group's current figures from whichever source the mode
// offers: v2 files, v1 memory/cpuacct/pids controllers, or /proc.
func (g *Group) Stats() Stats {
	if g.m.mode == ModeNone {
		return g.noneStats()
	}
	s := Stats{Tasks: -1, MemoryBytes: -1, CPUNanos: -1}
	v2 := g.m.mode == ModeV2
	if v := readInt(g.dir, "pids.current"); v >= 0 {
		s.Tasks = v
	} else if v := readInt(g.statDirs["pids"], "pids.current"); v >= 0 {
		s.Tasks = v
	} else if n, ok := countLines(filepath.Join(g.dir, threadsFile(v2))); ok {
		s.Tasks = n
	}
	if v2 {
		s.MemoryBytes = readInt(g.dir, "memory.current")
		if v, ok := readKey(filepath.Join(g.dir, "cpu.stat"), "usage_usec"); ok {
			s.CPUNanos = v * 1000
		}
	}
	if s.MemoryBytes < 0 {
		s.MemoryBytes = readInt(g.statDirs["memory"], "memory.usage_in_bytes")
	}
	if s.CPUNanos < 0 {
		s.CPUNanos = readInt(g.statDirs["cpuacct"], "cpuacct.usage")
	}
	return s
}

// threadsFile lists a group's threads: cgroup.threads on v2, tasks on v1.
func threadsFile(v2 bool) string {
	if v2 {
		return "cgroup.threads"
	}
	return "tasks"
}

func (g *Group) noneStats() Stats {
	s := Stats{Tasks: -1, MemoryBytes: -1, CPUNanos: -1}
	all, err := readAllStats(g.m.opts.Proc)
	if err != nil {
		return s
	}
	g.mu.Lock()
	in := g.none.members(all)
	g.mu.Unlock()
	page := int64(os.Getpagesize())
	s.Tasks, s.MemoryBytes, s.CPUNanos = 0, 0, 0
	for _, st := range in {
		s.Tasks += int64(st.threads)
		s.MemoryBytes += st.rss * page
		s.CPUNanos += int64(st.utime+st.stime) * (1e9 / clockTicks)
	}
	return s
}

// readInt reads a file holding one integer; -1 if dir is "" or the file
// is missing or not a number ("max").
func readInt(dir, name string) int64 {
	if dir == "" {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// readKey reads "key value" from a flat-keyed file such as cpu.stat.
func readKey(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func countLines(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return int64(len(strings.Fields(string(b)))), true
}
