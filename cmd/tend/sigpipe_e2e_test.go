package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sigpipeIgnored reads SigIgn from a /proc/PID/status text and reports
// whether SIGPIPE (13) is ignored.
func sigpipeIgnored(t *testing.T, status string) bool {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return m&(1<<12) != 0
		}
	}
	t.Fatalf("no SigIgn in %q", status)
	return false
}

// TestIgnoreSIGPIPEDefault: services start with SIGPIPE ignored
// (systemd's IgnoreSIGPIPE=yes) on every path — main process,
// ExecStartPre=, a sandboxed unit — and with the default action under
// IgnoreSIGPIPE=no and in a service directory (as runsv), seen in
// /proc/PID/status from outside.
func TestIgnoreSIGPIPEDefault(t *testing.T) {
	root := t.TempDir()
	units := filepath.Join(root, "units")
	scan := filepath.Join(root, "scan")
	os.MkdirAll(units, 0o755)
	os.MkdirAll(filepath.Join(scan, "sv"), 0o755)
	pre := filepath.Join(root, "pre")
	svOut := filepath.Join(root, "sv-status")
	write := func(p, text string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(units, "yes.service"), "[Service]\nExecStartPre=/bin/sh -c 'cat /proc/$$$$/status > "+pre+"'\nExecStart=/bin/sleep 1000\n", 0o644)
	write(filepath.Join(units, "no.service"), "[Service]\nIgnoreSIGPIPE=no\nExecStart=/bin/sleep 1000\n", 0o644)
	write(filepath.Join(units, "boxed.service"), "[Service]\nPrivateTmp=yes\nExecStart=/bin/sleep 1000\n", 0o644)
	write(filepath.Join(scan, "sv", "run"), "#!/bin/sh\ncat /proc/$$/status > "+svOut+".tmp && mv "+svOut+".tmp "+svOut+"\nexec sleep 1000\n", 0o755)
	in := startTend(t, units, "--svdir", scan)
	for _, c := range []struct {
		unit string
		want bool
	}{{"yes.service", true}, {"no.service", false}, {"boxed.service", true}} {
		in.mustCtl("start", c.unit)
		pid := in.prop(c.unit, "MainPID")
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatalf("%s: %v", c.unit, err)
		}
		if got := sigpipeIgnored(t, string(b)); got != c.want {
			t.Errorf("%s: SIGPIPE ignored %v; want %v", c.unit, got, c.want)
		}
		in.mustCtl("stop", c.unit)
	}
	if b, err := os.ReadFile(pre); err != nil || !sigpipeIgnored(t, string(b)) {
		t.Errorf("ExecStartPre=: SIGPIPE not ignored (%v)", err)
	}
	st := awaitFile(t, svOut, "written by the service directory's run", func(string) bool { return true })
	if sigpipeIgnored(t, st) {
		t.Error("service directory run: SIGPIPE ignored; runsv leaves it default")
	}
}
