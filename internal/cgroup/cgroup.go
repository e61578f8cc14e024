// Package cgroup gives each unit a control group so tend can find every
// process the unit started, however it forked, kill them all, and tell
// when none is left. It prefers cgroup v2 (a cgroup2 mount at the root,
// or at <root>/unified on hybrid machines), falls back to one cgroup v1
// hierarchy (pids, freezer or a named one), and when neither is writable
// (an unprivileged tend without delegation) it tracks processes through
// /proc by session, process group and parentage ("none" mode).
//
// Units' groups live under <own cgroup>/<Base>/<unit>, where <own cgroup>
// is tend's own cgroup in the tracking hierarchy, so a tend started by
// another manager stays inside the subtree that manager gave it. A base
// belongs to one live manager at a time (see base.go).
package cgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Modes reported by Manager.Mode.
const (
	ModeV2   = "v2"
	ModeV1   = "v1"
	ModeNone = "none"
)

// statControllers are the v1 controllers used for Stats when the
// tracking hierarchy lacks the equivalent files.
var statControllers = []string{"memory", "cpuacct", "pids"}

// countedControllers are statControllers without pids, for a group whose
// tasks are counted in the tracking group instead (CountedGroup).
var countedControllers = []string{"memory", "cpuacct"}

// Options configure Detect. Zero values take the system defaults.
type Options struct {
	Root   string // cgroup file system root, default /sys/fs/cgroup
	Proc   string // proc mount, default /proc
	Base   string // directory for units' groups below tend's own cgroup, default "tend"
	Logger *slog.Logger
	// Force selects a mode instead of detecting it (tests): ModeV2, ModeV1
	// or ModeNone. If the forced mode is not usable Detect falls back as
	// usual and logs why.
	Force string
}

// Manager creates and tracks units' groups in one mode.
type Manager struct {
	opts Options
	log  *slog.Logger
	mode string
	// base is the directory of <own>/<Base> in the tracking hierarchy and
	// prefix the same path as /proc/PID/cgroup shows it.
	base, prefix string
	// trackCtrl names the v1 tracking hierarchy as /proc/PID/cgroup lists
	// its controllers ("pids", "name=systemd"); "" for v2.
	trackCtrl string
	events    *eventWatcher // v2 only
	// v2Ctrls caches the base's cgroup.subtree_control, which tend
	// writes when it claims the base (enableControllers drops the
	// cache): every start reads it for each limit otherwise, once per
	// connection for Accept=yes instances. nil: not read yet.
	v2Ctrls atomic.Pointer[string]
	// systemTasks caches SystemTasks.
	systemTasks struct {
		once sync.Once
		n    uint64
	}

	mu sync.Mutex
	// guards groups, gone, each group's cgid, statBase, stale, rm and the ownership locks
	groups map[string]*Group
	gone   goneGroups // ids of removed groups, for late attribution
	// statBase maps a v1 controller to its <own>/<Base> directory, for
	// stats the tracking hierarchy cannot give.
	statBase map[string]string
	// home maps a v1 controller of statBase to the `tasks` file of tend's
	// own group there (Group.Birth); written only while Open runs, so
	// read without the lock.
	home map[string]string
	// baseLock and statLocks hold the ownership locks of base and of
	// the statBase directories.
	baseLock  *os.File
	statLocks map[string]*os.File
	// stale names the groups an earlier run left, until a unit takes one
	// up again or PruneStale removes it.
	stale map[string]bool
	// rm queues the directories RemoveLater left (remover.go).
	rm remover
}

// Detect picks the best usable mode and never fails: at worst it returns
// a Manager in ModeNone, also when another manager owns the base (use
// Open to refuse that instead).
func Detect(opts Options) *Manager {
	m, err := Open(opts)
	if err != nil {
		m.log.Warn("tracking processes via /proc", "err", err)
	}
	return m
}

// Open is Detect that refuses a base another live manager owns (an
// *InUseError): two managers sharing a base would kill and prune each
// other's groups. Before it returns, the empty groups an earlier run
// left in the base are removed. On error, the returned Manager is in
// ModeNone and nothing in the base was changed.
func Open(opts Options) (*Manager, error) {
	if opts.Root == "" {
		opts.Root = "/sys/fs/cgroup"
	}
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	if opts.Base == "" {
		opts.Base = "tend"
	}
	m := &Manager{opts: opts, log: opts.Logger, groups: make(map[string]*Group), statBase: map[string]string{}, stale: map[string]bool{},
		statLocks: map[string]*os.File{}, home: map[string]string{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	mounts, err := readMounts(filepath.Join(opts.Proc, "self/mountinfo"))
	if err != nil {
		m.log.Warn("cannot read mounts; tracking processes via /proc", "err", err)
	}
	self, err := readCgroupFile(filepath.Join(opts.Proc, "self/cgroup"))
	if err != nil {
		m.log.Warn("cannot read own cgroup; tracking processes via /proc", "err", err)
	}
	order := []string{ModeV2, ModeV1}
	switch opts.Force {
	case ModeV1:
		order = []string{ModeV1, ModeV2}
	case ModeNone:
		order = nil
	}
	for _, mode := range order {
		var err error
		if mode == ModeV2 {
			err = m.tryV2(mounts, self)
		} else {
			err = m.tryV1(mounts, self)
		}
		if err == nil {
			m.mode = mode
			break
		}
		var inUse *InUseError
		if errors.As(err, &inUse) {
			m.mode, m.base, m.prefix, m.trackCtrl = ModeNone, "", "", ""
			return m, err
		}
		m.log.Debug("cgroup mode not usable", "mode", mode, "err", err)
	}
	if m.mode == "" {
		m.mode = ModeNone
		m.base, m.prefix = "", ""
	} else {
		if err := staleGroups(m.base, m.stale); err != nil {
			m.log.Warn("cannot list groups of an earlier run", "err", err)
		}
		m.setupStats(mounts, self)
	}
	m.log.Debug("cgroup mode", "mode", m.mode, "where", m.base)
	return m, nil
}

// tryV2 sets the manager up on the cgroup2 hierarchy if it is mounted at
// Root or Root/unified and tend may create groups in it.
func (m *Manager) tryV2(mounts []mount, self []cgroupLine) error {
	var mnt *mount
	for i := range mounts {
		mp := mounts[i].point
		if mounts[i].fstype == "cgroup2" && (mp == m.opts.Root || mp == filepath.Join(m.opts.Root, "unified")) {
			mnt = &mounts[i]
			break
		}
	}
	if mnt == nil {
		return errors.New("no cgroup2 mount")
	}
	own, ok := ownPath(self, "")
	if !ok {
		return errors.New("not in a cgroup2 group")
	}
	if err := m.makeBase(mnt, own); err != nil {
		return err
	}
	ev, err := newEventWatcher(m.log)
	if err != nil {
		m.dropBase()
		return err
	}
	m.events = ev
	m.enableControllers()
	return nil
}

// tryV1 picks one v1 hierarchy for tracking: pids, freezer, or a named
// (controller-less) one.
func (m *Manager) tryV1(mounts []mount, self []cgroupLine) error {
	for _, ctrl := range []string{"pids", "freezer", "name="} {
		for i := range mounts {
			mt := &mounts[i]
			if mt.fstype != "cgroup" || !mt.under(m.opts.Root) {
				continue
			}
			c := mt.controller(ctrl)
			if c == "" {
				continue
			}
			own, ok := ownPath(self, c)
			if !ok {
				continue
			}
			if err := m.makeBase(mt, own); err != nil {
				var inUse *InUseError
				if errors.As(err, &inUse) {
					return err
				}
				m.log.Debug("v1 hierarchy not usable", "controller", c, "err", err)
				continue
			}
			m.trackCtrl = c
			return nil
		}
	}
	return errors.New("no usable cgroup v1 hierarchy")
}

// makeBase creates <own>/<Base> in the hierarchy mounted at mnt, takes
// its ownership lock and checks that tend may move processes there.
func (m *Manager) makeBase(mnt *mount, own string) error {
	dir, ok := mnt.dirOf(own)
	if !ok {
		return fmt.Errorf("own cgroup %s is outside the mount at %s", own, mnt.point)
	}
	if err := unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK); err != nil {
		return fmt.Errorf("cannot move processes within %s: %w", dir, err)
	}
	base := filepath.Join(dir, m.opts.Base)
	lock, err := claim(base)
	if err != nil {
		return err
	}
	m.base, m.baseLock = base, lock
	m.prefix = filepath.Join(own, m.opts.Base)
	return nil
}

// dropBase gives up a base claimed by a mode that turned out unusable.
func (m *Manager) dropBase() {
	m.v2Ctrls.Store(nil)
	if m.baseLock != nil {
		m.baseLock.Close()
		m.baseLock = nil
	}
	_ = unix.Rmdir(m.base) // only if empty: it may hold an earlier run's groups
	m.base, m.prefix = "", ""
}

// setupStats finds v1 controllers for stats the tracking hierarchy lacks
// (all of them on a hybrid machine, whose cgroup2 has no controllers).
func (m *Manager) setupStats(mounts []mount, self []cgroupLine) {
	for _, ctrl := range append(slices.Clone(statControllers), limitControllers...) {
		if ctrl == m.trackCtrl {
			continue
		}
		if m.mode == ModeV2 && m.v2Has(ctrl) {
			continue
		}
		for i := range mounts {
			mt := &mounts[i]
			if mt.fstype != "cgroup" || !mt.under(m.opts.Root) || mt.controller(ctrl) == "" {
				continue
			}
			own, ok := ownPath(self, ctrl)
			if !ok {
				break
			}
			dir, ok := mt.dirOf(own)
			if !ok {
				break
			}
			base := filepath.Join(dir, m.opts.Base)
			lock, err := claim(base)
			if err != nil {
				m.log.Debug("no v1 stats group", "controller", ctrl, "err", err)
				break
			}
			if err := staleGroups(base, m.stale); err != nil {
				m.log.Debug("cannot list stats groups of an earlier run", "controller", ctrl, "err", err)
			}
			m.statBase[ctrl], m.statLocks[ctrl] = base, lock
			m.home[ctrl] = filepath.Join(dir, "tasks")
			break
		}
	}
}

// v2Has reports whether unit groups get the v2 controller's files.
func (m *Manager) v2Has(ctrl string) bool {
	if ctrl == "cpuacct" {
		return true // cpu.stat usage_usec exists in every v2 group
	}
	ctrls := m.v2Ctrls.Load()
	if ctrls == nil {
		b, err := os.ReadFile(filepath.Join(m.base, "cgroup.subtree_control"))
		if err != nil {
			return false
		}
		s := string(b)
		ctrls = &s
		m.v2Ctrls.Store(ctrls)
	}
	return containsField(*ctrls, ctrl)
}

func containsField(s, f string) bool {
	for _, x := range strings.Fields(s) {
		if x == f {
			return true
		}
	}
	return false
}

// Native reports whether unit groups get ctrl's files in their own
// directory (cgroup v2 with the controller enabled), so that a limit
// costs no v1 group of its own.
func (m *Manager) Native(ctrl string) bool { return m.mode == ModeV2 && m.v2Has(ctrl) }

// Mode is ModeV2, ModeV1 or ModeNone.
func (m *Manager) Mode() string { return m.mode }

// Where is the directory holding the units' groups ("" in ModeNone), for
// status output and logs.
func (m *Manager) Where() string { return m.base }

// Group creates (or opens) the group of unit. Calling it again for the
// same unit returns the same *Group until Remove.
func (m *Manager) Group(unit string) (*Group, error) { return m.group(unit, statControllers) }

// TrackingGroup is Group without the v1 groups that only give stats on a
// hybrid machine: for short-lived units made in numbers (one per
// connection), where each of those groups costs a mkdir, an rmdir and
// moving the process, which on cgroup v1 waits for an RCU grace period
// and holds up every fork meanwhile. Its Stats lack what only v1 has
// (memory, on a hybrid machine); tasks and CPU time come from the
// tracking group. Elsewhere it is the same as Group.
func (m *Manager) TrackingGroup(unit string) (*Group, error) { return m.group(unit, nil) }

// CountedGroup is Group without the v1 pids group, for a unit that sets
// no TasksMax=: there that group only counts the tasks, which Stats
// counts in the tracking group (cgroup.threads) instead, and it costs a
// mkdir, an rmdir and a move of every new process. A service
// directory's unit is one (a thousand of them at a bring-up).
// Elsewhere it is the same as Group.
func (m *Manager) CountedGroup(unit string) (*Group, error) {
	return m.group(unit, countedControllers)
}

// group returns unit's group, made with v1 groups for the stats
// controllers in stats where the tracking hierarchy lacks them.
func (m *Manager) group(unit string, stats []string) (*Group, error) {
	if unit == "" || unit == "." || unit == ".." || strings.ContainsAny(unit, "/\x00\n") {
		return nil, fmt.Errorf("cgroup for unit %q: invalid unit name", unit)
	}
	m.mu.Lock()
	g, ok := m.groups[unit]
	delete(m.stale, unit) // taken up again: PruneStale must leave it
	if !ok {
		m.takeBackLocked(unit)
	}
	m.mu.Unlock()
	if ok {
		return g, nil
	}
	// The directories are made without the lock, so that a batch of units
	// can get their groups in parallel (bring-up); mkdir is idempotent.
	g, err := m.newGroup(unit, stats)
	if err != nil {
		return nil, fmt.Errorf("cgroup for unit %s: %w", unit, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.groups[unit]; ok {
		g.discard() // another caller made it meanwhile
		return old, nil
	}
	m.groups[unit] = g
	return g, nil
}

// NoteExit tells the manager that pid was reaped. In v1 and none modes
// emptiness has no kernel event, so groups waited on are re-checked here.
func (m *Manager) NoteExit(pid int) {
	if m.mode == ModeV2 {
		return
	}
	m.mu.Lock()
	gs := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		gs = append(gs, g)
	}
	m.mu.Unlock()
	for _, g := range gs {
		g.noteExit(pid)
	}
}

// UnitOf returns the unit whose group holds pid.
func (m *Manager) UnitOf(pid int) (string, bool) {
	if m.mode == ModeNone {
		return m.unitOfNone(pid)
	}
	lines, err := readCgroupFile(filepath.Join(m.opts.Proc, fmt.Sprint(pid), "cgroup"))
	if err != nil {
		return "", false
	}
	p, ok := ownPath(lines, m.trackCtrl)
	if !ok {
		return "", false
	}
	rest, ok := strings.CutPrefix(p, m.prefix+"/")
	if !ok {
		return "", false
	}
	unit, _, _ := strings.Cut(rest, "/")
	return unit, unit != ""
}

// Close stops the event watcher and gives up the base. Groups and their
// processes stay.
func (m *Manager) Close() error {
	m.waitRemovals()
	m.mu.Lock()
	for _, g := range m.groups {
		g.closeFD()
	}
	if m.baseLock != nil {
		m.baseLock.Close()
		m.baseLock = nil
	}
	for ctrl, f := range m.statLocks {
		f.Close()
		delete(m.statLocks, ctrl)
	}
	m.mu.Unlock()
	if m.events != nil {
		return m.events.close()
	}
	return nil
}
