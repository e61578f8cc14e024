package supervise

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// TestRestartPropagatesToBoundUnits restarts a unit that another is bound
// to (BindsTo=) and one that is part of it (PartOf=): as in systemd, both
// are restarted with it, not left stopped by the stop half.
func TestRestartPropagatesToBoundUnits(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web.service":    "[Service]\nExecStart=/bin/sleep 1000\n",
		"worker.service": "[Unit]\nBindsTo=web.service\nAfter=web.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"part.service":   "[Unit]\nPartOf=web.service\nAfter=web.service\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "worker.service", "part.service")
	before := map[string]int{}
	for _, n := range []string{"web.service", "worker.service", "part.service"} {
		st := h.status(n)
		if st.Sub != "running" {
			t.Fatalf("%s not running before the restart: %s", n, st.Sub)
		}
		before[n] = st.MainPID
	}
	for _, r := range h.job(plan.Restart, "web.service") {
		if r.Result != "done" {
			t.Errorf("restart job: %+v", r)
		}
	}
	// Only the anchor's job is waited for, as systemctl does.
	for n, old := range before {
		h.waitFor(n+" running with a new pid", func() bool {
			st := h.status(n)
			if (st.Active == Inactive || st.Active == FailedState) && st.Job == "" {
				t.Fatalf("%s after restarting web: %s; want restarted\n%s", n, st.Sub, h.logs.dump())
			}
			return st.Sub == "running" && st.MainPID != old && st.MainPID != 0
		})
	}
}

// TestRestartFailingStopsBoundUnits restarts a unit whose start half
// fails: the unit bound to it must not keep running.
func TestRestartFailingStopsBoundUnits(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web.service":    "[Service]\nExecStartPre=/bin/sh -c '! test -e %D/broken'\nExecStart=/bin/sleep 1000\n",
		"worker.service": "[Unit]\nBindsTo=web.service\nAfter=web.service\n[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "worker.service")
	if err := os.WriteFile(h.path("broken"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.m.Jobs(t.Context(), plan.Restart, []string{"web.service"}, plan.Replace, false)
	if st := h.status("web.service"); st.Active != FailedState {
		t.Fatalf("web after a failed restart: %s", st.Active)
	}
	h.waitState("worker.service", "dead")
}

// TestStoppingDuringReload has a service say STOPPING=1 from its first
// ExecReload= line: the reload's remaining lines must not run during the
// stop that follows.
func TestStoppingDuringReload(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	client := exe + " " + notifyClientArg
	h := newHarness(t, map[string]string{
		"rl.service": clientService("NotifyAccess=all\n"+
			"ExecReload=/bin/sh -c '"+client+" send=STOPPING=1 exit && kill $MAINPID'\n"+
			"ExecReload=/bin/touch %D/second\n", "send=READY=1"),
	})
	h.job(plan.Start, "rl.service")
	pid := h.status("rl.service").MainPID
	h.job(plan.Reload, "rl.service")
	st := h.waitState("rl.service", "dead")
	if alive(pid) {
		t.Fatalf("main process %d still running", pid)
	}
	if _, err := os.Stat(h.path("second")); err == nil {
		t.Fatalf("the second ExecReload= line ran after STOPPING=1\n%s", h.logs.dump())
	}
	if st.Result != ResultSuccess {
		t.Errorf("result %s; want success", st.Result)
	}
}

// TestRestartKeepsOutput kills a service twice: with reusable outputs
// (the journal's pipes), each replacement writes to the pipe its
// predecessor had, and the pipe ends only once the service stopped.
func TestRestartKeepsOutput(t *testing.T) {
	h := newHarness(t, map[string]string{
		"crashy.service": "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'echo started $$$$; exec sleep 1000'\nRestart=always\nRestartSec=0\n",
	})
	h.logs.mu.Lock()
	h.logs.reusable = true
	h.logs.mu.Unlock()
	h.job(plan.Start, "crashy.service")
	pid := h.status("crashy.service").MainPID
	line := func(pid int) {
		t.Helper()
		if !h.logs.wait("started "+strconv.Itoa(pid), time.After(15*time.Second)) {
			t.Fatalf("no line from pid %d\n%s", pid, h.logs.dump())
		}
	}
	for range 2 {
		line(pid)
		h.killMain("crashy.service")
		h.waitFor("a replacement", func() bool {
			st := h.status("crashy.service")
			return st.Sub == "running" && st.MainPID != pid && st.MainPID != 0
		})
		pid = h.status("crashy.service").MainPID
	}
	line(pid)
	h.logs.mu.Lock()
	opened := h.logs.opened
	h.logs.mu.Unlock()
	if opened != 1 {
		t.Errorf("three runs opened %d outputs; want 1\n%s", opened, h.logs.dump())
	}
	select {
	case <-h.logs.ended:
		t.Fatalf("the output ended while the service was restarting")
	default:
	}
	h.job(plan.Stop, "crashy.service")
	select {
	case <-h.logs.ended:
	case <-time.After(15 * time.Second):
		t.Fatalf("the output did not end after the service stopped")
	}
}

// batchLogs records how tend's messages were handed over: each batch
// of an EventBatcher, and each single Event.
type batchLogs struct {
	batches [][]string
	singles []string
}

func (l *batchLogs) Output(*unit.Unit, unit.Command) (Output, error) { return Output{}, nil }
func (l *batchLogs) Event(name string, pid, prio int, msg string)    { l.singles = append(l.singles, msg) }
func (l *batchLogs) Events(evs []LogEvent) {
	var b []string
	for _, e := range evs {
		b = append(b, e.Message)
	}
	l.batches = append(l.batches, b)
}

// TestRestartMessagesInOneBatch: the messages a restart causes (the
// exit, the result, the restart job) reach a batching sink together,
// once the event is handled, not one call each.
func TestRestartMessagesInOneBatch(t *testing.T) {
	m, u, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, 0))
	logs := &batchLogs{}
	m.opts.Logs = logs
	place(m, u, Running, f)
	apply(t, m, u, "main-exit-1")
	m.flushEvents()
	if len(logs.singles) > 0 || len(logs.batches) != 1 || len(logs.batches[0]) < 2 {
		t.Fatalf("batches %q, single events %q; want the restart's messages in one batch", logs.batches, logs.singles)
	}
}
