package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnableIntoBuiltinTarget enables a unit offline (`tend enable
// --root`, as a Dockerfile does) into multi-user.target, which no file
// defines, and checks that the next `tend run` starts it.
func TestEnableIntoBuiltinTarget(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/tend/units")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(root, "started")
	svc := "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/touch " + mark + "\n[Install]\nWantedBy=multi-user.target\n"
	if err := os.WriteFile(filepath.Join(dir, "x.service"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tendBin, "enable", "--root", root, "x.service").CombinedOutput(); err != nil {
		t.Fatalf("tend enable --root: %v\n%s", err, out)
	}
	if _, err := os.Lstat(filepath.Join(dir, "multi-user.target.wants", "x.service")); err != nil {
		t.Fatalf("enable made no link: %v", err)
	}
	in := startTend(t, dir)
	if out, code := in.ctl("is-active", "x"); code != 0 || strings.TrimSpace(out) != "active" {
		t.Errorf("x.service after boot: %q exit %d\n%s", out, code, in.mustCtl("list-dependencies", "multi-user.target"))
	}
	if _, err := os.Stat(mark); err != nil {
		t.Errorf("x.service did not run: %v", err)
	}
}
