package supervise

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// TestUpholdTable crosses the states of an upholder and of the unit it
// upholds with the events that make tend look again.
func TestUpholdTable(t *testing.T) {
	tests := []struct {
		holder, kept SubState
		keptJob      bool   // a job is queued for the upheld unit
		holderJob    bool   // … or for the upholder
		event        string // "+" separates events applied in turn
		want         SubState
	}{
		{Running, Dead, false, false, "check", Running},
		{Running, Failed, false, false, "check", Running},
		{Reload, Dead, false, false, "check", Running},
		{Exited, Failed, false, false, "check", Running},
		{Running, Dead, true, false, "check", Dead},
		{Running, Dead, false, true, "check", Dead},
		{Start, Dead, false, false, "check", Dead},
		{StopSigterm, Failed, false, false, "check", Failed},
		{Dead, Dead, false, false, "check", Dead},
		{Failed, Failed, false, false, "check", Failed},
		{Running, AutoRestart, false, false, "check", AutoRestart},
		{Running, Running, false, false, "main-killed-9", Running},
		{Running, Running, false, false, "main-exit-0", Running},
		{Running, Running, false, false, "stop+main-exit-0", Running},
		{Dead, Running, false, false, "main-killed-9", Failed},
		{Dead, Running, false, false, "stop+main-exit-0", Dead},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("holder=%s/kept=%s/keptJob=%v/holderJob=%v/%s", tt.holder, tt.kept, tt.keptJob, tt.holderJob, tt.event)
		t.Run(name, func(t *testing.T) {
			holderDef := tableUnit(unit.TypeSimple, unit.RestartNo, time.Hour)
			holderDef.Name = "holder.service"
			holderDef.EnsureDeps().Upholds = []string{"t.service"}
			m, kept, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, time.Hour), holderDef)
			holder := svcOf(t, m, "holder.service")
			place(m, holder, tt.holder, f)
			place(m, kept, tt.kept, f)
			if tt.kept == Failed {
				kept.result = ResultExitCode
			}
			for _, q := range []struct {
				queued bool
				u      *service
			}{{tt.keptJob, kept}, {tt.holderJob, holder}} {
				if q.queued {
					q.u.job = &job{u: q.u.rt, kind: plan.Start, waitFor: 1, done: make(chan struct{})}
				}
			}
			gen := kept.gen
			for _, ev := range strings.Split(tt.event, "+") {
				if ev == "check" {
					m.uphold(kept.rt)
				} else {
					apply(t, m, kept, ev)
				}
				drain(m)
			}
			if kept.state != tt.want {
				t.Errorf("upheld unit %s; want %s", kept.state, tt.want)
			}
			checkInvariants(t, m, kept, kept.gen != gen)
			checkInvariants(t, m, holder, false)
		})
	}
}

// TestUpholdsComingUp: an upholder that becomes active starts the units
// it upholds that are down, however it was started.
func TestUpholdsComingUp(t *testing.T) {
	holderDef := tableUnit(unit.TypeNotify, unit.RestartNo, time.Hour)
	holderDef.Name = "holder.service"
	holderDef.EnsureDeps().Upholds = []string{"t.service"}
	holderDef.Service.ExecStartPost = holderDef.Service.ExecStart
	m, kept, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, time.Hour), holderDef)
	holder := svcOf(t, m, "holder.service")
	place(m, holder, Start, f)
	apply(t, m, holder, "ready")
	drain(m)
	if holder.state != StartPost || kept.state != Dead {
		t.Fatalf("holder %s, kept %s; want start-post and dead", holder.state, kept.state)
	}
	apply(t, m, holder, "control-exit-0")
	drain(m)
	if holder.state != Running || kept.state != Running {
		t.Fatalf("holder %s, kept %s; want both running", holder.state, kept.state)
	}
}

// TestUpholds runs the upheld unit as a real process: killed, or stopped
// by hand, it is started again while its upholder is active, and no
// longer once the upholder stopped.
func TestUpholds(t *testing.T) {
	h := newHarness(t, map[string]string{
		"holder.service": "[Unit]\nUpholds=kept.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"kept.service":   "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	if res := h.job(plan.Start, "holder.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v", res)
	}
	pid := h.waitState("kept.service", "running").MainPID
	restarted := func(why string) {
		t.Helper()
		var st Status
		h.waitFor("kept.service restarted after "+why, func() bool {
			st = h.status("kept.service")
			return st.Sub == "running" && st.MainPID != pid
		})
		pid = st.MainPID
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarted("SIGKILL")
	if !h.logs.has("kept.service: Starting, upheld by active unit holder.service.") {
		t.Errorf("the reason for the start is not logged:\n%s", h.logs.dump())
	}

	if res := h.job(plan.Stop, "kept.service"); res[0].Result != "done" {
		t.Fatalf("stop: %+v", res)
	}
	restarted("a manual stop")

	h.job(plan.Stop, "holder.service")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitState("kept.service", "failed")
	// The check the failure queued ran before this call reached the
	// loop (its mailbox is FIFO), and a start it made would show here.
	if st := h.status("kept.service"); st.Sub != "failed" || st.Job != "" {
		t.Fatalf("kept.service restarted without an active upholder: %s, job %q", st.Sub, st.Job)
	}
}

// TestUpholdsStartLimit: starts made for Upholds= count towards the start
// limit, which ends a crash loop.
func TestUpholdsStartLimit(t *testing.T) {
	h := newHarness(t, map[string]string{
		"holder.service": "[Unit]\nUpholds=crash.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"crash.service":  "[Unit]\nStartLimitIntervalSec=1h\nStartLimitBurst=3\n[Service]\nExecStart=/bin/false\n",
	})
	h.job(plan.Start, "holder.service")
	var st Status
	h.waitFor("crash.service at its start limit", func() bool {
		st = h.status("crash.service")
		return st.Result == ResultStartLimitHit
	})
	if st = h.status("crash.service"); st.Sub != "failed" || st.Job != "" {
		t.Fatalf("after the start limit: %s, job %q; want failed and left alone", st.Sub, st.Job)
	}
	if h.status("holder.service").Sub != "running" {
		t.Errorf("the upholder suffered from the upheld unit's failures")
	}
}
