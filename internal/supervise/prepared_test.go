package supervise

import (
	"context"
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// A transaction prepared as if every unit were inactive must not be
// used once a unit runs: starting x, which conflicts with the running y,
// has to stop y, which the prepared transaction does not know about.
func TestPreparedNotUsedWhenAUnitRuns(t *testing.T) {
	h := newHarness(t, map[string]string{
		"x.service": "[Unit]\nConflicts=y.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"y.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	pre := Prepare(h.m.plan, plan.Start, []string{"x.service"}, plan.Replace)
	pre.Wait()
	h.job(plan.Start, "y.service")
	h.waitState("y.service", "running")
	if _, err := h.m.JobsPrepared(context.Background(), pre, false); err != nil {
		t.Fatal(err)
	}
	h.waitState("x.service", "running")
	h.waitState("y.service", "dead")
}

// The prepared transaction is taken only for the request, plan and
// states it was made for.
func TestPreparedForOnlyItsRequest(t *testing.T) {
	h := newHarness(t, map[string]string{
		"a.service": "[Service]\nExecStart=/bin/sleep 1000\n",
		"b.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	other := plan.New(nil, plan.Options{})
	pre := Prepare(h.m.plan, plan.Start, []string{"a.service"}, plan.Replace)
	pre.Wait()
	check := func(what string, p *Prepared, kind plan.JobKind, names []string, mode plan.Mode, want bool) {
		t.Helper()
		var got *plan.Transaction
		if err := h.m.do(context.Background(), func() { got = h.m.preparedFor(p, kind, names, mode) }); err != nil {
			t.Fatal(err)
		}
		if (got != nil) != want {
			t.Errorf("%s: prepared transaction used = %v; want %v", what, got != nil, want)
		}
	}
	a := []string{"a.service"}
	check("same request, all inactive", pre, plan.Start, a, plan.Replace, true)
	check("other unit", pre, plan.Start, []string{"b.service"}, plan.Replace, false)
	check("other kind", pre, plan.Stop, a, plan.Replace, false)
	check("other mode", pre, plan.Start, a, plan.Fail, false)
	check("nil", nil, plan.Start, a, plan.Replace, false)
	otherPlan := Prepare(other, plan.Start, a, plan.Replace)
	otherPlan.Wait()
	check("other plan", otherPlan, plan.Start, a, plan.Replace, false)
	h.job(plan.Start, "b.service")
	h.waitState("b.service", "running")
	check("a unit running", pre, plan.Start, a, plan.Replace, false)
}
