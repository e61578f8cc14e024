package supervise

import (
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

func TestInvocationID(t *testing.T) {
	id := newInvocationID()
	if id == (invocationID{}) {
		t.Fatal("new invocation ID is zero")
	}
	s := id.String()
	if len(s) != 32 {
		t.Fatalf("invocation ID %q; want 32 hex digits", s)
	}
	if back := parseInvocationID(s); back != id {
		t.Errorf("parse(%q) = %v; want %v", s, back, id)
	}
	if newInvocationID() == id {
		t.Error("two new invocation IDs are equal")
	}
	for _, bad := range []string{"", "xyz", s[:30], s + "00", "zz" + s[2:]} {
		if got := parseInvocationID(bad); got != (invocationID{}) {
			t.Errorf("parse(%q) = %v; want no ID", bad, got)
		}
	}
	if got := (invocationID{}).String(); got != "" {
		t.Errorf("no ID prints %q; want \"\"", got)
	}
}

// A started timer gets an invocation ID that status shows; a manager
// without a state file keeps no units marked for one.
func TestStartedTimerWithoutStateFile(t *testing.T) {
	m, _, _ := newTableManager(t, oneshot("s.service"), timerDef("t.timer", "OnCalendar=daily", "Unit=s.service"))
	tx, err := m.plan.Transaction(plan.Start, []string{"t.timer"}, plan.Replace, m.activeState)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.jobs.submit(tx); err != nil {
		t.Fatal(err)
	}
	drain(m)
	u := m.units["t.timer"]
	if u.state != Waiting {
		t.Fatalf("timer is %v; want waiting", u.state)
	}
	if got := m.snapshot(u, false).InvocationID; len(got) != 32 {
		t.Errorf("status InvocationID %q; want 32 hex digits", got)
	}
	if n := len(m.changed); n != 0 {
		t.Errorf("%d units marked for a state file that is not written; want 0", n)
	}
}
