package cgroup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testBase is a base private to this test process.
func testBase(name string) string { return fmt.Sprintf("tend-test-%s-%d", name, os.Getpid()) }

// earlierRun opens a v2 manager on a base private to the test, to leave
// groups behind for the next manager on the same options; the test
// closes it (without pruning, as a killed tend).
func earlierRun(t *testing.T, name string) (Options, *Manager) {
	t.Helper()
	opts := Options{Base: testBase(name), Force: ModeV2}
	first := Detect(opts)
	if first.Mode() != ModeV2 {
		first.Close()
		t.Skip("no writable cgroup2 here")
	}
	return opts, first
}

// groupDirs makes unit's group (with its stats groups) and returns it
// with its directories in every hierarchy.
func groupDirs(t *testing.T, m *Manager, unit string) (*Group, []string) {
	t.Helper()
	g, err := m.Group(unit)
	if err != nil {
		t.Fatal(err)
	}
	return g, append([]string{g.dir}, mapValues(g.statDirs)...)
}

// TestPruneStaleRemovesWhatNoUnitTookUp: the empty groups an earlier run
// of the instance left in its base stay through Open (removing them would
// hold up the first start); a unit of the new run takes its own up again,
// and PruneStale removes the others, in every hierarchy.
func TestPruneStaleRemovesWhatNoUnitTookUp(t *testing.T) {
	opts, first := earlierRun(t, "stale")
	left := func(name string) []string {
		dirs := []string{filepath.Join(first.base, name)}
		for _, b := range first.statBase {
			dirs = append(dirs, filepath.Join(b, name))
		}
		for _, d := range dirs {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dirs
	}
	stale, reused, late := left("stale.service"), left("reused.service"), left("late.service")
	first.Close() // the earlier run ends without pruning (killed)

	m := newManagerOpts(t, opts)
	for _, d := range slices.Concat(stale, reused, late) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s gone at Open: %v", d, err)
		}
	}
	g, err := m.Group("reused.service")
	if err != nil {
		t.Fatal(err)
	}
	m.PruneStale()
	// A unit that takes a name up after PruneStale keeps (or makes
	// again) its directories, whether the remover got to them or not.
	lg, err := m.Group("late.service")
	if err != nil {
		t.Fatal(err)
	}
	m.waitRemovals()
	for _, d := range stale {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after PruneStale: %v", d, err)
		}
	}
	for _, d := range reused {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s, taken up again, removed by PruneStale: %v", d, err)
		}
	}
	for _, d := range late {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s, taken up after PruneStale, removed: %v", d, err)
		}
	}
	for _, g := range []*Group{g, lg} {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenRefusesOwnedBase: a second manager on a base another live
// manager owns is refused before it changes anything there, and the
// message names the owner.
func TestOpenRefusesOwnedBase(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1} {
		t.Run(mode, func(t *testing.T) {
			opts := Options{Base: testBase("owned"), Force: mode}
			owner := newManagerOpts(t, opts)
			if owner.Mode() != mode {
				t.Skipf("mode %s not available here", mode)
			}
			// An empty group of the owner: a second manager that pruned at
			// start-up would remove it.
			g, err := owner.Group("idle.service")
			if err != nil {
				t.Fatal(err)
			}
			second, err := Open(opts)
			defer second.Close()
			var inUse *InUseError
			if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Dir != owner.base {
				t.Fatalf("Open of an owned base: %v; want *InUseError naming pid %d and %s", err, os.Getpid(), owner.base)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
				t.Errorf("message %q does not name the owner", err)
			}
			if second.Mode() != ModeNone || second.Where() != "" {
				t.Errorf("refused manager: mode %s at %q; want none", second.Mode(), second.Where())
			}
			if _, err := os.Stat(filepath.Join(owner.base, "idle.service")); err != nil {
				t.Errorf("the owner's group was touched: %v", err)
			}
			if err := second.Prune(); err != nil {
				t.Error(err)
			}
			if _, err := os.Stat(filepath.Join(owner.base, "idle.service")); err != nil {
				t.Errorf("the refused manager's Prune removed the owner's group: %v", err)
			}
			_ = g
		})
	}
}

// TestPruneLeavesForeignGroups: Prune removes the groups this manager
// made, not a directory someone else made in its base.
func TestPruneLeavesForeignGroups(t *testing.T) {
	m := newManager(t, ModeV2)
	if _, err := m.Group("known.service"); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(m.base, "foreign")
	if err := os.Mkdir(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Prune(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.base, "known.service")); !os.IsNotExist(err) {
		t.Errorf("own group still there after Prune: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("Prune removed a group it did not make: %v", err)
	}
	os.Remove(foreign)
}

// TestGroupRecreatesBase: when the base is removed while tend runs, the
// next group makes it again (and claims it) instead of failing.
func TestGroupRecreatesBase(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, mode)
			r := startReaper(t, m)
			g, err := m.Group("gone.service")
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Remove(); err != nil {
				t.Fatal(err)
			}
			for _, d := range append([]string{m.base}, mapValues(m.statBase)...) {
				if err := os.Remove(d); err != nil {
					t.Fatal(err)
				}
			}
			g, err = m.Group("gone.service")
			if err != nil {
				t.Fatalf("Group after the base was removed: %v", err)
			}
			sh, _ := startTree(t, r, g)
			if u, ok := m.UnitOf(sh); !ok || u != "gone.service" {
				t.Errorf("UnitOf(%d) = %q, %v; want gone.service", sh, u, ok)
			}
			if err := g.Kill(9); err != nil {
				t.Fatal(err)
			}
			<-g.Empty()
			// The new base is claimed: another manager is refused.
			other, err := Open(Options{Base: m.opts.Base, Force: mode})
			other.Close()
			var inUse *InUseError
			if !errors.As(err, &inUse) {
				t.Errorf("Open of the remade base: %v; want *InUseError", err)
			}
		})
	}
}

// TestPruneRemovesStaleGroupsOnceEmpty: an earlier run's group that still
// had a process when PruneStale came (a unit that vanished while no
// manager ran, its process left alone) is removed by Prune at shutdown
// once that process has ended, in the tracking and in every v1 stats
// hierarchy, and so are the bases it kept busy.
func TestPruneRemovesStaleGroupsOnceEmpty(t *testing.T) {
	opts, first := earlierRun(t, "busystale")
	g, dirs := groupDirs(t, first, "vanished.service")
	sleep := exec.Command("/bin/sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	if err := g.Add(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	first.Close() // the earlier run ends without pruning (killed)

	m := newManagerOpts(t, opts) // its cleanup checks the bases are gone
	m.PruneStale()
	m.waitRemovals()
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s, still holding a process, removed by PruneStale: %v", d, err)
		}
	}
	sleep.Process.Kill()
	sleep.Wait()
	if err := m.Prune(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left after Prune although its process ended: %v", d, err)
		}
	}
}

// TestTrackingGroupRemovesEarlierStatsGroups: an earlier run's group
// that had v1 stats groups, taken up again as a tracking-only group,
// takes those along when it is removed (it did not make them, but they
// would keep the bases busy).
func TestTrackingGroupRemovesEarlierStatsGroups(t *testing.T) {
	opts, first := earlierRun(t, "trackfound")
	_, dirs := groupDirs(t, first, "reused.service")
	first.Close()
	if len(dirs) < 2 {
		t.Skip("no v1 stats groups on this machine (not hybrid)")
	}

	m := newManagerOpts(t, opts) // its cleanup checks the bases are gone
	tg, err := m.TrackingGroup("reused.service")
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left after the group's Remove: %v", d, err)
		}
	}
}
