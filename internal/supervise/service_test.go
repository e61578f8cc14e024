package supervise

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
)

func TestSimpleStartStop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"a.service": "[Unit]\nDescription=A\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	res := h.job(plan.Start, "a.service")
	if res[0].Result != "done" {
		t.Fatalf("start: %+v", res)
	}
	st := h.status("a.service")
	if st.Active != Active || st.Sub != "running" || !alive(st.MainPID) {
		t.Fatalf("after start: %s/%s main %d", st.Active, st.Sub, st.MainPID)
	}
	pid := st.MainPID
	if res := h.job(plan.Stop, "a.service"); res[0].Result != "done" {
		t.Fatalf("stop: %+v", res)
	}
	st = h.status("a.service")
	if st.Active != Inactive || alive(pid) {
		t.Fatalf("after stop: %s, pid %d alive=%v", st.Active, pid, alive(pid))
	}
	if !h.logs.has("Started a.service - A.") || !h.logs.has("Stopped a.service - A.") {
		t.Errorf("missing Started/Stopped events:\n%s", h.logs.dump())
	}
}

func TestRestartAfterKill(t *testing.T) {
	h := newHarness(t, map[string]string{
		"r.service": "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n",
	})
	h.job(plan.Start, "r.service")
	first := h.killMain("r.service")
	var st Status
	h.waitFor("a new main process", func() bool {
		st = h.status("r.service")
		return st.Sub == "running" && st.MainPID != 0 && st.MainPID != first
	})
	if st.NRestarts != 1 || !alive(st.MainPID) {
		t.Fatalf("NRestarts %d, main %d alive=%v", st.NRestarts, st.MainPID, alive(st.MainPID))
	}
	if !h.logs.has("code=killed, status=9/KILL") {
		t.Errorf("exit not logged:\n%s", h.logs.dump())
	}
}

func TestRestartOnFailureNotOnSuccess(t *testing.T) {
	h := newHarness(t, map[string]string{
		"ok.service": "[Service]\nExecStart=/bin/true\nRestart=on-failure\nRestartSec=0\n",
	})
	h.job(plan.Start, "ok.service")
	st := h.waitState("ok.service", "dead")
	if st.NRestarts != 0 || st.Result != ResultSuccess {
		t.Fatalf("got restarts %d result %s; want 0 success", st.NRestarts, st.Result)
	}
}

func TestStartLimitHit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"crash.service": "[Unit]\nStartLimitIntervalSec=1h\nStartLimitBurst=3\n[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=0\n",
	})
	// Type=simple: the start job is done once the process runs; the
	// crash loop that follows ends at the start limit.
	h.job(plan.Start, "crash.service")
	st := h.waitState("crash.service", "failed")
	if st.Active != FailedState || st.Result != ResultStartLimitHit || st.NRestarts != 3 {
		t.Fatalf("got %s result %s restarts %d; want failed start-limit-hit 3 (the third restart is refused)", st.Active, st.Result, st.NRestarts)
	}
	if err := h.m.ResetFailed(t.Context(), []string{"crash.service"}); err != nil {
		t.Fatal(err)
	}
	if st := h.status("crash.service"); st.Active != Inactive {
		t.Fatalf("after reset-failed: %s; want inactive", st.Active)
	}
}

func TestOneshotRemainAfterExit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"setup.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo one > %D/out'\nExecStart=/bin/sh -c 'echo two >> %D/out'\n",
	})
	if res := h.job(plan.Start, "setup.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v", res)
	}
	b, err := os.ReadFile(h.path("out"))
	if err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("out = %q, %v", b, err)
	}
	if st := h.status("setup.service"); st.Sub != "exited" || st.Active != Active {
		t.Fatalf("got %s/%s; want active/exited", st.Active, st.Sub)
	}
}

func TestForkingPIDFile(t *testing.T) {
	h := newHarness(t, map[string]string{
		"d.service": "[Service]\nType=forking\nPIDFile=%D/d.pid\nExecStart=/bin/sh -c 'sleep 1000 & echo $! > %D/d.pid'\n",
	})
	if res := h.job(plan.Start, "d.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v\n%s", res, h.logs.dump())
	}
	st := h.status("d.service")
	b, _ := os.ReadFile(h.path("d.pid"))
	want, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if st.MainPID != want || !alive(want) {
		t.Fatalf("main pid %d; want %d from the PID file (alive=%v)", st.MainPID, want, alive(want))
	}
	h.job(plan.Stop, "d.service")
	if alive(want) {
		t.Fatalf("daemon %d survived stop", want)
	}
}

func TestNotifyReady(t *testing.T) {
	script := `import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
open(os.environ["OUT"], "w").write("before-ready")
s.send(b"READY=1\nSTATUS=all good")
time.sleep(1000)
`
	h := newHarness(t, map[string]string{
		"n.py":      script,
		"n.service": "[Service]\nType=notify\nEnvironment=OUT=%D/marker\nExecStart=/usr/bin/python3 %D/n.py\n",
	})
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 not installed")
	}
	if res := h.job(plan.Start, "n.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v\n%s", res, h.logs.dump())
	}
	// The job finished only after READY=1, which came after the marker.
	if b, _ := os.ReadFile(h.path("marker")); string(b) != "before-ready" {
		t.Fatalf("start finished before the service was ready (marker %q)", b)
	}
	if st := h.status("n.service"); st.StatusText != "all good" || st.Sub != "running" {
		t.Fatalf("status %q sub %s", st.StatusText, st.Sub)
	}
}

func TestNotifyNeverReadyTimesOut(t *testing.T) {
	h := newHarness(t, map[string]string{
		"slow.service": "[Service]\nType=notify\nTimeoutStartSec=300ms\nExecStart=/bin/sleep 1000\n",
	})
	res := h.job(plan.Start, "slow.service")
	st := h.status("slow.service")
	if res[0].Result != "failed" || st.Result != ResultTimeout {
		t.Fatalf("job %+v, result %s; want failed/timeout", res, st.Result)
	}
}

func TestMissingBinaryIs203(t *testing.T) {
	h := newHarness(t, map[string]string{
		"nx.service": "[Service]\nType=exec\nExecStart=/nonexistent/binary --flag\n",
	})
	res := h.job(plan.Start, "nx.service")
	st := h.status("nx.service")
	if res[0].Result != "failed" || st.ExecMainCode != "exited" || st.ExecMainStat != 203 {
		t.Fatalf("job %+v; main %s/%d; want failed with exit 203", res, st.ExecMainCode, st.ExecMainStat)
	}
	if !h.logs.has("status=203/EXEC") {
		t.Errorf("203/EXEC not logged:\n%s", h.logs.dump())
	}
}

func TestStartPreFailureRunsStopPost(t *testing.T) {
	h := newHarness(t, map[string]string{
		"p.service": "[Service]\nExecStartPre=/bin/false\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT > %D/post'\n",
	})
	res := h.job(plan.Start, "p.service")
	st := h.status("p.service")
	if res[0].Result != "failed" || st.Active != FailedState || st.Result != ResultExitCode {
		t.Fatalf("job %+v, %s/%s", res, st.Active, st.Result)
	}
	if _, err := os.Stat(h.path("post")); err != nil {
		t.Fatalf("ExecStopPost did not run: %v", err)
	}
}

// TestCrashStopPostLeftoverIsKilled crashes a service whose ExecStopPost=
// leaves a process behind: the crash saw the group empty, but the look
// at it after stop-post (a later event) must see the leftover and kill it.
func TestCrashStopPostLeftoverIsKilled(t *testing.T) {
	h := newHarness(t, map[string]string{
		"c.service": "[Service]\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > %D/bg'\n",
	})
	h.job(plan.Start, "c.service")
	h.killMain("c.service")
	st := h.waitState("c.service", "failed")
	if st.Result != ResultSignal {
		t.Errorf("result %s; want signal", st.Result)
	}
	bg, err := strconv.Atoi(strings.TrimSpace(string(h.waitFile("bg"))))
	if err != nil {
		t.Fatal(err)
	}
	if alive(bg) {
		syscall.Kill(bg, syscall.SIGKILL)
		t.Errorf("ExecStopPost's leftover %d still runs after the unit failed\n%s", bg, h.logs.dump())
	}
}

func TestStopTimeoutKills(t *testing.T) {
	h := newHarness(t, map[string]string{
		"stubborn.service": "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; echo up > %D/up; while :; do sleep 1; done'\nTimeoutStopSec=300ms\n",
	})
	h.job(plan.Start, "stubborn.service")
	h.waitFile("up")
	pid := h.status("stubborn.service").MainPID
	h.job(plan.Stop, "stubborn.service")
	st := h.status("stubborn.service")
	if alive(pid) || st.Result != ResultTimeout || st.Active != FailedState {
		t.Fatalf("alive=%v result %s %s; want dead, timeout, failed", alive(pid), st.Result, st.Active)
	}
}

func TestStopKillsWholeGroup(t *testing.T) {
	h := newHarness(t, map[string]string{
		"g.service": "[Service]\nExecStart=/bin/sh -c '(setsid sleep 1000 & echo $! > %D/child); exec sleep 1000'\n",
	})
	h.job(plan.Start, "g.service")
	child, _ := strconv.Atoi(strings.TrimSpace(string(h.waitFile("child"))))
	if h.status("g.service").Cgroup == "" {
		t.Skip("no cgroup tracking on this machine")
	}
	h.job(plan.Stop, "g.service")
	if alive(child) {
		syscall.Kill(child, syscall.SIGKILL)
		t.Fatalf("double-forked child %d survived stop", child)
	}
}

func TestConditionSkips(t *testing.T) {
	h := newHarness(t, map[string]string{
		"c.service": "[Unit]\nConditionPathExists=/nonexistent/path\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	res := h.job(plan.Start, "c.service")
	st := h.status("c.service")
	if res[0].Result != "done" || st.Active != Inactive || st.MainPID != 0 || st.SkippedBy == "" {
		t.Fatalf("job %+v, %s main %d skipped %q", res, st.Active, st.MainPID, st.SkippedBy)
	}
}

func TestOrderingAndRequires(t *testing.T) {
	h := newHarness(t, map[string]string{
		"first.service":  "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.2; touch %D/first'\n",
		"second.service": "[Unit]\nRequires=first.service\nAfter=first.service\n[Service]\nExecStartPre=/bin/test -e %D/first\nExecStart=/bin/sleep 1000\n",
	})
	res := h.job(plan.Start, "second.service")
	if res[0].Result != "done" {
		t.Fatalf("second started before first finished: %+v\n%s", res, h.logs.dump())
	}
	if st := h.status("first.service"); st.Sub != "exited" {
		t.Fatalf("first: %s", st.Sub)
	}
}

func TestRequiredDependencyFailure(t *testing.T) {
	h := newHarness(t, map[string]string{
		"bad.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
		"top.service": "[Unit]\nRequires=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	res := h.job(plan.Start, "top.service")
	if res[0].Result != "dependency" {
		t.Fatalf("got %+v; want dependency", res)
	}
	if st := h.status("top.service"); st.MainPID != 0 {
		t.Fatalf("top started although its requirement failed")
	}
}

func TestBindsToStopsBoundUnit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"base.service":  "[Service]\nExecStart=/bin/sleep 1000\n",
		"bound.service": "[Unit]\nBindsTo=base.service\nAfter=base.service\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "bound.service")
	if st := h.status("base.service"); st.Sub != "running" {
		t.Fatalf("base not pulled in: %s", st.Sub)
	}
	syscall.Kill(h.status("base.service").MainPID, syscall.SIGKILL)
	h.waitState("bound.service", "dead")
}

func TestOnFailure(t *testing.T) {
	h := newHarness(t, map[string]string{
		"fails.service":  "[Unit]\nOnFailure=rescue.service\n[Service]\nExecStart=/bin/sh -c 'exit 3'\n",
		"rescue.service": "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo yes > %D/rescued'\n",
	})
	h.job(plan.Start, "fails.service")
	h.waitFile("rescued")
	st := h.status("fails.service")
	if st.Active != FailedState || st.ExecMainStat != 3 {
		t.Fatalf("fails: %s status %d", st.Active, st.ExecMainStat)
	}
}

func TestExecStopAndMainPID(t *testing.T) {
	h := newHarness(t, map[string]string{
		"s.service": "[Service]\nExecStart=/bin/sleep 1000\nExecStop=/bin/sh -c 'echo $MAINPID > %D/mainpid; kill $MAINPID'\n",
	})
	h.job(plan.Start, "s.service")
	pid := h.status("s.service").MainPID
	h.job(plan.Stop, "s.service")
	b, _ := os.ReadFile(h.path("mainpid"))
	if strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Fatalf("ExecStop saw MAINPID=%q; want %d", b, pid)
	}
	if st := h.status("s.service"); st.Active != Inactive || st.Result != ResultSuccess {
		t.Fatalf("after stop: %s %s", st.Active, st.Result)
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t, map[string]string{
		"rl.service": "[Service]\nExecStart=/bin/sh -c 'trap \"echo reloaded >> %D/hup\" HUP; echo up > %D/up; while :; do sleep 0.05; done'\nExecReload=/bin/kill -HUP $MAINPID\n",
	})
	h.job(plan.Start, "rl.service")
	h.waitFile("up") // the HUP handler is installed
	if res := h.job(plan.Reload, "rl.service"); res[0].Result != "done" {
		t.Fatalf("reload: %+v", res)
	}
	h.waitFile("hup")
	if st := h.status("rl.service"); st.Sub != "running" {
		t.Fatalf("after reload: %s", st.Sub)
	}
}

func TestNoZombiesFromDoubleFork(t *testing.T) {
	h := newHarness(t, map[string]string{
		"z.service": "[Service]\nType=oneshot\nExecStart=/bin/sh -c '(sleep 0.1 &) ; (true &) ; exit 0'\n",
	})
	h.job(plan.Start, "z.service")
	// The orphans are reaped on SIGCHLD; the kernel offers no event for
	// "some other process reaped this one", so check with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for len(zombieChildren(t)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("zombies left: %v", zombieChildren(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombieChildren lists zombies whose parent is this test process.
func zombieChildren(t *testing.T) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			pid, _ := strconv.Atoi(e.Name())
			out = append(out, pid)
		}
	}
	return out
}

func TestPIDFileNeverAppears(t *testing.T) {
	h := newHarness(t, map[string]string{
		"nopid.service": "[Service]\nType=forking\nPIDFile=%D/never.pid\nTimeoutStartSec=300ms\nExecStart=/bin/sh -c 'sleep 1000 &'\n",
	})
	res := h.job(plan.Start, "nopid.service")
	st := h.status("nopid.service")
	if res[0].Result != "failed" || st.Result != ResultTimeout || st.Active != FailedState {
		t.Fatalf("job %+v, %s/%s; want failed with timeout", res, st.Active, st.Result)
	}
	if !h.logs.has("PID file") {
		t.Errorf("the missing PID file is not reported:\n%s", h.logs.dump())
	}
}
