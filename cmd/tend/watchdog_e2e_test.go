package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hangingService is a Type=notify service that checks the watchdog
// variables, reports ready, sends three keep-alives and then hangs. With
// $HANG_ONCE (a file it creates), only its first run hangs; later ones
// keep sending keep-alives.
const hangingService = `import os, socket, sys, time
if os.environ.get("WATCHDOG_PID") != str(os.getpid()):
    sys.exit("WATCHDOG_PID=%s is not my pid %d" % (os.environ.get("WATCHDOG_PID"), os.getpid()))
interval = int(os.environ["WATCHDOG_USEC"]) / 4e6
once = os.environ.get("HANG_ONCE")
healthy = once is not None and os.path.exists(once)
if once:
    open(once, "a").close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1")
n = 0
while healthy or n < 3:
    time.sleep(interval)
    s.send(b"WATCHDOG=1")
    n += 1
print("no more keep-alives", flush=True)
time.sleep(1000)
`

// TestWatchdog runs services that stop sending keep-alives: tend aborts
// them with SIGABRT, restarts the one with Restart=on-watchdog and leaves
// the other failed with result "watchdog"; status, show and the journal
// say so. Upholds= brings a killed unit back while its upholder runs.
func TestWatchdog(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("the service is a python3 script")
	}
	script := filepath.Join(t.TempDir(), "hang.py")
	dir := t.TempDir()
	service := "[Service]\nType=notify\nWatchdogSec=400ms\nLimitCORE=0\nExecStart=/usr/bin/python3 " + script + "\n"
	files := map[string]string{
		script:                hangingService,
		"default.target":      "[Unit]\n",
		"wd-again.service":    service + "Restart=on-watchdog\nRestartSec=0\nEnvironment=HANG_ONCE=" + filepath.Join(t.TempDir(), "hung") + "\n",
		"wd-once.service":     service,
		"wd-upholder.service": "[Unit]\nUpholds=wd-upheld.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"wd-upheld.service":   "[Service]\nExecStart=/bin/sleep 1000\n",
	}
	for name, text := range files {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	again, once := in.follow("wd-again.service"), in.follow("wd-once.service")
	in.mustCtl("start", "wd-again", "wd-once")
	first := in.mainPID("wd-again")

	once("Watchdog timeout (limit 400ms)!")
	once("Failed with result 'watchdog'.")
	show := in.mustCtl("show", "-p", "ActiveState,Result,ExecMainCode,ExecMainStatus,WatchdogUSec,WatchdogSignal", "wd-once")
	if !strings.Contains(show, "WatchdogUSec=400ms") || !strings.Contains(show, "WatchdogSignal=6") {
		t.Errorf("show wd-once lacks the watchdog settings:\n%s", show)
	}
	// ExecMainCode 2 is CLD_KILLED, 3 CLD_DUMPED (a core_pattern pipe
	// ignores LimitCORE=0).
	if !strings.Contains(show, "ActiveState=failed") || !strings.Contains(show, "Result=watchdog") ||
		!strings.Contains(show, "ExecMainStatus=6") || !(strings.Contains(show, "ExecMainCode=2") || strings.Contains(show, "ExecMainCode=3")) {
		t.Errorf("show wd-once:\n%s", show)
	}
	if out, code := in.ctl("status", "wd-once"); code != 3 || !strings.Contains(out, "failed (Result: watchdog)") {
		t.Errorf("status wd-once: exit %d\n%s", code, out)
	}

	again("Watchdog timeout (limit 400ms)!")
	again("status=6/ABRT")
	again("Failed with result 'watchdog'.")
	again("Scheduled restart job, restart counter is at 1.")
	again("Started wd-again.service.")
	if pid := in.mainPID("wd-again"); pid == first || !alive(pid) {
		t.Errorf("after the watchdog: main pid %d (was %d)", pid, first)
	}
	if out := in.mustCtl("status", "wd-again"); !strings.Contains(out, "Active: active (running)") {
		t.Errorf("status wd-again after the restart:\n%s", out)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(in.mustCtl("show", "-p", "NRestarts", "--value", "wd-again"))); n < 1 {
		t.Errorf("NRestarts %d; want at least 1", n)
	}
	logs := in.mustCtl("logs", "-u", "wd-again")
	for _, want := range []string{"no more keep-alives", "Watchdog timeout (limit 400ms)!", "Failed with result 'watchdog'."} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs -u wd-again lack %q:\n%s", want, logs)
		}
	}

	// Upholds=: the upheld unit comes back after a kill while its
	// upholder runs.
	upheld := in.follow("wd-upheld.service")
	in.mustCtl("start", "wd-upholder")
	pid := in.mainPID("wd-upheld")
	in.mustCtl("kill", "-s", "KILL", "wd-upheld")
	upheld("Starting, upheld by active unit wd-upholder.service.")
	upheld("Started wd-upheld.service.")
	if np := in.mainPID("wd-upheld"); np == pid || !alive(np) {
		t.Errorf("upheld unit after kill: main pid %d (was %d)", np, pid)
	}
}
