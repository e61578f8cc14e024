package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// noneTracker finds a unit's processes without cgroups. A process belongs
// to the unit if it is a seed (a pid spawn added), lives in a session or
// process group a seed leads (spawn makes every child a session leader),
// descends from a member while its parent lives, or was seen as a member
// before. Limits: a process that calls setsid() and whose parent died
// before tend looked (the classic double-forking daemon that detaches
// from its session) escapes; so does anything after pid reuse of a seed.
type noneTracker struct {
	seeds map[int]bool // session / process group leaders spawned
	known map[int]bool // members seen by earlier scans
}

func (t *noneTracker) init() {
	t.seeds = map[int]bool{}
	t.known = map[int]bool{}
}

func (t *noneTracker) seed(pid int) {
	t.seeds[pid] = true
	t.known[pid] = true
}

// forget drops a reaped pid from the known set; seeds stay while their
// session or process group has members.
func (t *noneTracker) forget(pid int) { delete(t.known, pid) }

// procStat is what tracking and stats need from /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp, sid int
	state                byte
	utime, stime         uint64 // clock ticks
	threads              int
	rss                  int64 // pages
}

// parseStat parses /proc/PID/stat; comm may contain spaces and ')'.
func parseStat(b []byte) (procStat, error) {
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procStat{}, errors.New("malformed stat: no comm")
	}
	var st procStat
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat pid: %w", err)
	}
	st.pid = pid
	f := strings.Fields(s[close+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed stat: too few fields")
	}
	st.state = f[0][0]
	ints := []*int{&st.ppid, &st.pgrp, &st.sid}
	for i, p := range ints {
		if *p, err = strconv.Atoi(f[1+i]); err != nil {
			return procStat{}, fmt.Errorf("malformed stat field %d: %w", 4+i, err)
		}
	}
	if st.utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed stat utime: %w", err)
	}
	if st.stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed stat stime: %w", err)
	}
	if st.threads, err = strconv.Atoi(f[17]); err != nil {
		return procStat{}, fmt.Errorf("malformed stat num_threads: %w", err)
	}
	if st.rss, err = strconv.ParseInt(f[21], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed stat rss: %w", err)
	}
	return st, nil
}

// readAllStats reads the stat of every live (non-zombie) process.
func readAllStats(proc string) (map[int]procStat, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	out := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		st, err := parseStat(b)
		if err != nil || st.state == 'Z' || st.state == 'X' || st.pid != pid {
			continue
		}
		out[pid] = st
	}
	return out, nil
}

// members computes the tracked set from all processes and updates known.
func (t *noneTracker) members(all map[int]procStat) map[int]procStat {
	self := os.Getpid()
	in := map[int]procStat{}
	for pid, st := range all {
		if pid != self && (t.seeds[pid] || t.known[pid] || t.seeds[st.sid] || t.seeds[st.pgrp]) {
			in[pid] = st
		}
	}
	for grew := true; grew; { // children of members, to a fixed point
		grew = false
		for pid, st := range all {
			if _, ok := in[pid]; !ok && pid != self {
				if _, parent := in[st.ppid]; parent {
					in[pid], grew = st, true
				}
			}
		}
	}
	t.known = make(map[int]bool, len(in))
	for pid := range in {
		t.known[pid] = true
	}
	return in
}

// anyAlive reports whether a member seen before still runs.
func (t *noneTracker) anyAlive(proc string) bool {
	for pid := range t.known {
		b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		if st, err := parseStat(b); err == nil && st.state != 'Z' && st.state != 'X' {
			return true
		}
	}
	return false
}

func (t *noneTracker) scan(proc string) ([]int, error) {
	all, err := readAllStats(proc)
	if err != nil {
		return nil, err
	}
	in := t.members(all)
	pids := make([]int, 0, len(in))
	for pid := range in {
		pids = append(pids, pid)
	}
	return pids, nil
}

func (m *Manager) unitOfNone(pid int) (string, bool) {
	b, err := os.ReadFile(filepath.Join(m.opts.Proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", false
	}
	st, err := parseStat(b)
	if err != nil {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for unit, g := range m.groups {
		g.mu.Lock()
		t := &g.none
		hit := t.seeds[pid] || t.known[pid] || t.seeds[st.sid] || t.seeds[st.pgrp]
		g.mu.Unlock()
		if hit {
			return unit, true
		}
	}
	return "", false
}
