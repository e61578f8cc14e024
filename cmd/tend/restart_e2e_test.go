package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRestartRestartsBoundUnits restarts a unit another is bound to
// (BindsTo=, like the examples' worker and web server): the bound unit
// runs again afterwards, with a new main pid, as with systemd.
func TestRestartRestartsBoundUnits(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"web.service":    "[Service]\nExecStart=/bin/sleep 1000\n",
		"worker.service": "[Unit]\nBindsTo=web.service\nAfter=web.service\n[Service]\nExecStart=/bin/sleep 1000\n",
		"default.target": "[Unit]\nWants=worker.service\n",
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	web, worker := in.mainPID("web"), in.mainPID("worker")
	started := in.follow("worker")
	in.mustCtl("restart", "web")
	started("Started worker.service")
	if out, code := in.ctl("is-active", "web", "worker"); code != 0 || out != "active\nactive\n" {
		t.Fatalf("after restart web: is-active %q exit %d\n%s", out, code, in.mustCtl("logs", "-n", "30"))
	}
	if np := in.mainPID("web"); np == web || !alive(np) {
		t.Errorf("web main pid %d (was %d)", np, web)
	}
	if np := in.mainPID("worker"); np == worker || !alive(np) {
		t.Errorf("worker main pid %d (was %d); want a new running process", np, worker)
	}
	if alive(worker) {
		t.Errorf("old worker %d still running", worker)
	}
}
