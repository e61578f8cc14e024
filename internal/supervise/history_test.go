package supervise

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// runsOf renders ExecRuns as "Kind[i] argv0 code/status" lines.
func runsOf(runs []ExecRun) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "%s[%d] %s %s/%d pid>0=%v\n", r.Kind, r.Index, r.Command.Argv[len(r.Command.Argv)-1], r.Code, r.Status, r.PID > 0)
	}
	return b.String()
}

func TestExecRunsOfAnActivation(t *testing.T) {
	h := newHarness(t, map[string]string{
		"job.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
			"ExecStartPre=/bin/sh -c 'exit 0'\nExecStartPre=-/bin/sh -c 'exit 3'\n" +
			"ExecStart=/bin/sh -c 'echo main'\nExecStartPost=/bin/sh -c 'kill -TERM $$$$'\n" +
			"ExecStop=/bin/sh -c 'exit 0'\n",
	})
	if res := h.job(plan.Start, "job.service"); res[0].Result != "failed" {
		// ExecStartPost= died of SIGTERM: the start fails, ExecStop= runs.
		t.Fatalf("start: %+v", res)
	}
	want := "ExecStartPre[0] exit 0 exited/0 pid>0=true\n" +
		"ExecStartPre[1] exit 3 exited/3 pid>0=true\n" +
		"ExecStart[0] echo main exited/0 pid>0=true\n" +
		"ExecStartPost[0] kill -TERM $$$$ killed/15 pid>0=true\n" +
		"ExecStop[0] exit 0 exited/0 pid>0=true\n"
	st := h.waitState("job.service", "failed")
	if got := runsOf(st.ExecRuns); got != want {
		t.Fatalf("runs:\n%s\nwant:\n%s", got, want)
	}
	// A new activation starts its history afresh.
	if err := h.m.ResetFailed(t.Context(), []string{"job.service"}); err != nil {
		t.Fatal(err)
	}
	h.job(plan.Start, "job.service")
	st = h.waitState("job.service", "failed")
	if got := runsOf(st.ExecRuns); got != want {
		t.Fatalf("second run:\n%s\nwant:\n%s", got, want)
	}
	if st.ExecRuns[0].PID == st.ExecRuns[1].PID {
		t.Fatalf("two commands with one pid: %+v", st.ExecRuns)
	}
}

func TestExecRunsOfSimpleMain(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web.service": "[Service]\nExecStart=/bin/sh -c 'exit 7'\n",
	})
	h.job(plan.Start, "web.service")
	st := h.waitState("web.service", "failed")
	if got, want := runsOf(st.ExecRuns), "ExecStart[0] exit 7 exited/7 pid>0=true\n"; got != want {
		t.Fatalf("runs = %q; want %q", got, want)
	}
	if st.ExecRuns[0].PID != st.ExecMainPID {
		t.Fatalf("run pid %d; main pid %d", st.ExecRuns[0].PID, st.ExecMainPID)
	}
}
