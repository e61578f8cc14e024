package supervise

import (
	"testing"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/cgroup/cgrouptest"
	"github.com/tendproject/tend/internal/plan"
)

// TestTimerPreparesCgroupAhead: prepareLead before the elapse the
// triggered service's cgroup exists (a real one), the start at the
// elapse runs in that group, and a timer stopped between the two takes
// the group away again.
func TestTimerPreparesCgroupAhead(t *testing.T) {
	r := newTimerRig(t, oneshot("job.service"), timerDef("job.timer", "OnActiveSec=1s", "AccuracySec=1us"))
	cg := cgroup.Detect(cgroup.Options{Root: "/sys/fs/cgroup", Proc: "/proc", Base: cgrouptest.InProcessBase()})
	t.Cleanup(func() {
		if err := cg.Prune(); err != nil {
			t.Errorf("cgroups left behind: %v", err)
		}
		cg.Close()
	})
	if cg.Mode() == cgroup.ModeNone {
		t.Skip("no cgroups to make here")
	}
	r.m.opts.Cgroups = cg
	due := tableEpoch.Add(time.Second)
	// A group's cgroup.procs can be read while its directory exists.
	exists := func(g *cgroup.Group) bool { _, err := g.PIDs(); return err == nil }

	r.job(plan.Start, "job.timer")
	svc := r.svc("job.service")
	r.advanceTo(due.Add(-prepareLead - time.Millisecond))
	if svc.cg != nil {
		t.Fatalf("group made %v before the elapse; want it made %v before", prepareLead+time.Millisecond, prepareLead)
	}
	r.advanceTo(due.Add(-prepareLead))
	g := svc.cg
	if g == nil || !exists(g) {
		t.Fatalf("no group %v before the elapse", prepareLead)
	}
	if r.runs("job.service") {
		t.Fatal("the service started at the preparing wake-up, before its elapse")
	}
	r.advanceTo(due)
	if !r.runs("job.service") || svc.cg != g {
		t.Fatalf("at the elapse: running %v, group %p; want running in the prepared group %p", r.runs("job.service"), svc.cg, g)
	}
	r.finish("job.service")

	// Once more, and the timer stops between the preparing wake and the
	// elapse: the group goes.
	r.job(plan.Stop, "job.service")
	r.job(plan.Stop, "job.timer")
	r.job(plan.Start, "job.timer")
	now := r.clk.Now()
	r.advanceTo(now.Add(time.Second - prepareLead))
	g = svc.cg
	if g == nil {
		t.Fatal("no group made ahead of the second elapse")
	}
	r.job(plan.Stop, "job.timer")
	if svc.cg != nil || exists(g) {
		t.Fatalf("after the timer stopped: group %v, %s exists %v; want both gone", svc.cg, g.Path(), exists(g))
	}
}
