package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/cgroup/cgrouptest"
)

// startTendAt is startTend with the runtime and journal directories in
// work, so that a second `tend run` can take over from the first.
func startTendAt(t testing.TB, units, work string, extra ...string) *instance {
	t.Helper()
	return startBinAt(t, tendBin, units, work, extra...)
}

// startBinAt is startTendAt running the tend binary at bin.
func startBinAt(t testing.TB, bin, units, work string, extra ...string) *instance {
	t.Helper()
	return launch(t, bin, units, work, nil, extra...)
}

// crash kills tend with SIGKILL and waits for it to be gone.
func (in *instance) crash() {
	in.t.Helper()
	in.crashed = true
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-in.exited:
	case <-time.After(20 * time.Second):
		in.t.Fatal("tend survived SIGKILL")
	}
}

func (in *instance) prop(unit, name string) string {
	in.t.Helper()
	return strings.TrimSpace(in.mustCtl("show", "-p", name, "--value", unit))
}

// unitProcs lists the pids in unit's cgroup, as the kernel sees them.
func unitProcs(t *testing.T, in *instance, unit string) []int {
	t.Helper()
	cg := in.prop(unit, "ControlGroup")
	var pids []int
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		b, err := os.ReadFile(filepath.Join(root, cg, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
		return pids
	}
	t.Fatalf("no cgroup.procs for %s (ControlGroup=%q)", unit, cg)
	return nil
}

// awaitGone waits for pid to end (a SIGKILLed orphan is reaped by
// whoever adopted it, or stays a zombie, which alive counts as gone).
func awaitGone(t testing.TB, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already reaped
	}
	defer unix.Close(fd)
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 20000); n != 1 || err != nil {
		t.Fatalf("pid %d still alive (%v)", pid, err)
	}
}

// TestCrashAdoptsServices: after kill -9 of tend, a new tend with the
// same directories takes back every service that still runs (same pid,
// no second copy, counters kept), notices the exit of an adopted one at
// once and restarts it by Restart=, and restarts a service that died
// while no manager ran, saying so.
func TestCrashAdoptsServices(t *testing.T) {
	units := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	poke := filepath.Join(t.TempDir(), "poke")
	write("default.target", "[Unit]\nWants=keep.service die.service once.service talk.service\n")
	// talk.service writes a line to stdout (and one to stderr) each time
	// it is poked, never while no manager reads.
	write("talk.service", "[Service]\nExecStart=/bin/sh -c 'while :; do if [ -e "+poke+" ]; then rm "+poke+"; echo poked-out; echo poked-err >&2; fi; sleep 0.05; done'\n")
	write("keep.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n")
	write("die.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=on-failure\nRestartSec=0\n")
	write("once.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
	work := t.TempDir()

	first := startTendAt(t, units, work)
	keep, die := first.mainPID("keep.service"), first.mainPID("die.service")
	// A restart before the crash: the counter must survive it.
	syscall.Kill(keep, syscall.SIGKILL)
	for i := 0; first.prop("keep.service", "NRestarts") != "1"; i++ {
		if i > 200 {
			t.Fatal("keep.service was not restarted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	keep = first.mainPID("keep.service")
	since := first.prop("keep.service", "ActiveEnterTimestamp")
	dieCursor := first.cursor("die.service")
	first.crash()

	// While no manager runs, die.service's process dies.
	syscall.Kill(die, syscall.SIGKILL)
	awaitGone(t, die)

	second := startTendAt(t, units, work)
	if got := second.mainPID("keep.service"); got != keep {
		t.Fatalf("keep.service MainPID after the crash = %d; want the survivor %d\n%s", got, keep, second.stderr)
	}
	if got := unitProcs(t, second, "keep.service"); len(got) != 1 || got[0] != keep {
		t.Fatalf("keep.service's cgroup holds %v; want only %d (no second copy)", got, keep)
	}
	if got := second.prop("keep.service", "NRestarts"); got != "1" {
		t.Errorf("NRestarts after the crash = %s; want 1", got)
	}
	if got := second.prop("keep.service", "ActiveEnterTimestamp"); got != since {
		t.Errorf("ActiveEnterTimestamp after the crash = %q; want %q", got, since)
	}
	if out := second.mustCtl("status", "keep.service"); !strings.Contains(out, "Main PID: "+strconv.Itoa(keep)) {
		t.Errorf("status does not show the adopted main pid %d:\n%s", keep, out)
	}
	if got := second.prop("once.service", "ActiveState"); got != "active" {
		t.Errorf("once.service (RemainAfterExit) after the crash: %s; want active", got)
	}

	// The adopted service's output pipes are read again.
	talk := second.follow("talk.service")
	if err := os.WriteFile(poke, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	talk("poked-out")
	talk("poked-err")

	// The service that died meanwhile is restarted, and says why.
	dieLog := second.followAfter("die.service", dieCursor)
	dieLog("Main process " + strconv.Itoa(die) + " ended while the manager was down")
	dieLog("Started die.service")
	if np := second.mainPID("die.service"); np == die || !alive(np) {
		t.Errorf("die.service main pid %d (was %d)", np, die)
	}

	// The adopted process is watched: its end is noticed and Restart=
	// applies.
	follow := second.follow("keep.service")
	syscall.Kill(keep, syscall.SIGKILL)
	follow("Scheduled restart job") // its (unknowable, so clean) exit is a debug message
	follow("Started keep.service")
	if np := second.mainPID("keep.service"); np == keep || !alive(np) {
		t.Errorf("keep.service after its adopted process died: main pid %d (was %d)", np, keep)
	}
	if got := second.prop("keep.service", "NRestarts"); got != "2" {
		t.Errorf("NRestarts = %s; want 2", got)
	}
}

// lockHolders names the processes that have the file at path open (who
// keeps an instance lock), for a failure message.
func lockHolders(path string) string {
	var want syscall.Stat_t
	if syscall.Stat(path, &want) != nil {
		return ""
	}
	var b strings.Builder
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			var st syscall.Stat_t
			if syscall.Stat(filepath.Join("/proc", p.Name(), "fd", fd.Name()), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
				cmd, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
				fmt.Fprintf(&b, "%s holds it (fd %s): %q\n", p.Name(), fd.Name(), bytes.ReplaceAll(cmd, []byte{0}, []byte(" ")))
			}
		}
	}
	return b.String()
}

// TestCrashedInstanceReclaimed: what a tend killed -9 left, when no tend
// takes over, is ended by the harness (reclaim, which every crashed
// instance's cleanup runs): its service and the service's groups in
// every hierarchy — the v1 stats ones below the test's own group and the
// v1 limit ones (cpu, cpuset) too —, its bases and its fd holder.
func TestCrashedInstanceReclaimed(t *testing.T) {
	units := writeUnits(t, map[string]string{
		"default.target":  "[Unit]\nWants=limited.service\n",
		"limited.service": "[Service]\nExecStart=/bin/sleep 1000\nCPUQuota=50%\nAllowedCPUs=0\nMemoryMax=64M\n",
	})
	work := t.TempDir()
	in := startTendAt(t, units, work)
	pid := in.mainPID("limited.service")
	groups := cgrouptest.GroupDirs(pid)
	in.crash()
	t.Logf("groups of the orphan: %q", groups)
	holder := holderPID(work)
	killed, err := in.reclaim()
	in.crashed = false // reclaimed here
	if err != nil {
		t.Error(err)
	}
	for _, p := range []int{pid, holder} {
		if !slices.Contains(killed, p) {
			t.Errorf("reclaim killed %v; want the service %d and the fd holder %d among them", killed, pid, holder)
		}
		awaitGone(t, p)
	}
	for _, d := range groups {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("group %s still there after Reclaim: %v", d, err)
		}
	}
	if left := cgrouptest.Dirs(in.base); len(left) > 0 {
		t.Errorf("bases left after Reclaim: %q", left)
	}
}

// TestCrashLeavesNoSecondRun: a manager killed between a restart's spawn
// and the state write that records it leaves the new run in the
// service's cgroup while the state file says auto-restart. The next
// manager must not start another run beside it (two instances of the
// service); it ends the unrecorded one first. The unrecorded run is made
// here by moving a process into the group of a unit that waits in
// auto-restart, then killing tend.
func TestCrashLeavesNoSecondRun(t *testing.T) {
	// The first run fails; the next ones stay up.
	ran := filepath.Join(t.TempDir(), "ran")
	units := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=again.service\n",
		"again.service": "[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestart=always\nRestartSec=2s\n" +
			"ExecStart=/bin/sh -c 'test -e " + ran + " && exec sleep 1000; touch " + ran + "; exit 3'\n",
	})
	work := t.TempDir()
	reapHolder(t, work)
	in := startTendAt(t, units, work)
	in.followAfter("again.service", "")("code=exited, status=3")
	cg := in.prop("again.service", "ControlGroup")
	run := unrecordedRun(t, cg)
	if got := in.prop("again.service", "SubState"); got != "auto-restart" {
		t.Fatalf("again.service is %s before the crash; want auto-restart (RestartSec= passed?)", got)
	}
	cursor := in.cursor("again.service")
	in.crash()
	in = startTendAt(t, units, work)
	next := in.followAfter("again.service", cursor)
	next("Scheduled restart job")
	next("Started again.service")
	main := in.mainPID("again.service")
	if got := unitProcs(t, in, "again.service"); alive(run.Process.Pid) || !slices.Equal(got, []int{main}) {
		t.Fatalf("the cgroup holds %v (the unrecorded run %d alive: %v); want only the restarted main process %d",
			got, run.Process.Pid, alive(run.Process.Pid), main)
	}
}

// TestCrashLeavesNoSecondStart: the same window for a unit at rest. A
// manager killed between a start's spawn and the state write that records
// it leaves the run in the group while the state file says dead (or has
// no entry for the unit at all); the next start, by the next manager,
// ends that run before it starts the service. The unrecorded run is made
// by moving a process into the group of a stopped unit, then killing tend.
func TestCrashLeavesNoSecondStart(t *testing.T) {
	units := writeUnits(t, map[string]string{
		"default.target": "[Unit]\n",
		"once.service":   "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	work := t.TempDir()
	reapHolder(t, work)
	in := startTendAt(t, units, work)
	in.mustCtl("start", "once.service")
	cg := in.prop("once.service", "ControlGroup")
	if cg == "" {
		t.Fatal("once.service runs without a ControlGroup")
	}
	in.mustCtl("stop", "once.service")
	// The group went with the stop; the unrecorded run's is made again.
	dir := filepath.Join("/sys/fs/cgroup/unified", cg)
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err != nil {
		dir = filepath.Join("/sys/fs/cgroup", cg)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	run := unrecordedRun(t, cg)
	cursor := in.cursor("once.service")
	in.crash()
	in = startTendAt(t, units, work)
	in.mustCtl("start", "once.service")
	in.followAfter("once.service", cursor)("did not record")
	main := in.mainPID("once.service")
	if got := unitProcs(t, in, "once.service"); alive(run.Process.Pid) || !slices.Equal(got, []int{main}) {
		t.Fatalf("the cgroup holds %v (the unrecorded run %d alive: %v); want only the new main process %d",
			got, run.Process.Pid, alive(run.Process.Pid), main)
	}
}

// unrecordedRun starts a sleep in the cgroup tend names cg, as a run the
// manager started but did not record before it crashed would be there.
func unrecordedRun(t *testing.T, cg string) *exec.Cmd {
	t.Helper()
	run := exec.Command("sleep", "1000")
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run.Process.Kill()
		_ = run.Wait()
	})
	moveToGroup(t, cg, run.Process.Pid)
	return run
}

// moveToGroup puts pid into the cgroup tend names cg in every hierarchy
// that has it (on a v1 host tend tracks in one of them), as a process
// tend started there would be.
func moveToGroup(t *testing.T, cg string, pid int) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cg))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", cg))
	moved := 0
	for _, d := range dirs {
		f := filepath.Join(d, "cgroup.procs")
		if _, err := os.Stat(f); err != nil {
			continue
		}
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		moved++
	}
	if moved == 0 {
		t.Fatalf("no cgroup.procs for %q", cg)
	}
}

// TestCrashKeepsVanishedUnit: a service runs, tend is killed, the
// service's file is deleted, and tend starts again. As after a
// daemon-reload, and as systemd keeps such a unit, the service is taken
// back not-found instead of left running unsupervised: status shows it
// with its pid, it refuses a start, `stop` ends it; another one is
// ended by tend's own shutdown.
func TestCrashKeepsVanishedUnit(t *testing.T) {
	units := writeUnits(t, map[string]string{
		"default.target": "[Unit]\n",
		"gone.service":   "[Service]\nExecStart=/bin/sleep 1000\n",
		"gone2.service":  "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	work := t.TempDir()
	reapHolder(t, work)
	in := startTendAt(t, units, work)
	in.mustCtl("start", "gone.service", "gone2.service")
	pid, pid2 := in.mainPID("gone.service"), in.mainPID("gone2.service")
	in.crash()
	for _, name := range []string{"gone.service", "gone2.service"} {
		if err := os.Remove(filepath.Join(units, name)); err != nil {
			t.Fatal(err)
		}
	}
	in = startTendAt(t, units, work)
	out, code := in.ctl("status", "gone.service")
	if code != 0 || !strings.Contains(out, "not-found") || !strings.Contains(out, "active (running)") || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Fatalf("status of a running unit whose file went while no manager ran (exit %d):\n%s", code, out)
	}
	if out, code := in.ctl("start", "gone.service"); code == 0 {
		t.Errorf("start of a unit without a file succeeded:\n%s", out)
	}
	in.mustCtl("stop", "gone.service")
	awaitGone(t, pid)
	if out, code := in.ctl("status", "gone.service"); code != 4 {
		t.Errorf("status once stopped (exit %d):\n%s", code, out)
	}
	if !alive(pid2) {
		t.Fatalf("gone2.service's pid %d ended before tend's shutdown", pid2)
	}
	in.stop()
	awaitGone(t, pid2)
}

// TestReexecKeepsVanishedUnit: the same across daemon-reexec (an upgrade
// after a unit file was deleted and no daemon-reload came): the new
// process keeps the running service, not-found, with its pid, and stops
// it when told.
func TestReexecKeepsVanishedUnit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gone.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	in.mustCtl("start", "gone")
	pid := in.mainPID("gone")
	if err := os.Remove(filepath.Join(dir, "gone.service")); err != nil {
		t.Fatal(err)
	}
	in.mustCtl("daemon-reexec")
	out, code := in.ctl("status", "gone")
	if code != 0 || !strings.Contains(out, "not-found") || !strings.Contains(out, "active (running)") || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Fatalf("status after daemon-reexec of a running unit whose file went (exit %d):\n%s", code, out)
	}
	in.mustCtl("stop", "gone")
	awaitGone(t, pid)
}
