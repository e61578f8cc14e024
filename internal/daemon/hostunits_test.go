package daemon

import (
	"os"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// TestHostUnitsBootPlan loads this machine's packaged units the way `tend
// run` does as root and builds the boot transaction, starting nothing: it
// must succeed, and units only systemd can run must not get jobs.
func TestHostUnitsBootPlan(t *testing.T) {
	if _, err := os.Stat("/lib/systemd/system/multi-user.target"); err != nil {
		t.Skip("no packaged systemd units on this machine")
	}
	l := newLoader(Config{Getenv: func(string) string { return "" }, Paths: Paths{Runtime: t.TempDir()}}, nil)
	pl, diags := l.load()
	for _, d := range diags {
		if strings.Contains(d, "panic") {
			t.Error(d)
		}
	}
	tx, err := pl.Transaction(plan.Start, []string{"default.target"}, plan.Replace, func(string) plan.State { return plan.Inactive })
	if err != nil {
		t.Fatalf("boot transaction: %v", err)
	}
	for _, j := range tx.Jobs {
		if strings.HasPrefix(j.Unit, "systemd-") && strings.HasSuffix(j.Unit, ".service") {
			t.Errorf("job for %s, which only systemd can run", j.Unit)
		}
		t.Logf("job %s %s", j.Kind, j.Unit)
	}
	for _, s := range tx.Skipped {
		t.Logf("skipped %s: %s", s.Unit, s.Reason)
	}
}
