package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/notify"
)

// writeUnits writes unit files (name → text) into a new directory.
func writeUnits(t *testing.T, units map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// notifyScript is a Type=notify service that reports READY=1 from its
// main process and then waits.
const notifyScript = `/usr/bin/python3 -c "import os, socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'READY=1'); time.sleep(1000)"`

// inode identifies a file, to tell that nobody replaced it.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st.Ino
}

// TestSecondInstanceRefused starts a second tend on a running one's
// runtime directory, and a third on its journal: both are refused, name
// the running tend's pid, and leave it untouched — its control socket
// answers and its notify socket still makes a restarted service ready.
func TestSecondInstanceRefused(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("the notify service is a python3 one-liner")
	}
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=ready.service\n",
		"ready.service":  "[Service]\nType=notify\nTimeoutStartSec=20s\nExecStart=" + notifyScript + "\n",
	})
	in := startTend(t, dir)
	runtime := filepath.Dir(in.socket)
	journal := filepath.Join(filepath.Dir(runtime), "journal")
	notifyPath := filepath.Join(runtime, "notify")
	before := map[string]uint64{}
	for _, p := range []string{in.socket, notifyPath, in.syslog} {
		before[p] = inode(t, p)
	}
	pid := strconv.Itoa(in.cmd.Process.Pid)
	tests := []struct {
		name, runtime, journal, want string
	}{
		{"same runtime directory", runtime, filepath.Join(t.TempDir(), "journal"), "runtime directory " + runtime},
		{"same journal", filepath.Join(t.TempDir(), "run"), journal, "journal directory " + journal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, tendBin, "run", "--units", dir, "--runtime-dir", tt.runtime,
				"--journal-dir", tt.journal, "--syslog-socket", in.syslog)
			out, err := cmd.CombinedOutput()
			if err == nil || cmd.ProcessState == nil || cmd.ProcessState.ExitCode() <= 0 {
				t.Fatalf("second tend: %v; want a refusal\n%s", err, out)
			}
			if !strings.Contains(string(out), "pid "+pid) || !strings.Contains(string(out), tt.want) {
				t.Errorf("refusal does not name pid %s and %q:\n%s", pid, tt.want, out)
			}
		})
	}
	for p, ino := range before {
		if got := inode(t, p); got != ino {
			t.Errorf("%s was replaced by the refused instance", p)
		}
	}
	if out := in.mustCtl("status", "ready"); !strings.Contains(out, "Active: active (running)") {
		t.Errorf("status ready:\n%s", out)
	}
	// READY=1 can only reach tend through the first instance's notify socket.
	old := in.mainPID("ready")
	in.mustCtl("restart", "ready")
	if out := in.mustCtl("is-active", "ready"); strings.TrimSpace(out) != "active" {
		t.Errorf("ready.service after restart: %s", out)
	}
	if pid := in.mainPID("ready"); pid == old || !alive(pid) {
		t.Errorf("ready.service main pid %d after restart (was %d)", pid, old)
	}
}

// ownCgroup returns the directory of pid's cgroup in the cgroup2
// hierarchy, or "" when there is none.
func ownCgroup(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			for _, mnt := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
				if _, err := os.Stat(filepath.Join(mnt, "cgroup.procs")); err == nil {
					return filepath.Join(mnt, p)
				}
			}
		}
	}
	return ""
}

// TestInstancesOwnTheirCgroups runs two instances with the same unit at
// once: stopping and starting it in one, and stopping that tend, never
// touches the other's process. A base removed under a running instance
// is made again by the next start.
func TestInstancesOwnTheirCgroups(t *testing.T) {
	dir := writeUnits(t, map[string]string{
		"default.target":  "[Unit]\nWants=sleeper.service\n",
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	a, b := startTend(t, dir), startTend(t, dir)
	pa, pb := a.mainPID("sleeper"), b.mainPID("sleeper")
	ga := ownCgroup(t, pa)
	if ga == "" {
		t.Skip("no cgroup2 hierarchy")
	}
	if gb := ownCgroup(t, pb); filepath.Dir(gb) == filepath.Dir(ga) {
		t.Fatalf("both instances put their units under %s", filepath.Dir(ga))
	}
	b.mustCtl("stop", "sleeper")
	b.mustCtl("start", "sleeper")
	b.mustCtl("restart", "sleeper")
	b.stop()
	if !alive(pa) {
		t.Fatalf("the other instance's stop, start and exit killed sleeper.service of the first (pid %d)", pa)
	}
	if got := ownCgroup(t, pa); got != ga {
		t.Errorf("sleeper.service moved from %s to %s", ga, got)
	}

	// Remove the base while the first runs (empty, as another tend's
	// clean-up would): the next start makes it again.
	a.mustCtl("stop", "sleeper")
	base := filepath.Dir(ga)
	if err := os.Remove(base); err != nil {
		t.Fatalf("remove the empty base: %v", err)
	}
	a.mustCtl("start", "sleeper")
	np := a.mainPID("sleeper")
	if got := ownCgroup(t, np); filepath.Dir(got) != base {
		t.Errorf("sleeper.service runs in %s; want a group in the remade base %s", got, base)
	}
}

// TestCgroupBaseOwned runs two user instances of root with different
// runtime and journal directories: both would use the base
// tend-user-0, so the second is refused, names the first's pid and
// leaves its groups alone. Both run in a cgroup of the test's own, so
// that base is the test's too.
func TestCgroupBaseOwned(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	parent := ownCgroup(t, os.Getpid())
	if parent == "" {
		t.Skip("no cgroup2 hierarchy")
	}
	private := filepath.Join(parent, fmt.Sprintf("tend-e2e-%d", os.Getpid()))
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Skipf("cannot make a cgroup for the test: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(private); err != nil {
			t.Errorf("cgroup left behind: %v", err)
		}
	})
	cg, err := os.Open(private)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	units := writeUnits(t, map[string]string{
		"default.target":  "[Unit]\nWants=sleeper.service\n",
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	ns, err := notify.Listen(filepath.Join(t.TempDir(), "outer-notify"))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan notify.Message, 4)
	nctx, ncancel := context.WithCancel(context.Background())
	go ns.Serve(nctx, func(m notify.Message) { ready <- m })
	t.Cleanup(func() { ncancel(); ns.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	userTend := func(ctx context.Context, home string) *exec.Cmd {
		c := exec.CommandContext(ctx, tendBin, "run", "--user", "--units", units)
		c.Env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "XDG_STATE_HOME=" + filepath.Join(home, "state"),
			"PATH=/usr/bin:/bin", "NOTIFY_SOCKET=" + ns.Path}
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		return c
	}
	home := t.TempDir()
	first := userTend(context.Background(), home)
	var stderr bytes.Buffer
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	t.Cleanup(func() {
		first.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("first user instance exited: %v\n%s", err, &stderr)
	case <-ctx.Done():
		t.Fatalf("first user instance not ready\n%s", &stderr)
	}
	socket := filepath.Join(home, "run", "tend", "tend.sock")
	out, err := exec.Command(tendBin, "show", "--socket", socket, "-p", "MainPID", "--value", "sleeper").CombinedOutput()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid == 0 {
		t.Fatalf("MainPID: %v %s", err, out)
	}
	group := ownCgroup(t, pid)
	if filepath.Base(filepath.Dir(group)) != "tend-user-0" {
		t.Fatalf("sleeper.service runs in %s; want a group below tend-user-0", group)
	}

	out, err = userTend(ctx, t.TempDir()).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("second manager on the same cgroup base: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("pid %d", first.Process.Pid); !strings.Contains(string(out), want) || !strings.Contains(string(out), "tend-user-0") {
		t.Errorf("refusal does not name %s and the base:\n%s", want, out)
	}
	if !alive(pid) || ownCgroup(t, pid) != group {
		t.Errorf("the refused manager touched the first's sleeper.service (pid %d)", pid)
	}
	if out, err := exec.Command(tendBin, "restart", "--socket", socket, "sleeper").CombinedOutput(); err != nil {
		t.Errorf("restart in the first: %v %s", err, out)
	}
}

// TestRepeatedSignalEscalates stops tend while a unit ignores SIGTERM
// and may take minutes to stop: tend waits after the first SIGTERM; the
// second kills the unit's processes and tend exits at once.
func TestRepeatedSignalEscalates(t *testing.T) {
	in, pid, group := stoppingStubborn(t)
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("tend still running 20s after the second SIGTERM\n%s", in.stderr)
	}
	if alive(pid) {
		t.Errorf("stubborn.service (pid %d) outlived tend", pid)
	}
	if !strings.Contains(in.stderr.String(), "received SIGTERM again: killing remaining processes") {
		t.Errorf("tend did not say why it killed:\n%s", in.stderr)
	}
	if group != "" {
		if b, err := os.ReadFile(filepath.Join(group, "cgroup.procs")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("processes left in %s: %s", group, b)
		}
	}
}

// stoppingStubborn starts tend with a unit that ignores SIGTERM and
// sends tend one SIGTERM: it returns once tend is stopping the unit, with
// the unit's pid and cgroup.
func stoppingStubborn(t *testing.T) (*instance, int, string) {
	t.Helper()
	dir := writeUnits(t, map[string]string{
		"default.target":   "[Unit]\nWants=stubborn.service\n",
		"stubborn.service": "[Service]\nTimeoutStopSec=300\nExecStart=/bin/sh -c 'trap \"\" TERM; exec sleep 1000'\n",
	})
	in := startTend(t, dir, "--shutdown-timeout", "10m")
	pid := in.mainPID("stubborn")
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // should it survive
	group := ownCgroup(t, pid)
	stopping := in.follow("stubborn.service")
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping("Stopping stubborn.service")
	select {
	case err := <-in.exited:
		t.Fatalf("tend exited after one SIGTERM while the unit ignores it: %v", err)
	default:
	}
	if !alive(pid) {
		t.Fatal("the unit died of the first SIGTERM; the test needs one that ignores it")
	}
	return in, pid, group
}

// TestGivenUpShutdownLeavesNoCgroup: a third signal makes tend exit at
// once, without waiting for the rest of its clean-up, but not leaving
// its cgroups behind (it left every one: the instance's tend-* base, the
// unit's group, emptied by the second signal's SIGKILL a moment later,
// and the v1 statistics bases).
func TestGivenUpShutdownLeavesNoCgroup(t *testing.T) {
	in, _, group := stoppingStubborn(t)
	if group == "" {
		t.Skip("no cgroup v2 tracking here")
	}
	reapHolder(t, in.work)
	// The second kills the unit, the third gives up waiting: sent
	// together, the third comes while the shutdown still waits for the
	// unit's exit.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		if err := in.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-in.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("tend still running 20s after the third signal\n%s", in.stderr)
	}
	if !strings.Contains(in.stderr.String(), "exiting at once") {
		t.Logf("the shutdown ended before the third signal: the clean exit was tested\n%s", in.stderr)
	}
	checkNoCgroups(t, in.base)
}

// TestStderrReaderGone runs tend with its stderr into a pipe whose
// reader goes away after one byte (`tend run 2>&1 | head -c 1`): tend
// keeps logging into the broken pipe and keeps serving, and a service
// that asks for SIGPIPE's default action (IgnoreSIGPIPE=no) gets it
// although tend itself ignores SIGPIPE.
func TestStderrReaderGone(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "sigign")
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\n",
		"sigs.service":   "[Service]\nType=oneshot\nIgnoreSIGPIPE=no\nExecStart=/bin/sh -c 'grep ^SigIgn: /proc/self/status > " + marker + "'\n",
	})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	in := startTendOut(t, dir, pw)
	pw.Close()
	if _, err := pr.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	pr.Close() // the reader goes away

	// A reload logs to the broken stderr.
	in.mustCtl("daemon-reload")
	in.mustCtl("start", "sigs")
	select {
	case err := <-in.exited:
		t.Fatalf("tend died after its stderr reader went away: %v", err)
	default:
	}
	if out := in.mustCtl("show", "-p", "Result", "sigs"); !strings.Contains(out, "Result=success") {
		t.Errorf("show sigs after the reload: %s", out)
	}
	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(string(b), "SigIgn:")), 16, 64)
	if err != nil {
		t.Fatalf("SigIgn line %q: %v", b, err)
	}
	if mask&(1<<(syscall.SIGPIPE-1)) != 0 {
		t.Errorf("the service started with SIGPIPE ignored (SigIgn %016x)", mask)
	}
}
