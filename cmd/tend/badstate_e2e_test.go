package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/cgroup/cgrouptest"
	"github.com/tendproject/tend/internal/supervise"
)

// editState rewrites the state file a crashed tend left in work through
// edit, with a valid checksum.
func editState(t *testing.T, work string, edit func(*supervise.SavedState)) {
	t.Helper()
	path := filepath.Join(work, "run", "state")
	st, err := supervise.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(&st)
	data, err := supervise.EncodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTime is pid's start time in clock ticks since boot.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// killOrphan ends a process a test's tend left unsupervised on purpose,
// and removes the cgroups no tend removes for it then: its unit's, in
// every hierarchy it is in (the v1 stats and limit ones too), and the
// instance's bases once empty.
func killOrphan(t *testing.T, pid int) {
	dirs := cgrouptest.GroupDirs(pid)
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		awaitGone(t, pid)
		for _, d := range dirs {
			// The group is busy until the process is reaped by
			// whoever adopted it: a bounded wait.
			for range 100 {
				if err := os.Remove(d); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			_ = os.Remove(filepath.Dir(d)) // the base, once empty
		}
	})
}

// noCgroupsLeft checks, at the end of the test, that the instance (and
// those that took over from it) left no cgroup in any hierarchy. Call it
// before what its checks must follow (killOrphan): cleanups run last
// first.
func noCgroupsLeft(t *testing.T, in *instance) {
	t.Cleanup(func() { checkNoCgroups(t, in.base) })
}

// checkNoCgroups reports every directory of the cgroup base left in any
// hierarchy (the v2 one, the v1 ones and the v1 stats bases below the
// test's own groups), with the unit groups in it.
func checkNoCgroups(t *testing.T, base string) {
	t.Helper()
	for _, d := range cgrouptest.Dirs(base) {
		sub, _ := filepath.Glob(filepath.Join(d, "*.service"))
		t.Errorf("cgroup %s left behind (groups %q)", d, sub)
	}
}

// TestCrashBadState: what a crashed tend left is checked before it is
// believed. A main pid in the state file that now belongs to an
// unrelated process — even with a matching start time — is never
// signalled, and the unit is restarted by its policy; a unit whose file
// vanished while no manager ran is kept, not-found, until it stops (here
// with tend); a unit whose
// file changed is adopted and runs the new definition at its next start;
// and a state file that is truncated, corrupt, of another version or of
// another instance is set aside with a clear log line, the survivors not
// signalled (the units start afresh beside them, in their cgroups: a
// stop ends both).
func TestCrashBadState(t *testing.T) {
	setup := func(t *testing.T) (units, work string, in *instance) {
		units = t.TempDir()
		write := func(name, text string) {
			if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("default.target", "[Unit]\nWants=keep.service gone.service edit.service\n")
		write("keep.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n")
		write("gone.service", "[Service]\nExecStart=/bin/sleep 1001\n")
		write("edit.service", "[Service]\nExecStart=/bin/sleep 1002\nRestart=always\nRestartSec=0\n")
		work = t.TempDir()
		reapHolder(t, work)
		in = startTendAt(t, units, work)
		noCgroupsLeft(t, in)
		return units, work, in
	}

	t.Run("pid reused, unit vanished or changed", func(t *testing.T) {
		units, work, first := setup(t)
		keep, gone, edit := first.mainPID("keep.service"), first.mainPID("gone.service"), first.mainPID("edit.service")
		killOrphan(t, gone)
		first.crash()
		// keep's process dies; an unrelated one takes its place in the
		// state file, start time and all.
		_ = syscall.Kill(keep, syscall.SIGKILL)
		awaitGone(t, keep)
		other := exec.Command("/bin/sleep", "1000")
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { other.Process.Kill(); other.Wait() }()
		editState(t, work, func(st *supervise.SavedState) {
			for i, su := range st.Units {
				if su.Name != "keep.service" {
					continue
				}
				var e map[string]any
				if err := json.Unmarshal(su.Engine, &e); err != nil {
					t.Fatal(err)
				}
				e["main_pid"], e["main_start"] = other.Process.Pid, startTime(t, other.Process.Pid)
				st.Units[i].Engine, _ = json.Marshal(e)
			}
		})
		if err := os.Remove(filepath.Join(units, "gone.service")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\nWants=keep.service edit.service\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(units, "edit.service"), []byte("[Service]\nExecStart=/bin/sleep 1003\nRestart=always\nRestartSec=0\n"), 0o644); err != nil {
			t.Fatal(err)
		}

		second := startTendAt(t, units, work)
		if np := second.mainPID("keep.service"); np == other.Process.Pid || np == 0 {
			t.Fatalf("keep.service MainPID %d: the unrelated process %d was adopted\n%s", np, other.Process.Pid, second.stderr)
		}
		if got := second.mainPID("edit.service"); got != edit {
			t.Fatalf("edit.service MainPID %d; want the survivor %d", got, edit)
		}
		follow := second.follow("edit.service")
		_ = syscall.Kill(edit, syscall.SIGKILL)
		follow("Started edit.service")
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", second.mainPID("edit.service"))); !bytes.Contains(b, []byte("1003")) {
			t.Errorf("edit.service restarted as %q; want its new definition (sleep 1003)", b)
		}
		if !alive(other.Process.Pid) {
			t.Fatal("the unrelated process was signalled")
		}
		if !alive(gone) {
			t.Fatal("the process of the vanished unit was signalled")
		}
		// The vanished unit is kept, not-found, while it runs, and
		// stops with tend (TestCrashKeepsVanishedUnit).
		second.stop()
		awaitGone(t, gone)
		if !alive(other.Process.Pid) {
			t.Fatal("the unrelated process was signalled at exit")
		}
		log := second.stderr.String()
		for _, want := range []string{
			"Main process " + strconv.Itoa(other.Process.Pid) + " ended while the manager was down",
			"the file of a running unit is gone",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("tend's log lacks %q:\n%s", want, log)
			}
		}
	})

	for _, tc := range []struct {
		name string
		mess func(t *testing.T, work string, data []byte) []byte
	}{
		{"truncated", func(_ *testing.T, _ string, d []byte) []byte { return d[:len(d)/2] }},
		{"corrupt", func(_ *testing.T, _ string, d []byte) []byte {
			d = bytes.Clone(d)
			d[len(d)-10] ^= 0x20
			return d
		}},
		{"newer version", func(_ *testing.T, _ string, d []byte) []byte {
			return bytes.Replace(d, []byte("tend-state 1 "), []byte("tend-state 9 "), 1)
		}},
		{"older version", func(_ *testing.T, _ string, d []byte) []byte {
			return bytes.Replace(d, []byte("tend-state 1 "), []byte("tend-state 0 "), 1)
		}},
		{"another instance", func(t *testing.T, work string, _ []byte) []byte {
			editState(t, work, func(st *supervise.SavedState) { st.Instance = "/run/some-other-tend" })
			d, _ := os.ReadFile(filepath.Join(work, "run", "state"))
			return d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			units, work, first := setup(t)
			keep := first.mainPID("keep.service")
			killOrphan(t, keep)
			killOrphan(t, first.mainPID("gone.service"))
			killOrphan(t, first.mainPID("edit.service"))
			first.crash()
			path := filepath.Join(work, "run", "state")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.mess(t, work, data), 0o600); err != nil {
				t.Fatal(err)
			}
			second := startTendAt(t, units, work)
			if _, err := os.Stat(path + ".bad"); err != nil {
				t.Errorf("the bad state file was not set aside: %v", err)
			}
			second.mustCtl("status", "keep.service") // a round trip: the start is done
			if !alive(keep) {
				t.Fatalf("survivor %d signalled although the state file was refused", keep)
			}
			second.stop()
			if log := second.stderr.String(); !strings.Contains(log, "state of the previous manager unusable") {
				t.Errorf("tend's log does not say why the state was refused:\n%s", log)
			}
		})
	}
}
