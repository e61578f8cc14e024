package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemctlVerbs checks verbs and flags as systemctl users type them
// against a running instance.
func TestSystemctlVerbs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "web.service"), []byte("[Unit]\nDescription=Web\n"+
		"Documentation=man:web(8) https://example.org/web\n[Service]\n"+
		"ExecStartPre=/bin/true %n\nExecStart=/bin/sleep 1000\nRestartSec=250ms\nTimeoutStopSec=7\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "flaky.service"), []byte("[Service]\n"+
		"ExecStart=/bin/sh -c 'exit 3'\nRestart=on-failure\nRestartSec=1h\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=web.service flaky.service\n"), 0o644)
	in := startTend(t, dir)

	check := func(args []string, wantCode int, wants ...string) string {
		t.Helper()
		out, code := in.ctl(args...)
		if code != wantCode {
			t.Errorf("tend %s: exit %d; want %d\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("tend %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
			}
		}
		return out
	}
	check([]string{"show", "-P", "RestartUSec", "web"}, 0, "250ms\n")
	check([]string{"show", "-p", "TimeoutStopUSec", "--value", "web"}, 0, "7s\n")
	check([]string{"show", "-p", "ExecStartPre", "web"}, 0,
		"ExecStartPre={ path=/bin/true ; argv[]=/bin/true web.service ; ignore_errors=no ;")
	check([]string{"show", "nosuch"}, 0, "Id=nosuch.service\n", "LoadState=not-found\n", "ActiveState=inactive\n")
	check([]string{"status", "web"}, 0, "Docs: man:web(8)\n", "https://example.org/web\n")
	// flaky failed once and waits an hour for its restart.
	check([]string{"status", "flaky"}, 3, "Active: activating (auto-restart) (Result: exit-code)",
		"(code=exited, status=3/NOTIMPLEMENTED)")
	check([]string{"is-system-running"}, 0, "running\n")
	check([]string{"list-jobs"}, 0, "No jobs running.")
	check([]string{"list-units", "--plain", "--all", "--type=service", "--no-legend"}, 0, "web.service ")
	out := check([]string{"list-units", "--failed", "--no-legend"}, 0)
	if strings.TrimSpace(out) != "" {
		t.Errorf("list-units --failed lists units while none failed:\n%s", out)
	}
	check([]string{"kill", "--kill-who=main", "-s", "CONT", "web"}, 0)
	check([]string{"kill", "--kill-whom=main", "-s", "CONT", "web"}, 0)
	check([]string{"kill", "--kill-who=main", "flaky"}, 1, "no main process")
}
