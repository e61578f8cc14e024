package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// killRounds bounds Kill's re-scans: a process forking faster than tend
// can signal would otherwise keep it busy forever.
const killRounds = 64

// Group is one unit's control group (or, in ModeNone, its tracked set of
// processes).
type Group struct {
	m    *Manager
	unit string
	dir  string // directory in the tracking hierarchy; "" in ModeNone
	path string // path as /proc/PID/cgroup shows it
	// statDirs maps v1 controllers to this unit's directory in them.
	statDirs map[string]string
	// fd is the v2 directory, for CLONE_INTO_CGROUP, and events its
	// cgroup.events, read again from offset 0 for each look; -1 when not
	// open. Plain descriptors, not *os.File: os.NewFile asks each for its
	// flags (fcntl) and gives it a cleanup for the collector, per group,
	// so per connection of an Accept=yes socket.
	fd     int
	events int
	cgid   uint64 // v2 cgroup id (the directory's inode), looked up on first need; guarded by Manager.mu

	mu sync.Mutex
	// guards the fields below
	empty   chan struct{} // open while someone waits for emptiness
	removed bool
	none    noneTracker // ModeNone only
	// limitDirs maps v1 limit controllers (limitControllers) to this
	// unit's directory in them, made when a limit needs one.
	limitDirs map[string]string
	joinFirst bool // Apply's Limits.JoinFirst
	// found: the directory existed when the group was made (an earlier
	// run's, or this run's not yet removed), so limit groups of the same
	// name that this Group did not make may exist too (remove).
	found bool
}

func (m *Manager) newGroup(unit string, stats []string) (*Group, error) {
	g := &Group{m: m, unit: unit, statDirs: map[string]string{}, fd: -1, events: -1}
	if m.mode == ModeNone {
		g.path = "/" + unit
		g.none.init()
		return g, nil
	}
	g.dir = filepath.Join(m.base, unit)
	g.path = filepath.Join(m.prefix, unit)
	found, err := m.makeDir(g.dir)
	if err != nil {
		return nil, err
	}
	g.found = found
	var bases map[string]string
	if len(stats) > 0 {
		bases = m.statBases()
	}
	for ctrl, base := range bases {
		if !slices.Contains(stats, ctrl) {
			continue // a limit controller (see controllerDir), or not wanted
		}
		d := filepath.Join(base, unit)
		if _, err := m.makeDir(d); err != nil {
			m.log.Debug("no v1 stats group", "controller", ctrl, "unit", unit, "err", err)
			continue
		}
		g.statDirs[ctrl] = d
	}
	if m.mode == ModeV2 {
		// A plain open(2): os.OpenFile would register the directory with
		// Go's poller (four fcntl and an epoll_ctl, and another at its
		// close), per group, so per connection of an Accept=yes socket.
		dfd, err := unix.Open(g.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: g.dir, Err: err}
		}
		// Kept open: opening a cgroupfs file costs several times what
		// reading it does, and a restart looks at it before the fork.
		// (A plain open(2), not os.Open: this pollable file must not go
		// to Go's poller, which would cost system calls on every read.)
		efd, err := unix.Openat(dfd, "cgroup.events", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(dfd)
			return nil, &os.PathError{Op: "open", Path: g.eventsPath(), Err: err}
		}
		g.fd, g.events = dfd, efd
	}
	return g, nil
}

// makeDir makes a group's directory; found says it existed already. When
// the base went while tend ran, it (and the stats bases) is made again
// rather than leave the unit unable to start.
func (m *Manager) makeDir(dir string) (found bool, err error) {
	err = os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrNotExist) {
		if err = m.reclaim(); err == nil {
			err = os.Mkdir(dir, 0o755)
		}
	}
	if errors.Is(err, os.ErrExist) {
		return true, nil
	}
	return false, err
}

// mkdirGroup makes a group's directory; one that exists is fine.
func mkdirGroup(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// discard drops what newGroup opened for a group that was not kept.
func (g *Group) discard() { g.closeFD() }

// Unit is the name of the unit this group belongs to.
func (g *Group) Unit() string { return g.unit }

// Path is the group's path as /proc/PID/cgroup shows it, e.g.
// /tend/web.service. In ModeNone it is "/" + unit, for display only.
func (g *Group) Path() string { return g.path }

// CloneFD returns a descriptor of the group's directory for clone3's
// CLONE_INTO_CGROUP (syscall.SysProcAttr.CgroupFD). It exists only in
// ModeV2; the Group keeps it open until Remove or Manager.Close, so do
// not remove a group while a process is being started in it.
func (g *Group) CloneFD() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fd, g.fd >= 0
}

// JoinFiles lists the cgroup.procs files a process must write "0" to so
// that it joins this group (the tracking group first, then v1 stats
// groups). Empty in ModeNone. The spawn helper uses it to join before
// exec, so even the first fork of the new process is inside.
func (g *Group) JoinFiles() []string {
	var out []string
	if g.dir != "" {
		out = append(out, filepath.Join(g.dir, "cgroup.procs"))
	}
	return append(out, g.statFiles()...)
}

func (g *Group) statFiles() []string {
	var out []string
	for _, ctrl := range statControllers {
		if d, ok := g.statDirs[ctrl]; ok {
			out = append(out, filepath.Join(d, "cgroup.procs"))
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ctrl := range limitControllers {
		if d, ok := g.limitDirs[ctrl]; ok {
			out = append(out, filepath.Join(d, "cgroup.procs"))
		}
	}
	return out
}

// Add moves pid into the group (and the v1 stats groups), or in ModeNone
// starts tracking pid, its session and its process group.
func (g *Group) Add(pid int) error {
	if g.m.mode == ModeNone {
		g.mu.Lock()
		g.none.seed(pid)
		g.mu.Unlock()
		return nil
	}
	if err := writeInt(filepath.Join(g.dir, "cgroup.procs"), pid); err != nil {
		return fmt.Errorf("cgroup %s: add pid %d: %w", g.path, pid, err)
	}
	g.Placed(pid)
	return nil
}

// Placed completes the placement of a pid that was cloned straight into
// CloneFD: on hybrid machines it also joins the v1 groups used for
// stats and limits. Failures are logged, not returned.
func (g *Group) Placed(pid int) {
	g.PlacedLimits(pid)
	g.PlacedStats(pid)
}

// PlacedLimits is the part of Placed that must happen before the process
// can fork: joining the v1 limit groups, which its children inherit.
func (g *Group) PlacedLimits(pid int) {
	g.mu.Lock()
	var files []string
	for _, ctrl := range limitControllers {
		if d, ok := g.limitDirs[ctrl]; ok {
			files = append(files, filepath.Join(d, "cgroup.procs"))
		}
	}
	g.mu.Unlock()
	g.join(files, pid)
}

// Birth lists what a forking thread does so that its child is born in
// the unit's v1 stats groups instead of joining them after the fork:
// the thread writes "0" to each enter file (the `tasks` file of a stats
// group), forks, and writes "0" to the matching leave file (the `tasks`
// file of tend's own group in the same hierarchy). Moving only the
// calling thread spares the write the global lock, and the RCU grace
// period it waits for, that moving another process takes (it holds up
// every fork on the machine meanwhile); and the child counts in the
// groups from its first instruction. Empty where the unit has no v1
// stats groups or tend's own groups are unknown. (The files are not kept
// open: a descriptor more per unit brought 2000 service directories past
// a limit of 20000 open files.)
func (g *Group) Birth() (enter, leave []string) {
	for _, ctrl := range statControllers {
		d, ok := g.statDirs[ctrl]
		home, hok := g.m.home[ctrl]
		if ok && hok {
			enter = append(enter, filepath.Join(d, "tasks"))
			leave = append(leave, home)
		}
	}
	return enter, leave
}

// JoinThread moves the calling thread alone into the v1 group whose
// `tasks` file is path (Birth).
func JoinThread(path string) error { return writeFile(path, joinSelf) }

// joinSelf is what a thread writes to a v1 `tasks` file to join that
// group alone.
var joinSelf = []byte("0")

// PlacedStats is the part of Placed that may come late: joining the v1
// groups that only count (a child forked before misses them, which costs
// only the stats those groups keep; the v2 group counts it).
func (g *Group) PlacedStats(pid int) {
	for _, step := range g.StatsSteps(pid) {
		step()
	}
}

// StatsSteps is PlacedStats cut into one step per v1 stats group, for
// callers that run them in the background (each write may take an RCU
// grace period) and want to stop between two of them.
func (g *Group) StatsSteps(pid int) []func() {
	var steps []func()
	for _, ctrl := range statControllers {
		if d, ok := g.statDirs[ctrl]; ok {
			files := []string{filepath.Join(d, "cgroup.procs")}
			steps = append(steps, func() { g.join(files, pid) })
		}
	}
	return steps
}

func (g *Group) join(files []string, pid int) {
	for _, f := range files {
		if err := writeInt(f, pid); err != nil {
			g.m.log.Debug("cannot join stats or limit group", "file", f, "pid", pid, "err", err)
		}
	}
}

// PIDs lists the processes in the group (zombies excluded in ModeNone).
func (g *Group) PIDs() ([]int, error) {
	if g.m.mode == ModeNone {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.none.scan(g.m.opts.Proc)
	}
	pids, err := readTreePIDs(g.dir)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", g.path, err)
	}
	return pids, nil
}

// readTreePIDs lists the processes of a group and of any child groups
// the unit created below it.
func readTreePIDs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, os.ErrNotExist) {
				return nil // a child group vanished meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		p, err := readPIDs(filepath.Join(path, "cgroup.procs"))
		if err != nil && (path == dir || !errors.Is(err, os.ErrNotExist)) {
			return err
		}
		pids = append(pids, p...)
		return nil
	})
	return pids, err
}

// Kill sends sig to every process of the group, re-reading the group
// until a pass finds no process not yet signalled. It does not use
// cgroup.kill: on the kernels tend runs on, a group that was killed that
// way kills every process later cloned into it (CLONE_INTO_CGROUP) at
// birth, so a unit restarted after `tend kill -s KILL` could never run
// again (TestGroupUsableAfterKill).
func (g *Group) Kill(sig unix.Signal) error {
	self := os.Getpid()
	seen := map[int]bool{}
	for range killRounds {
		pids, err := g.PIDs()
		if err != nil {
			return err
		}
		fresh := false
		for _, p := range pids {
			if seen[p] || p == self {
				continue
			}
			seen[p], fresh = true, true
			if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("cgroup %s: kill pid %d: %w", g.path, p, err)
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("cgroup %s: processes keep appearing while killing", g.path)
}

// Empty returns a channel that is closed once the group has no process.
// If the group is empty now, the channel is already closed. On v2 the
// kernel's cgroup.events notification drives it; in other modes the
// reaper's exits do (Manager.NoteExit).
//
// On v2 the group's cgroup.events is watched only while someone waits:
// a watch kept for the group's whole life made every exit and every
// fork of a restarting service wake the watcher's goroutine twice for
// nothing.
func (g *Group) Empty() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.empty != nil {
		return g.empty
	}
	ch := make(chan struct{})
	if g.isEmptyLocked() {
		close(ch)
		return ch
	}
	if g.m.mode == ModeV2 && g.m.events != nil {
		if err := g.m.events.add(g.eventsPath(), g.checkEmpty); err != nil {
			g.m.log.Warn("cgroup emptiness not watched; a wait for it may not end", "group", g.path, "err", err)
		}
		// It may have emptied before the watch was in place.
		if g.isEmptyLocked() {
			g.m.events.remove(g.eventsPath())
			close(ch)
			return ch
		}
	}
	g.empty = ch
	return ch
}

// checkEmpty runs on every change of cgroup.events while Empty is waited
// for (v2) or on a reaped pid (other modes).
func (g *Group) checkEmpty() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.empty != nil && g.isEmptyLocked() {
		// The watch goes before the waiters are told: one that looks
		// (or makes the next wait) right after must not find it.
		if g.m.mode == ModeV2 && g.m.events != nil {
			g.m.events.remove(g.eventsPath())
		}
		close(g.empty)
		g.empty = nil
	}
}

func (g *Group) noteExit(pid int) {
	g.mu.Lock()
	waiting := g.empty != nil
	if g.m.mode == ModeNone {
		g.none.forget(pid)
	}
	g.mu.Unlock()
	if waiting {
		g.checkEmpty()
	}
}

// eventsPath is the group's cgroup.events, which says whether it is empty.
func (g *Group) eventsPath() string { return filepath.Join(g.dir, "cgroup.events") }

// readEventsLocked reads cgroup.events into buf: from the group's open
// file, where a read from offset 0 makes cgroupfs generate it afresh, or
// (once the group's files are closed) by its path. The caller's buffer
// stays on its stack: a returned one was 512 bytes of garbage per look,
// two looks per connection of an Accept=yes socket.
func (g *Group) readEventsLocked(buf []byte) ([]byte, error) {
	if g.events < 0 {
		return readSmall(g.eventsPath(), buf)
	}
	n, err := unix.Pread(g.events, buf, 0)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// readSmall reads a small cgroupfs file into buf with plain system calls:
// os.Open would register the (pollable) file with Go's poller and back,
// several system calls more.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// Populated reports whether any process is in the group (or its child
// groups). On v2 it is one read of cgroup.events, much cheaper than PIDs.
func (g *Group) Populated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.isEmptyLocked()
}

func (g *Group) isEmptyLocked() bool {
	switch {
	case g.removed:
		return true
	case g.m.mode == ModeV2:
		var buf [128]byte // "populated 0\nfrozen 0\n"
		b, err := g.readEventsLocked(buf[:])
		return err != nil || bytes.Contains(b, []byte("populated 0"))
	case g.m.mode == ModeV1:
		pids, err := readTreePIDs(g.dir)
		return err != nil || len(pids) == 0
	}
	// Cheap first: a known member still alive settles it without
	// reading every process in /proc.
	if g.none.anyAlive(g.m.opts.Proc) {
		return false
	}
	pids, err := g.none.scan(g.m.opts.Proc)
	return err != nil || len(pids) == 0
}

// Remove deletes the group's directories. It fails, changing nothing,
// while processes remain.
func (g *Group) Remove() error { return g.remove(false) }

// RemoveLater is Remove for a group whose directories need not be gone
// when it returns: an empty group is forgotten at once and its v1
// directories are removed by the manager's remover (remover.go), off
// the caller's thread. A group that is not empty is not removed, as by
// Remove. A v2 directory is removed at once: its rmdir does not wait for
// the kernel to retire the group (v1's does, for an RCU grace period),
// and its EBUSY answers whether a process is left, so the group is not
// read first, and no goroutine is woken per group (per connection of an
// Accept=yes socket).
func (g *Group) RemoveLater() error { return g.remove(true) }

func (g *Group) remove(later bool) error {
	g.noteID()
	queueOwn := later && g.m.mode != ModeV2 && g.dir != "" && !g.Populated()
	if queueOwn {
		// Left for the remover, below.
	} else if g.dir != "" {
		if err := unix.Rmdir(g.dir); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("cgroup %s: remove: %w", g.path, err)
		}
	} else if pids, err := g.PIDs(); err == nil && len(pids) > 0 {
		return fmt.Errorf("cgroup %s: remove: %d processes remain", g.path, len(pids))
	}
	g.mu.Lock()
	limitDirs := g.limitDirs
	g.limitDirs = nil
	g.mu.Unlock()
	// An earlier run's limit group of the same name (reused, not made by
	// this Group) is removed too, or it would keep the base busy; so is
	// a stats group this Group did without (CountedGroup, TrackingGroup)
	// that an earlier run made. There can be one only if the group's
	// directory was found, not made: a per-connection instance, whose
	// name is new, is spared three failing rmdirs in the v1 hierarchies
	// of a hybrid system.
	if g.found {
		if limitDirs == nil {
			limitDirs = map[string]string{}
		}
		for ctrl, base := range g.m.statBases() {
			if limitDirs[ctrl] == "" && g.statDirs[ctrl] == "" {
				limitDirs[ctrl] = filepath.Join(base, g.unit)
			}
		}
	}
	var dirs []string
	if queueOwn {
		dirs = append(dirs, g.dir)
	}
	for _, m := range []map[string]string{g.statDirs, limitDirs} {
		for _, d := range m {
			dirs = append(dirs, d)
		}
	}
	if !later {
		removeDirs(g.m.log, dirs)
	}
	g.m.mu.Lock()
	if g.m.groups[g.unit] == g {
		delete(g.m.groups, g.unit)
	}
	g.m.gone.add(g.cgid, g.unit)
	if later && len(dirs) > 0 {
		g.m.queueRemovalLocked(removal{unit: g.unit, dirs: dirs})
	}
	g.m.mu.Unlock()
	if g.dir != "" && g.m.events != nil {
		g.m.events.remove(g.eventsPath())
	}
	g.closeFD()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removed = true
	if g.empty != nil {
		close(g.empty)
		g.empty = nil
	}
	return nil
}

func (g *Group) closeFD() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, fd := range []*int{&g.fd, &g.events} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

func writeInt(path string, n int) error {
	return writeFile(path, strconv.AppendInt(nil, int64(n), 10))
}

// writeFile writes b to the cgroup file at path with one write.
func writeFile(path string, b []byte) error {
	// Raw calls: os.File would register each cgroup file with the
	// runtime's poller (kernfs files are pollable), two more system calls
	// per write on the start path, and some callers run on the forker's
	// thread, whose descriptor numbers are its own (spawn.Forker).
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	_, err = unix.Write(fd, b)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func readPIDs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids, nil
}
