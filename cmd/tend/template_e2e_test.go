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
