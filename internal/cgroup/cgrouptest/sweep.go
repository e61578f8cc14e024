// Package cgrouptest lets a test suite check that it leaves no cgroup
// behind: Snapshot before the tests, Sweep after. Thousands of leftover
// groups once made fork several times slower on a test machine and
// falsified every benchmark after them.
package cgrouptest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/flock"
)

// roots are the cgroup directories tend may create its bases in: the
// top of the v2 mount (alone or as "unified" on a hybrid host) and of
// every v1 hierarchy, and in each of them the test process's own group,
// under which tend makes its v1 stats groups (and which its instances,
// started by the test, share).
func roots() []string {
	tops := tops()
	out := slices.Clone(tops)
	for _, p := range cgroupPaths("self") {
		if p == "/" {
			continue
		}
		for _, d := range existing(tops, p) {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// tops are the cgroup mounts: the v2 one and every v1 hierarchy.
func tops() []string {
	out := []string{"/sys/fs/cgroup"}
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return out
}

// cgroupPaths are the paths of pid's groups, one per hierarchy, as
// /proc/<pid>/cgroup names them.
func cgroupPaths(pid string) []string {
	var out []string
	b, _ := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && !slices.Contains(out, parts[2]) {
			out = append(out, parts[2])
		}
	}
	return out
}

// existing lists the directories p names below each of tops. A path
// below a tend base names one instance's group, so wherever it exists
// it is that group (in whichever hierarchy tend made it).
func existing(tops []string, p string) []string {
	var out []string
	for _, top := range tops {
		if fi, err := os.Stat(filepath.Join(top, p)); err == nil && fi.IsDir() {
			out = append(out, filepath.Join(top, p))
		}
	}
	return out
}

// GroupDirs lists the directories of pid's groups below a tend base, in
// every hierarchy: the v2 one, the v1 one tend tracks with and the v1
// stats and limit ones (also those below the test process's own group,
// such as memory's). A test that kills a process no tend will reap
// removes these after it (children first: read them before the kill).
func GroupDirs(pid int) []string {
	var out []string
	t := tops()
	for _, p := range cgroupPaths(fmt.Sprint(pid)) {
		if strings.Contains(p, "/tend") {
			out = append(out, existing(t, p)...)
		}
	}
	return out
}

// Dirs lists the directories named base in every hierarchy, also below
// the test process's own groups: what an instance with that cgroup base
// has left.
func Dirs(base string) []string { return existing(roots(), base) }

// Snapshot lists the tend cgroup bases (tend-*) that exist now.
func Snapshot() map[string]bool {
	out := map[string]bool{}
	for _, r := range roots() {
		ents, _ := os.ReadDir(r)
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), "tend") {
				out[filepath.Join(r, e.Name())] = true
			}
		}
	}
	return out
}

// Sweep removes the tend cgroup bases made since before, among those
// whose name ours accepts, that no running tend holds (its base lock is
// free) and that hold no process, and returns them; busy lists those
// still holding processes: a test leaked them. Bases a live instance
// holds (another suite's, a user's) are left. ours keeps one suite from
// judging another's bases: test packages run at the same time, and a
// crash test's base is unlocked, with its services in it, between its
// kill -9 of tend and the next tend run.
func Sweep(before map[string]bool, ours func(base string) bool) (removed, busy []string) {
	for dir := range Snapshot() {
		if before[dir] || !ours(filepath.Base(dir)) {
			continue
		}
		f, err := flock.Dir(dir)
		if err != nil {
			continue // held by a live tend, or gone
		}
		if populated(dir) {
			busy = append(busy, dir)
		} else if removeTree(dir) == nil {
			removed = append(removed, dir)
		}
		f.Close()
	}
	return removed, busy
}

func populated(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "cgroup.procs" {
			if b, _ := os.ReadFile(p); len(strings.TrimSpace(string(b))) > 0 {
				found = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return found
}

// removeTree removes dir's groups, children first (cgroupfs removes a
// group's files with it; only directories need rmdir).
func removeTree(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil {
			last = err
		}
	}
	return last
}

// SweepAndReport is Sweep for a TestMain: it names on stderr what it
// removed and what still holds processes, and reports whether anything
// did (a leak that fails the suite).
func SweepAndReport(before map[string]bool, ours func(base string) bool) (leaked bool) {
	removed, busy := Sweep(before, ours)
	for _, d := range removed {
		fmt.Fprintf(os.Stderr, "removed cgroup left by a test: %s\n", d)
	}
	for _, d := range busy {
		fmt.Fprintf(os.Stderr, "FAIL: processes left by a test in cgroup %s\n", d)
	}
	return len(busy) > 0
}

// InProcessBase names the cgroup base of the managers a test process
// runs itself (not through a tend binary).
func InProcessBase() string { return fmt.Sprintf("tend-test-%d", os.Getpid()) }

// OnlyInProcess accepts the bases of this process's in-process managers.
func OnlyInProcess(base string) bool { return base == InProcessBase() }

// NotInProcess accepts every base but those of in-process managers (any
// test process's): those of tend instances a suite started.
func NotInProcess(base string) bool { return !strings.HasPrefix(base, "tend-test-") }

// Reclaim ends what an instance no tend runs any more (killed -9 by a
// test that then failed before it started the next one) left under its
// cgroup base in every hierarchy: it SIGKILLs the processes still in its
// groups, waits for them to end, and removes the groups and the bases.
// A base a live tend holds is left. It returns the pids it killed: a
// test that left them leaked them.
func Reclaim(base string) (killed []int, err error) {
	for _, dir := range Dirs(base) {
		f, err := flock.Dir(dir)
		if err != nil {
			continue // held by a live tend, or gone
		}
		pids := treePIDs(dir)
		for _, p := range pids {
			if unix.Kill(p, unix.SIGKILL) == nil {
				killed = append(killed, p)
			}
		}
		awaitExits(pids)
		err = removeTreeBusy(dir)
		f.Close()
		if err != nil {
			return killed, err
		}
	}
	return killed, nil
}

// treePIDs lists the processes in dir's groups.
func treePIDs(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "cgroup.procs" {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
		}
		return nil
	})
	return pids
}

// awaitExits waits (through pidfds, 10 s at most each) for pids to end.
func awaitExits(pids []int) {
	for _, p := range pids {
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			continue // gone already
		}
		_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10000)
		unix.Close(fd)
	}
}

// removeTreeBusy is removeTree for groups whose processes just ended:
// a group stays busy until its last process is reaped by whoever
// adopted it, which no event tells this process (a bounded retry).
func removeTreeBusy(dir string) error {
	var err error
	for range 100 {
		if err = removeTree(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
