package supervise

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

// TestOneshotKilledBySIGTERMFails: SIGTERM (and SIGHUP, SIGINT, SIGPIPE)
// is a clean end only for the main process of a service that is not
// Type=oneshot, as in systemd.
func TestOneshotKilledBySIGTERMFails(t *testing.T) {
	h := newHarness(t, map[string]string{
		"one.service":    "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'kill -TERM $$$$'\n",
		"simple.service": "[Service]\nExecStart=/bin/sh -c 'kill -PIPE $$$$'\n",
	})
	h.job(plan.Start, "one.service")
	st := h.waitState("one.service", "failed")
	if st.Result != ResultSignal || st.ExecMainCode != "killed" || st.ExecMainStat != 15 {
		t.Errorf("oneshot killed by SIGTERM: result %s, %s/%d; want signal, killed/15", st.Result, st.ExecMainCode, st.ExecMainStat)
	}
	h.job(plan.Start, "simple.service")
	st = h.waitState("simple.service", "dead")
	if st.Result != ResultSuccess {
		t.Errorf("simple service killed by SIGPIPE: result %s; want success", st.Result)
	}
}

// TestMissingEnvironmentFileIsResources: a process tend cannot prepare
// (a missing EnvironmentFile=) fails the unit with Result=resources and
// a non-zero status, never "status=0/SUCCESS".
func TestMissingEnvironmentFileIsResources(t *testing.T) {
	h := newHarness(t, map[string]string{
		"env.service": "[Service]\nEnvironmentFile=%D/missing.env\nExecStart=/bin/true\n",
	})
	h.job(plan.Start, "env.service")
	st := h.waitState("env.service", "failed")
	if st.Result != ResultResources || st.ExecMainStat == 0 {
		t.Errorf("missing EnvironmentFile=: result %s, status %s/%d; want resources and a non-zero status", st.Result, st.ExecMainCode, st.ExecMainStat)
	}
}

// TestCredentialsRemovedAtStop: $CREDENTIALS_DIRECTORY holds the unit's
// credentials while it runs and is gone once it stopped.
func TestCredentialsRemovedAtStop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"cred.service": "[Service]\nSetCredential=token:s3cret\nExecStart=/bin/sh -c 'cat \"$CREDENTIALS_DIRECTORY/token\" > %D/seen; exec sleep 1000'\n",
	})
	h.job(plan.Start, "cred.service")
	if got := string(h.waitFile("seen")); got != "s3cret" {
		t.Errorf("credential read by the service: %q; want s3cret", got)
	}
	dir := filepath.Join(h.dir, "run", "credentials", "cred.service")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("credentials directory while running: %v", err)
	}
	h.job(plan.Stop, "cred.service")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("credentials directory after stop: %v; want it gone", err)
	}
}

// TestExecConditionResults: an ExecCondition= exiting 1–254 skips the
// unit, inactive with Result=exec-condition and the later commands not
// run; 255 fails it with Result=exit-code (systemd.service(5)).
func TestExecConditionResults(t *testing.T) {
	h := newHarness(t, map[string]string{
		"skip.service": "[Service]\nType=oneshot\nExecCondition=/bin/sh -c 'exit 0'\nExecCondition=/bin/sh -c 'exit 254'\n" +
			"ExecCondition=/bin/sh -c 'exit 255'\nExecStart=/bin/touch %D/skip-ran\n",
		"fail.service": "[Service]\nType=oneshot\nExecCondition=/bin/sh -c 'exit 255'\nExecStart=/bin/touch %D/fail-ran\n",
	})
	h.job(plan.Start, "skip.service")
	if st := h.waitState("skip.service", "dead"); st.Result != ResultExecCondition {
		t.Errorf("ExecCondition= exit 254: result %s; want exec-condition, inactive", st.Result)
	}
	h.job(plan.Start, "fail.service")
	if st := h.waitState("fail.service", "failed"); st.Result != ResultExitCode {
		t.Errorf("ExecCondition= exit 255: result %s; want exit-code, failed", st.Result)
	}
	for _, f := range []string{"skip-ran", "fail-ran"} {
		if _, err := os.Stat(filepath.Join(h.dir, f)); err == nil {
			t.Errorf("ExecStart= ran after ExecCondition= (%s)", f)
		}
	}
}
