package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxAncestors bounds the walk up the parent chain in ModeNone: deeper
// process trees than this are not expected below a unit.
const maxAncestors = 64

// Contains reports whether pid is one of the group's processes now: in
// the group or a child group of it (v1, v2), or in the tracked set
// (ModeNone: a seed, a member seen before, in a seed's session or process
// group, or a descendant of such a process). A pid that does not exist,
// or is a zombie, is not contained. The supervisor asks before it trusts a pid it was told
// about (PID files, MAINPID=) and before it signals a main process it
// adopted, so this is one small /proc read, not a scan of the group.
func (g *Group) Contains(pid int) bool {
	if pid <= 0 || pid == os.Getpid() {
		return false
	}
	if g.m.mode == ModeNone {
		return g.containsNone(pid)
	}
	dir := filepath.Join(g.m.opts.Proc, strconv.Itoa(pid))
	lines, err := readCgroupFile(filepath.Join(dir, "cgroup"))
	if err != nil {
		return false
	}
	p, ok := ownPath(lines, g.m.trackCtrl)
	if !ok || (p != g.path && !strings.HasPrefix(p, g.path+"/")) {
		return false
	}
	// A zombie keeps its cgroup line until it is reaped, but it has
	// ended: nothing to adopt or signal.
	st, err := readStat(dir)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

func readStat(dir string) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// containsNone walks from pid up its parents until it meets a member of
// the tracked set, tend itself, or init.
func (g *Group) containsNone(pid int) bool {
	self := os.Getpid()
	for range maxAncestors {
		st, err := readStat(filepath.Join(g.m.opts.Proc, strconv.Itoa(pid)))
		if err != nil || st.state == 'Z' || st.state == 'X' {
			return false
		}
		g.mu.Lock()
		t := &g.none
		hit := t.seeds[pid] || t.known[pid] || t.seeds[st.sid] || t.seeds[st.pgrp]
		g.mu.Unlock()
		if hit {
			return true
		}
		if st.ppid <= 1 || st.ppid == self {
			return false
		}
		pid = st.ppid
	}
	return false
}
