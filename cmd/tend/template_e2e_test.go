package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartTemplateInstanceByName: "tend start t@x.service" loads the
// instance of a template the plan does not hold yet and runs it with
// its specifiers resolved, as systemctl does.
func TestStartTemplateInstanceByName(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.WriteFile(filepath.Join(dir, "t@.service"), []byte("[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo %i %I > "+out+"'\n"), 0o644)
	in := startTend(t, dir)
	in.mustCtl("start", "t@a-b.service")
	if b, err := os.ReadFile(out); err != nil || strings.TrimSpace(string(b)) != "a-b a/b" {
		t.Fatalf("instance output %q, %v; want \"a-b a/b\"", b, err)
	}
	if st := in.prop("t@a-b.service", "ActiveState"); st != "inactive" {
		t.Errorf("t@a-b.service is %s after its run; want inactive", st)
	}
	if _, rc := in.ctl("start", "missing@x.service"); rc == 0 {
		t.Error("starting an instance of no template succeeded")
	}
}

// TestInstanceSurvivesReload: an instance started by name stays in the
// plan through a daemon-reload, as systemd keeps a loaded unit that is
// referenced: it runs on untouched, status and show still know it, and
// it restarts and stops by name.
func TestInstanceSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t@.service"), []byte("[Unit]\nDescription=inst %i\n[Service]\nExecStart=/bin/sleep 1000\n"), 0o644)
	in := startTend(t, dir)
	in.mustCtl("start", "t@x.service")
	pid := in.mainPID("t@x.service")
	in.mustCtl("daemon-reload")
	if np := in.mainPID("t@x.service"); np != pid {
		t.Fatalf("reload touched the running instance: pid %d → %d", pid, np)
	}
	if desc := strings.TrimSpace(in.mustCtl("show", "-p", "Description", "--value", "t@x.service")); desc != "inst x" {
		t.Errorf("instance's description after reload %q; want \"inst x\"", desc)
	}
	if out := in.mustCtl("list-units"); !strings.Contains(out, "t@x.service") {
		t.Errorf("list-units after reload lacks the instance:\n%s", out)
	}
	in.mustCtl("restart", "t@x.service")
	np := in.mainPID("t@x.service")
	if np == pid || np == 0 || alive(pid) {
		t.Errorf("restart after reload: pid %d → %d (old alive: %v)", pid, np, alive(pid))
	}
	in.mustCtl("stop", "t@x.service")
	if st := in.prop("t@x.service", "ActiveState"); st != "inactive" {
		t.Errorf("t@x.service is %s after stop; want inactive", st)
	}
	if alive(np) {
		t.Errorf("instance's process %d alive after stop", np)
	}
}
