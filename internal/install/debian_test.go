package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// TestDebianListUnitFiles copies this machine's vendor units (files and
// symlinks) into a scratch root and compares list-unit-files with
// systemctl's, before and after enabling a few of them.
func TestDebianListUnitFiles(t *testing.T) {
	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		t.Skip("systemctl not installed: no oracle")
	}
	src := "/lib/systemd/system"
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Skip("no vendor units on this machine")
	}
	root := t.TempDir()
	dst := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if unit.ValidName(e.Name()) != nil {
			continue
		}
		p := filepath.Join(src, e.Name())
		if l, err := os.Readlink(p); err == nil {
			if filepath.IsAbs(l) && l != "/dev/null" {
				l = filepath.Join("/usr/lib/systemd/system", filepath.Base(l))
			}
			symlink(t, l, filepath.Join(dst, e.Name()))
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil || e.IsDir() {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := &Installer{Root: root, Config: "/etc/systemd/system", Runtime: "/run/systemd/system",
		Dirs: []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"}, Env: unit.SystemEnv()}
	compareListUnitFiles(t, systemctl, root, in)
	for _, n := range []string{"systemd-networkd.service", "getty@.service", "systemd-timesyncd.service"} {
		if _, err := os.Stat(filepath.Join(dst, n)); err != nil {
			continue
		}
		out, errA := exec.Command(systemctl, "--root="+root, "enable", n).CombinedOutput()
		if errA != nil {
			t.Logf("systemctl enable %s: %v %s", n, errA, out)
			continue
		}
		// Undo systemctl's links and redo them with ours.
		if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		if _, err := in.Enable([]string{n}, false, false); err != nil {
			t.Fatalf("enable %s: %v", n, err)
		}
		compareListUnitFiles(t, systemctl, root, in)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
