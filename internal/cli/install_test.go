package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineRoot runs the install verbs with --root on a scratch tree:
// no daemon is asked, the symlinks appear on disk.
func TestOfflineRoot(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unitText := "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
	if err := os.WriteFile(filepath.Join(dir, "web.service"), []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	// The socket does not exist: --root must not need it.
	sock := filepath.Join(root, "no.sock")
	run := func(args ...string) (int, string, string) {
		return runCLI(sock, append(args, "--root", root)...)
	}

	code, out, _ := run("is-enabled", "web")
	if code != 1 || out != "disabled\n" {
		t.Errorf("is-enabled before: exit %d, %q; want 1, disabled", code, out)
	}
	code, _, errOut := run("enable", "web")
	link := "/etc/tend/units/multi-user.target.wants/web.service"
	want := "Created symlink " + link + " → /etc/systemd/system/web.service.\n"
	if code != 0 || errOut != want {
		t.Errorf("enable: exit %d, stderr %q; want 0, %q", code, errOut, want)
	}
	if target, err := os.Readlink(filepath.Join(root, link)); err != nil || target != "/etc/systemd/system/web.service" {
		t.Errorf("symlink on disk: %q, %v", target, err)
	}
	code, out, _ = run("is-enabled", "web")
	if code != 0 || out != "enabled\n" {
		t.Errorf("is-enabled after: exit %d, %q; want 0, enabled", code, out)
	}
	code, out, _ = run("list-unit-files", "--no-legend")
	if code != 0 || !strings.Contains(out, "web.service enabled") {
		t.Errorf("list-unit-files: exit %d, %q", code, out)
	}
	code, _, errOut = run("disable", "web")
	if code != 0 || errOut != "Removed \""+link+"\".\n" {
		t.Errorf("disable: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run("enable", "nope")
	if code != 1 || errOut != "Failed to enable unit: Unit file nope.service does not exist.\n" {
		t.Errorf("enable nope: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run("enable", "--now", "web")
	if code != 1 || !strings.Contains(errOut, "--now needs a running tend") {
		t.Errorf("enable --now offline: exit %d, stderr %q", code, errOut)
	}
}
