package supervise

import (
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// TestStoppingOnlyForAStop: "Stopping …" is logged for a stop that was
// asked for, not when the main process ended by itself (then, as in
// systemd, the run ends with "Deactivated successfully." alone: a clean
// exit is a debug message, which the journal gets only at debug level;
// an unclean one is a notice).
func TestStoppingOnlyForAStop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"self.service": "[Service]\nExecStart=/bin/true\n",
		"fail.service": "[Service]\nExecStart=/bin/false\n",
		"long.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "self.service", "fail.service", "long.service")
	h.waitFor("self.service deactivated", func() bool { return h.logs.has("self.service: Deactivated successfully.") })
	h.waitFor("fail.service failed", func() bool { return h.logs.has("fail.service: Failed with result 'exit-code'.") })
	if h.logs.has("Stopping self.service") || h.logs.has("self.service: Main process exited") {
		t.Errorf("a main process that ended cleanly by itself was logged as stopping or exiting:\n%s", h.logs.dump())
	}
	if !h.logs.has("fail.service: Main process exited, code=exited, status=1/FAILURE") {
		t.Errorf("an unclean exit was not logged:\n%s", h.logs.dump())
	}
	h.waitState("long.service", "running")
	h.job(plan.Stop, "long.service")
	if !h.logs.has("Stopping long.service") {
		t.Errorf("a stop job was not logged:\n%s", h.logs.dump())
	}
}
