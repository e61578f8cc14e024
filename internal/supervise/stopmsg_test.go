package supervise

import (
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// TestStoppingOnlyForAStop: "Stopping …" is logged for a stop that was
// asked for, not when the main process ended by itself (then, as in
// systemd, the run ends with "Deactivated successfully." alone).
func TestStoppingOnlyForAStop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"self.service": "[Service]\nExecStart=/bin/true\n",
		"long.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "self.service", "long.service")
	h.waitFor("self.service deactivated", func() bool { return h.logs.has("self.service: Deactivated successfully.") })
	if h.logs.has("Stopping self.service") {
		t.Errorf("a main process that ended by itself was logged as stopping:\n%s", h.logs.dump())
	}
	h.waitState("long.service", "running")
	h.job(plan.Stop, "long.service")
	if !h.logs.has("Stopping long.service") {
		t.Errorf("a stop job was not logged:\n%s", h.logs.dump())
	}
}
