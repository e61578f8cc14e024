package supervise

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// notifyClientArg makes the test binary an sd_notify client: the service
// of the watchdog tests, so they need no python or systemd-notify.
const notifyClientArg = "__tend_notify_client"

// notifyClient runs its steps in order and then waits to be killed, as
// sleep(1): a program with the default signal dispositions dies of SIGABRT
// at once, where the Go runtime exits with status 2 (or, with
// GOTRACEBACK=crash, dies of it after seconds spent dumping every thread).
//
//	send=MSG    send one assignment, such as READY=1 or WATCHDOG=trigger
//	ping=N      send WATCHDOG=1 N times (-1: for ever), WATCHDOG_USEC/4 apart
//	env=PATH    write WATCHDOG_USEC, WATCHDOG_PID and PID to PATH
//	touch=PATH  create PATH
//	exit        exit 0 at once instead of becoming sleep(1)
func notifyClient(steps []string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "notify client:", err)
		return 1
	}
	conn, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return fail(err)
	}
	usec, _ := strconv.Atoi(os.Getenv("WATCHDOG_USEC"))
	interval := time.Duration(usec) * time.Microsecond / 4
	for _, step := range steps {
		op, arg, _ := strings.Cut(step, "=")
		switch op {
		case "send":
			_, err = conn.Write([]byte(arg))
		case "ping":
			n, _ := strconv.Atoi(arg)
			for i := 0; (n < 0 || i < n) && err == nil; i++ {
				_, err = conn.Write([]byte("WATCHDOG=1"))
				time.Sleep(interval)
			}
		case "env":
			env := fmt.Sprintf("WATCHDOG_USEC=%s\nWATCHDOG_PID=%s\nPID=%d\n", os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
			err = os.WriteFile(arg, []byte(env), 0o644)
		case "touch":
			err = os.WriteFile(arg, []byte("x"), 0o644)
		case "exit":
			return 0
		default:
			err = fmt.Errorf("unknown step %q", step)
		}
		if err != nil {
			return fail(err)
		}
	}
	return fail(unix.Exec("/bin/sleep", []string{"sleep", "1000000"}, os.Environ()))
}

// clientService is the [Service] section of a notify client running
// steps. Should an abort come before the client became sleep(1),
// GOTRACEBACK=crash makes it die of the signal all the same; it never
// dumps core, so an abort leaves nothing behind.
func clientService(extra string, steps ...string) string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return "[Service]\nType=notify\nEnvironment=GOTRACEBACK=crash\nLimitCORE=0\n" + extra + "ExecStart=" + exe + " " + notifyClientArg + " " + strings.Join(steps, " ") + "\n"
}

// aborted reports whether the last main process died of SIGABRT.
func aborted(st Status) bool {
	return (st.ExecMainCode == "killed" || st.ExecMainCode == "dumped") && st.ExecMainStat == int(unix.SIGABRT)
}

// TestWatchdogTransitions pins what the watchdog's events do, as systemd
// does them: expiry and WATCHDOG=trigger abort the service (stop-watchdog,
// WatchdogSignal=) with result "watchdog"; the abort's deadline leads to
// SIGKILL; Restart= decides about the restart.
func TestWatchdogTransitions(t *testing.T) {
	const x = false // watchdog not armed afterwards
	tests := []struct {
		typ        unit.ServiceType
		restart    unit.RestartPolicy
		watchdog   time.Duration
		from       SubState
		event      string
		want       SubState
		wantResult Result
		wantArmed  bool
	}{
		{unit.TypeSimple, unit.RestartNo, time.Hour, Running, "watchdog-expired", StopWatchdog, ResultWatchdog, x},
		{unit.TypeSimple, unit.RestartNo, time.Hour, StartPost, "watchdog-expired", StopWatchdog, ResultWatchdog, x},
		{unit.TypeSimple, unit.RestartNo, time.Hour, Reload, "watchdog-expired", StopWatchdog, ResultWatchdog, x},
		{unit.TypeSimple, unit.RestartNo, time.Hour, Running, "watchdog-ping", Running, ResultSuccess, true},
		{unit.TypeSimple, unit.RestartNo, time.Hour, Running, "watchdog-usec-0", Running, ResultSuccess, x},
		{unit.TypeNotify, unit.RestartNo, 0, Running, "watchdog-usec-2h", Running, ResultSuccess, true},
		{unit.TypeSimple, unit.RestartNo, 0, Running, "watchdog-expired", Running, ResultSuccess, x},
		{unit.TypeNotify, unit.RestartNo, time.Hour, Start, "watchdog-ping", Start, ResultSuccess, true},
		{unit.TypeNotify, unit.RestartNo, time.Hour, Stop, "watchdog-ping", Stop, ResultSuccess, x},
		{unit.TypeNotify, unit.RestartNo, time.Hour, Running, "stopping", Stop, ResultSuccess, x},
		{unit.TypeNotify, unit.RestartNo, 0, Running, "watchdog-trigger", StopWatchdog, ResultWatchdog, x},
		{unit.TypeNotify, unit.RestartNo, 0, Start, "watchdog-trigger", StopWatchdog, ResultWatchdog, x},
		{unit.TypeNotify, unit.RestartNo, 0, StopSigterm, "watchdog-trigger", StopSigterm, ResultSuccess, x},
		{unit.TypeSimple, unit.RestartNo, 0, Running, "watchdog-trigger", Running, ResultSuccess, x}, // NotifyAccess=none
		{unit.TypeSimple, unit.RestartNo, time.Hour, StopWatchdog, "timeout", StopSigkill, ResultTimeout, x},
		{unit.TypeSimple, unit.RestartNo, time.Hour, StopWatchdog, "stop", StopWatchdog, ResultSuccess, x},
		{unit.TypeSimple, unit.RestartOnWatchdog, time.Hour, Running, "watchdog-expired", StopWatchdog, ResultWatchdog, x},
		{unit.TypeSimple, unit.RestartOnAbort, time.Hour, Running, "main-aborted", AutoRestart, ResultSignal, x},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/watchdog=%s/%s/%s", tt.typ, tt.restart, tt.watchdog, tt.from, tt.event), func(t *testing.T) {
			def := tableUnit(tt.typ, tt.restart, time.Hour)
			def.Service.Watchdog = tt.watchdog
			m, u, f := newTableManager(t, def)
			place(m, u, tt.from, f)
			main := u.mainPID
			apply(t, m, u, tt.event)
			drain(m)
			if u.state != tt.want || u.result != tt.wantResult || (u.wdTimer != nil) != tt.wantArmed {
				t.Errorf("%s + %s → %s (%s), watchdog armed %v; want %s (%s), %v", tt.from, tt.event, u.state, u.result, u.wdTimer != nil, tt.want, tt.wantResult, tt.wantArmed)
			}
			if u.state == StopWatchdog && tt.from != StopWatchdog && !slices.Contains(f.signals, fmt.Sprintf("%d:SIGABRT", main)) {
				t.Errorf("signals %v; want SIGABRT to the main process %d", f.signals, main)
			}
			checkInvariants(t, m, u, u.state != tt.from)
		})
	}
}

// TestWatchdogAbortThenRestart follows a watchdog abort to its end: the
// main process dies of SIGABRT, the run ends failed with "watchdog", and
// Restart=on-watchdog schedules the restart.
func TestWatchdogAbortThenRestart(t *testing.T) {
	for _, tt := range []struct {
		restart unit.RestartPolicy
		want    SubState
	}{
		{unit.RestartOnWatchdog, AutoRestart},
		{unit.RestartOnFailure, AutoRestart},
		{unit.RestartOnAbnormal, AutoRestart},
		{unit.RestartAlways, AutoRestart},
		{unit.RestartOnAbort, Failed},
		{unit.RestartNo, Failed},
	} {
		t.Run(string(tt.restart), func(t *testing.T) {
			def := tableUnit(unit.TypeSimple, tt.restart, time.Hour)
			def.Service.Watchdog = time.Hour
			m, u, f := newTableManager(t, def)
			place(m, u, Running, f)
			apply(t, m, u, "watchdog-expired")
			apply(t, m, u, "main-aborted")
			drain(m)
			if u.state != tt.want || u.result != ResultWatchdog {
				t.Errorf("got %s (%s); want %s (watchdog)", u.state, u.result, tt.want)
			}
			checkInvariants(t, m, u, true)
		})
	}
}

// TestWatchdogSpansStates checks that the watchdog started in start-post
// lives on through running and a reload, and ends with the run.
func TestWatchdogSpansStates(t *testing.T) {
	def := tableUnit(unit.TypeSimple, unit.RestartNo, time.Hour)
	def.Service.Watchdog = time.Hour
	def.Service.ExecStartPost = def.Service.ExecStart
	def.Service.ExecReload = def.Service.ExecStart
	m, u, _ := newTableManager(t, def)
	apply(t, m, u, "start")
	if u.state != StartPost || u.wdTimer == nil {
		t.Fatalf("after start: %s, watchdog armed %v; want start-post with the watchdog armed", u.state, u.wdTimer != nil)
	}
	gen := u.wdGen
	steps := []struct {
		event string
		want  SubState
	}{{"control-exit-0", Running}, {"reload", Reload}, {"control-exit-0", Running}}
	for _, st := range steps {
		apply(t, m, u, st.event)
		drain(m)
		if u.state != st.want || u.wdGen != gen || u.wdTimer == nil {
			t.Fatalf("after %s: %s, watchdog generation %d→%d; want %s with the same watchdog", st.event, u.state, gen, u.wdGen, st.want)
		}
	}
	apply(t, m, u, "main-exit-0")
	drain(m)
	if u.wdTimer != nil || u.state == Running {
		t.Fatalf("after the main process exited: %s, watchdog still armed %v", u.state, u.wdTimer != nil)
	}
}

func TestWatchdogKeepAlive(t *testing.T) {
	h := newHarness(t, map[string]string{
		"alive.service": clientService("WatchdogSec=300ms\n", "send=READY=1", "ping=16", "touch=%D/pinged", "ping=-1"),
	})
	if res := h.job(plan.Start, "alive.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v\n%s", res, h.logs.dump())
	}
	pid := h.status("alive.service").MainPID
	// 16 keep-alives 75 ms apart span four timeouts.
	h.waitFile("pinged")
	st := h.status("alive.service")
	if st.Sub != "running" || st.MainPID != pid || st.NRestarts != 0 || h.logs.has("Watchdog timeout") {
		t.Fatalf("a service that pings was disturbed: %s main %d (was %d), restarts %d\n%s", st.Sub, st.MainPID, pid, st.NRestarts, h.logs.dump())
	}
	if st.WatchdogUSec != 300*time.Millisecond || st.WatchdogTimestamp.IsZero() {
		t.Errorf("watchdog %s, last ping %v; want 300ms and a time", st.WatchdogUSec, st.WatchdogTimestamp)
	}
}

func TestWatchdogTimeout(t *testing.T) {
	h := newHarness(t, map[string]string{
		"again.service": clientService("WatchdogSec=300ms\nRestart=on-watchdog\nRestartSec=0\n", "send=READY=1", "ping=2"),
		"once.service":  clientService("WatchdogSec=300ms\n", "send=READY=1", "ping=2"),
	})
	h.job(plan.Start, "again.service", "once.service")
	first := h.status("again.service").MainPID

	st := h.waitState("once.service", "failed")
	if st.Result != ResultWatchdog || !aborted(st) {
		t.Errorf("once: result %s, main %s/%d; want watchdog, killed by SIGABRT", st.Result, st.ExecMainCode, st.ExecMainStat)
	}
	if !h.logs.has("once.service: Watchdog timeout (limit 300ms)!") {
		t.Errorf("timeout not logged:\n%s", h.logs.dump())
	}

	h.waitFor("a restarted again.service", func() bool {
		st = h.status("again.service")
		return st.Sub == "running" && st.MainPID != first && st.NRestarts >= 1
	})
	for _, want := range []string{"again.service: Watchdog timeout (limit 300ms)!", "again.service: Main process exited, code=", "status=6/ABRT", "again.service: Failed with result 'watchdog'."} {
		if !h.logs.has(want) {
			t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
		}
	}
}

// TestWatchdogTrigger: a service may abort itself through the watchdog,
// WatchdogSec= or not.
func TestWatchdogTrigger(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The client speaks from a child of the main process, which is sh
	// becoming sleep(1): a Go main process could lose the abort in its
	// own exec (a thread that took the signal dies in execve), while a
	// signal pending at sh's exec kills sleep.
	h := newHarness(t, map[string]string{
		"self.service": "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c '" + exe + " " + notifyClientArg +
			" send=READY=1 send=STATUS=wedged send=WATCHDOG=trigger exit; exec sleep 1000000'\n",
	})
	h.job(plan.Start, "self.service")
	st := h.waitState("self.service", "failed")
	if st.Result != ResultWatchdog || !aborted(st) {
		t.Errorf("result %s, main %s/%d; want watchdog, killed by SIGABRT", st.Result, st.ExecMainCode, st.ExecMainStat)
	}
	if !h.logs.has("self.service: Watchdog request (last status: wedged)!") {
		t.Errorf("trigger not logged:\n%s", h.logs.dump())
	}
}

// TestWatchdogUSecChange: WATCHDOG_USEC= replaces WatchdogSec= for the
// run, here shortening an hour to 300 ms.
func TestWatchdogUSecChange(t *testing.T) {
	h := newHarness(t, map[string]string{
		"short.service": clientService("WatchdogSec=1h\n", "send=READY=1", "send=WATCHDOG_USEC=300000"),
	})
	h.job(plan.Start, "short.service")
	st := h.waitState("short.service", "failed")
	if st.Result != ResultWatchdog || st.WatchdogUSec != 300*time.Millisecond {
		t.Errorf("result %s, watchdog %s; want watchdog after 300ms", st.Result, st.WatchdogUSec)
	}
	if !h.logs.has("short.service: Watchdog timeout (limit 300ms)!") {
		t.Errorf("timeout not logged:\n%s", h.logs.dump())
	}
}

// TestWatchdogEnvironment: every process of a service with a watchdog
// learns the timeout and that the keep-alives are expected from it
// (WATCHDOG_PID is its own pid); other services learn nothing.
func TestWatchdogEnvironment(t *testing.T) {
	h := newHarness(t, map[string]string{
		"wd.service": clientService("WatchdogSec=2s\nExecStartPre=/bin/sh -c 'echo $$WATCHDOG_USEC $$WATCHDOG_PID $$$$ > %D/pre'\n",
			"env=%D/env", "send=READY=1", "ping=-1"),
		"plain.service": "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'env > %D/plain'\n",
	})
	h.job(plan.Start, "wd.service", "plain.service")
	env := map[string]string{}
	for _, line := range strings.Split(string(h.waitFile("env")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	main := strconv.Itoa(h.status("wd.service").MainPID)
	if env["WATCHDOG_USEC"] != "2000000" || env["WATCHDOG_PID"] != main || env["PID"] != main {
		t.Errorf("main process saw %v; want WATCHDOG_USEC=2000000 and WATCHDOG_PID=PID=%s", env, main)
	}
	pre := strings.Fields(string(h.waitFile("pre")))
	if len(pre) != 3 || pre[0] != "2000000" || pre[1] != pre[2] {
		t.Errorf("ExecStartPre saw %q; want the timeout and its own pid twice", pre)
	}
	if plain := string(h.waitFile("plain")); strings.Contains(plain, "WATCHDOG_") {
		t.Errorf("a service without WatchdogSec= got watchdog variables:\n%s", plain)
	}
}
