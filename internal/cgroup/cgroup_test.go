package cgroup

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/reaper"
	"golang.org/x/sys/unix"
)

const hangGuard = 20 * time.Second

// newManager detects with mode forced and a base private to this test
// run, skipping if the machine cannot offer the mode.
func newManager(t *testing.T, mode string) *Manager {
	t.Helper()
	m := newManagerOpts(t, Options{Base: fmt.Sprintf("tend-test-%d", os.Getpid()), Force: mode})
	if m.Mode() != mode {
		t.Skipf("mode %s not available here (got %s)", mode, m.Mode())
	}
	return m
}

// newManagerOpts detects with opts; cleanup prunes and checks that no
// base directory is left.
func newManagerOpts(t *testing.T, opts Options) *Manager {
	t.Helper()
	m := Detect(opts)
	t.Cleanup(func() {
		if err := m.Prune(); err != nil {
			t.Error(err)
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		for _, d := range append([]string{m.base}, mapValues(m.statBase)...) {
			if _, err := os.Stat(d); d != "" && err == nil {
				t.Errorf("Prune left %s", d)
			}
		}
	})
	return m
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// startReaper runs a reaper that tells m about every exit.
func startReaper(t *testing.T, m *Manager) *reaper.Reaper {
	t.Helper()
	r, err := reaper.New(reaper.Options{Reaped: func(e reaper.Exit) { m.NoteExit(e.PID) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	return r
}

// startTree starts a shell in g that double-forks a long sleep (the
// grandchild outlives its parent subshell) and then sleeps itself. It
// returns the shell's and the grandchild's pids.
func startTree(t *testing.T, r *reaper.Reaper, g *Group) (sh, grandchild int) {
	t.Helper()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	defer inR.Close()
	defer outW.Close()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	sys := &syscall.SysProcAttr{Setsid: true}
	if fd, ok := g.CloneFD(); ok {
		sys.UseCgroupFD, sys.CgroupFD = true, fd
	}
	// The shell waits for a line on stdin so Add can place it before it
	// forks anything.
	script := `read go; (sleep 30 </dev/null >/dev/null 2>&1 & echo $!) ; exec sleep 30 >/dev/null`
	pid, err := r.Start(func(*int) (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
			Files: []uintptr{inR.Fd(), outW.Fd(), 2}, Sys: sys,
		})
	}, func(reaper.Exit) {})
	if err != nil {
		t.Fatal(err)
	}
	if sys.UseCgroupFD {
		g.Placed(pid)
	} else if err := g.Add(pid); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		t.Fatal(err)
	}
	fmt.Fprintln(inW, "go")
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err = strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Kill(grandchild, unix.SIGKILL); unix.Kill(pid, unix.SIGKILL) })
	return pid, grandchild
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func TestGroupLifecycle(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1, ModeNone} {
		for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGTERM} {
			t.Run(mode+"/"+unix.SignalName(sig), func(t *testing.T) {
				testLifecycle(t, mode, sig)
			})
		}
	}
}

func testLifecycle(t *testing.T, mode string, sig unix.Signal) {
	m := newManager(t, mode)
	r := startReaper(t, m)
	g, err := m.Group("double.service")
	if err != nil {
		t.Fatal(err)
	}
	if g2, _ := m.Group("double.service"); g2 != g {
		t.Error("Group returned a different *Group for the same unit")
	}
	sh, gc := startTree(t, r, g)

	pids, err := g.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, sh) || !slices.Contains(pids, gc) {
		t.Errorf("PIDs() = %v; want both %d and %d", pids, sh, gc)
	}
	if u, ok := m.UnitOf(gc); !ok || u != "double.service" {
		t.Errorf("UnitOf(%d) = %q, %v; want double.service", gc, u, ok)
	}
	if u, ok := m.UnitOf(os.Getpid()); ok {
		t.Errorf("UnitOf(self) = %q; want none", u)
	}
	st := g.Stats()
	if st.Tasks < 2 {
		t.Errorf("Stats().Tasks = %d; want >= 2", st.Tasks)
	}
	t.Logf("Stats() = %+v", st)
	_, v1mem := m.statBase["memory"]
	if (mode == ModeNone || v1mem || (mode == ModeV2 && m.v2Has("memory"))) && st.MemoryBytes <= 0 {
		t.Errorf("Stats().MemoryBytes = %d; want > 0", st.MemoryBytes)
	}
	_, v1cpu := m.statBase["cpuacct"]
	if (mode != ModeV1 || v1cpu) && st.CPUNanos < 0 {
		t.Errorf("Stats().CPUNanos = %d; want >= 0", st.CPUNanos)
	}
	empty := g.Empty()
	select {
	case <-empty:
		t.Fatal("Empty() closed while processes run")
	default:
	}
	if !g.Populated() {
		t.Error("Populated() = false while processes run")
	}
	if mode != ModeNone {
		if err := g.Remove(); err == nil {
			t.Error("Remove() of a populated group succeeded")
		}
	}
	if err := g.Kill(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-empty:
	case <-time.After(hangGuard):
		t.Fatal("Empty() never closed after Kill")
	}
	for _, p := range []int{sh, gc} {
		if alive(p) {
			t.Errorf("pid %d still alive after Kill", p)
		}
	}
	// Asked again, the same group must see the change (v2 reads its
	// cgroup.events again from the start).
	if g.Populated() {
		t.Error("Populated() = true after the group emptied")
	}
	if pids, _ := g.PIDs(); len(pids) != 0 {
		t.Errorf("PIDs() after Kill = %v; want none", pids)
	}
	select {
	case <-g.Empty():
	default:
		t.Error("Empty() of an empty group is not closed")
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if g.dir != "" {
		if _, err := os.Stat(g.dir); !os.IsNotExist(err) {
			t.Errorf("group dir %s still there: %v", g.dir, err)
		}
	}
}

// TestKillReachesNestedGroups checks that a process the unit moved into
// a child group of its own is still listed and killed.
func TestKillReachesNestedGroups(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, mode)
			r := startReaper(t, m)
			g, err := m.Group("nested.service")
			if err != nil {
				t.Fatal(err)
			}
			sh, gc := startTree(t, r, g)
			sub := filepath.Join(g.dir, "sub")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(sub)
			if err := writeInt(filepath.Join(sub, "cgroup.procs"), gc); err != nil {
				t.Fatal(err)
			}
			pids, err := g.PIDs()
			if err != nil || !slices.Contains(pids, gc) || !slices.Contains(pids, sh) {
				t.Fatalf("PIDs() = %v, %v; want %d (nested) and %d", pids, err, gc, sh)
			}
			empty := g.Empty()
			if err := g.Kill(unix.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-empty:
			case <-time.After(hangGuard):
				t.Fatal("Empty() never closed")
			}
			if alive(gc) {
				t.Errorf("nested pid %d survived Kill", gc)
			}
		})
	}
}

func TestDetectPrefersV2(t *testing.T) {
	m := Detect(Options{Base: fmt.Sprintf("tend-test-%d", os.Getpid())})
	defer func() {
		m.Close()
		os.Remove(m.base)
		for _, d := range m.statBase {
			os.Remove(d)
		}
	}()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 && strings.Contains(string(b), " - cgroup2 ") && m.Mode() != ModeV2 {
		t.Errorf("Mode() = %s with cgroup2 mounted and root; want v2", m.Mode())
	}
	if m.Mode() != ModeNone && !strings.HasSuffix(m.Where(), "/tend-test-"+strconv.Itoa(os.Getpid())) {
		t.Errorf("Where() = %q", m.Where())
	}
}

func TestDetectWithoutCgroupFS(t *testing.T) {
	m := Detect(Options{Root: t.TempDir(), Base: "x"})
	defer m.Close()
	if m.Mode() != ModeNone {
		t.Errorf("Mode() = %s with no cgroup mounts under Root; want none", m.Mode())
	}
}

func TestGroupRejectsBadNames(t *testing.T) {
	m := Detect(Options{Force: ModeNone, Base: testBase("names")}) // never the default base of a real tend
	defer m.Close()
	for _, name := range []string{"", ".", "..", "a/b", "x\x00"} {
		if _, err := m.Group(name); err == nil {
			t.Errorf("Group(%q) succeeded", name)
		}
	}
}

// TestEmptyOnNaturalExit checks that Empty fires when the last process
// exits on its own: through cgroup.events on v2, through the reaper's
// NoteExit elsewhere.
func TestEmptyOnNaturalExit(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1, ModeNone} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, mode)
			r := startReaper(t, m)
			g, err := m.Group("short.service")
			if err != nil {
				t.Fatal(err)
			}
			defer g.Remove()
			inR, inW, _ := os.Pipe()
			sys := &syscall.SysProcAttr{Setsid: true}
			if fd, ok := g.CloneFD(); ok {
				sys.UseCgroupFD, sys.CgroupFD = true, fd
			}
			// The shell and its background child exit once stdin closes.
			pid, err := r.Start(func(*int) (int, error) {
				return syscall.ForkExec("/bin/sh", []string{"sh", "-c", "read x; (cat >/dev/null &); exit 0"},
					&syscall.ProcAttr{Files: []uintptr{inR.Fd(), 1, 2}, Sys: sys})
			}, func(reaper.Exit) {})
			inR.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !sys.UseCgroupFD {
				if err := g.Add(pid); err != nil {
					t.Fatal(err)
				}
			}
			empty := g.Empty()
			select {
			case <-empty:
				t.Fatal("Empty() closed while the shell runs")
			default:
			}
			fmt.Fprintln(inW, "go")
			inW.Close()
			select {
			case <-empty:
			case <-time.After(hangGuard):
				t.Fatal("Empty() never closed")
			}
		})
	}
}

func TestCloseJoinsEventGoroutine(t *testing.T) {
	m := newManager(t, ModeV2)
	done := m.events.done
	if err := m.events.close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Error("event goroutine still running after close")
	}
	m.events = nil // already closed; keep the cleanup's Close from closing twice
}

// TestTrackingGroupHasNoStatsGroups: a tracking-only group is made in
// the tracking hierarchy alone, so a process started into it is not
// moved into any v1 stats group; tasks are still counted.
func TestTrackingGroupHasNoStatsGroups(t *testing.T) {
	m := newManager(t, ModeV2)
	if len(m.statBases()) == 0 {
		t.Skip("no v1 stats groups on this machine (not hybrid)")
	}
	g, err := m.TrackingGroup("conn.service")
	if err != nil {
		t.Fatal(err)
	}
	for ctrl, base := range m.statBases() {
		if _, err := os.Stat(filepath.Join(base, "conn.service")); err == nil {
			t.Errorf("%s stats group made for a tracking group", ctrl)
		}
	}
	if len(g.JoinFiles()) != 1 {
		t.Errorf("JoinFiles = %q; want the tracking group's only", g.JoinFiles())
	}
	full, err := m.Group("full.service")
	if err != nil {
		t.Fatal(err)
	}
	if len(full.JoinFiles()) < 2 {
		t.Errorf("Group's JoinFiles = %q; want the stats groups too", full.JoinFiles())
	}
	if st := g.Stats(); st.Tasks != 0 || st.CPUNanos < 0 {
		t.Errorf("Stats() = %+v; want 0 tasks and a CPU figure", st)
	}
	for _, gr := range []*Group{g, full} {
		if err := gr.Remove(); err != nil {
			t.Error(err)
		}
	}
}

// newHybridManager is newManager for v2 on a machine whose stats come
// from v1 groups; it returns the v1 pids base.
func newHybridManager(t *testing.T) (*Manager, string) {
	t.Helper()
	m := newManager(t, ModeV2)
	pidsBase, ok := m.statBases()["pids"]
	if !ok {
		t.Skip("no v1 pids group on this machine (not hybrid)")
	}
	return m, pidsBase
}

// TestCountedGroupHasNoPidsGroup: a counted group (a service directory's)
// gets the v1 stats groups but pids, whose only use without TasksMax= is
// counting; its tasks are counted in the tracking group.
func TestCountedGroupHasNoPidsGroup(t *testing.T) {
	m, pidsBase := newHybridManager(t)
	r := startReaper(t, m)
	g, err := m.CountedGroup("counted.svdir")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pidsBase, "counted.svdir")); err == nil {
		t.Error("v1 pids group made for a counted group")
	}
	if mem, ok := m.statBases()["memory"]; ok {
		if _, err := os.Stat(filepath.Join(mem, "counted.svdir")); err != nil {
			t.Errorf("no v1 memory group for a counted group: %v", err)
		}
	}
	for _, f := range g.JoinFiles() {
		if strings.HasPrefix(f, pidsBase+"/") {
			t.Errorf("JoinFiles has %s", f)
		}
	}
	fd, _ := g.CloneFD()
	pid, err := r.Start(func(*int) (int, error) {
		return syscall.ForkExec("/bin/sleep", []string{"sleep", "30"}, &syscall.ProcAttr{
			Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}})
	}, func(reaper.Exit) {})
	if err != nil {
		t.Fatal(err)
	}
	g.Placed(pid)
	if st := g.Stats(); st.Tasks != 1 {
		t.Errorf("Stats().Tasks = %d; want 1", st.Tasks)
	}
	unix.Kill(pid, unix.SIGKILL)
	select {
	case <-g.Empty():
	case <-time.After(hangGuard):
		t.Fatal("group never empty")
	}
	if err := g.Remove(); err != nil {
		t.Error(err)
	}
}

// TestCountedGroupRemovesEarlierPidsGroup: a group found from an earlier
// run that made a v1 pids group of the same name (an older tend, which
// made one for every unit) removes it too, or the base stays busy.
func TestCountedGroupRemovesEarlierPidsGroup(t *testing.T) {
	m, pidsBase := newHybridManager(t)
	old, err := m.Group("again.svdir")
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	delete(m.groups, "again.svdir") // as if made by an earlier run
	m.mu.Unlock()
	old.discard()
	g, err := m.CountedGroup("again.svdir")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pidsBase, "again.svdir")); err == nil {
		t.Error("an earlier run's v1 pids group was left")
	}
}

// TestGroupUsableAfterKill: after a SIGKILL of the whole group (a `tend
// kill -s KILL` of a Restart=always service), the next process cloned
// into the group must live. The kernel's cgroup.kill marked the group so
// that later CLONE_INTO_CGROUP children were killed at birth.
func TestGroupUsableAfterKill(t *testing.T) {
	m := newManager(t, ModeV2)
	r := startReaper(t, m)
	g, err := m.Group("killed.service")
	if err != nil {
		t.Fatal(err)
	}
	start := func() (int, <-chan reaper.Exit) {
		fd, ok := g.CloneFD()
		if !ok {
			t.Skip("no CLONE_INTO_CGROUP here")
		}
		exited := make(chan reaper.Exit, 1)
		pid, err := r.Start(func(*int) (int, error) {
			return syscall.ForkExec("/bin/sleep", []string{"sleep", "30"}, &syscall.ProcAttr{
				Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd},
			})
		}, func(e reaper.Exit) { exited <- e })
		if err != nil {
			t.Fatal(err)
		}
		g.Placed(pid)
		done := make(chan reaper.Exit, 1)
		t.Cleanup(func() {
			// Gone before the group is pruned.
			unix.Kill(pid, unix.SIGKILL)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("pid %d not reaped", pid)
			}
		})
		ch := make(chan reaper.Exit, 1)
		go func() { e := <-exited; ch <- e; done <- e }()
		return pid, ch
	}
	first, exited := start()
	if err := g.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d survived the group's SIGKILL", first)
	}
	// A child killed at birth never runs exec: by the time ForkExec
	// returns it is a zombie (or reaped already).
	second, _ := start()
	if !alive(second) {
		t.Fatalf("a process cloned into the group after its SIGKILL is dead at once (pid %d)", second)
	}
}

// TestUnavailableLimits: without cgroups nothing can be limited, and a
// v1-only memory controller has no memory.high.
func TestUnavailableLimits(t *testing.T) {
	v := uint64(1 << 20)
	l := Limits{MemoryMax: &v, MemoryHigh: &v, TasksMax: &v}
	none := Detect(Options{Force: ModeNone, Base: fmt.Sprintf("tend-test-%d", os.Getpid())})
	defer none.Close()
	if got := none.Unavailable(l); !slices.Equal(got, []string{"MemoryHigh", "MemoryMax", "TasksMax"}) {
		t.Errorf("ModeNone: Unavailable = %q; want every directive", got)
	}
	m := Detect(Options{Base: fmt.Sprintf("tend-test-%d", os.Getpid())})
	defer func() { m.Prune(); m.Close() }()
	if m.Mode() == ModeNone || m.v2Has("memory") {
		return
	}
	if got := m.Unavailable(l); !slices.Contains(got, "MemoryHigh") || slices.Contains(got, "MemoryMax") {
		t.Errorf("v1 memory: Unavailable = %q; want MemoryHigh but not MemoryMax", got)
	}
}

// TestEventsWatchedOnlyWhileWaited: on v2 a group's cgroup.events is
// watched (an inotify watch of the manager's) only while Empty is waited
// for, so that the exits and forks of a restarting service wake nothing;
// the watch goes once the group has emptied.
func TestEventsWatchedOnlyWhileWaited(t *testing.T) {
	m := newManager(t, ModeV2)
	r := startReaper(t, m)
	watches := func() int {
		b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", m.events.file.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "inotify wd:")
	}
	g, err := m.Group("watched.service")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	startTree(t, r, g)
	if n := watches(); n != 0 {
		t.Errorf("%d inotify watches while nobody waits; want 0", n)
	}
	empty := g.Empty()
	if n := watches(); n != 1 {
		t.Errorf("%d inotify watches while Empty is waited for; want 1", n)
	}
	if err := g.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-empty:
	case <-time.After(hangGuard):
		t.Fatal("Empty() never closed")
	}
	if n := watches(); n != 0 {
		t.Errorf("%d inotify watches after the group emptied; want 0", n)
	}
}
