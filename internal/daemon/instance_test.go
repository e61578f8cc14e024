package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockInstance: a second instance on the same runtime directory, or
// on the same journal directory with another runtime directory, is
// refused with the holder's pid, and changes nothing in the directories.
func TestLockInstance(t *testing.T) {
	dir := t.TempDir()
	p := Paths{Runtime: filepath.Join(dir, "run"), Journal: filepath.Join(dir, "journal")}
	first, err := lockInstance(p)
	if err != nil {
		t.Fatal(err)
	}
	defer first.release()
	for _, f := range []string{filepath.Join(p.Runtime, runtimeLockName), filepath.Join(p.Journal, journalLockName)} {
		if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
			t.Errorf("%s says %q; want our pid", f, b)
		}
	}
	tests := []struct {
		name string
		p    Paths
		want string
	}{
		{"same runtime directory", Paths{Runtime: p.Runtime, Journal: filepath.Join(dir, "journal2")}, "runtime directory " + p.Runtime},
		{"same journal", Paths{Runtime: filepath.Join(dir, "run2"), Journal: p.Journal}, "journal directory " + p.Journal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			l, err := lockInstance(tt.p)
			if err == nil {
				l.release()
				t.Fatal("second instance not refused")
			}
			pid := fmt.Sprintf("pid %d", os.Getpid())
			if !strings.Contains(err.Error(), pid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refusal %q; want it to name %q and %q", err, pid, tt.want)
			}
			// Directories the refused instance created for itself are
			// its own; nothing of the first's may change.
			after := snapshot(t, dir)
			for path, v := range before {
				if after[path] != v {
					t.Errorf("%s changed: %q -> %q", path, v, after[path])
				}
			}
		})
	}
	first.release()
	again, err := lockInstance(p)
	if err != nil {
		t.Fatalf("after the first released: %v", err)
	}
	again.release()
}

// snapshot maps every file below dir to its contents.
func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(path)
			out[path] = string(b)
		}
		return nil
	})
	return out
}

// TestLockInstanceForeignRuntime: a runtime directory that another user
// made first (the /tmp/tend-UID fallback squatted) is refused before tend
// creates its socket there.
func TestLockInstanceForeignRuntime(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory of another user")
	}
	dir := t.TempDir()
	squat := filepath.Join(dir, "tend-1000")
	if err := os.Mkdir(squat, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(squat, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	p := Paths{Runtime: filepath.Join(squat, "tend"), Journal: filepath.Join(dir, "journal")}
	l, err := lockInstance(p)
	if err == nil {
		l.release()
		t.Fatal("runtime directory inside another user's directory was accepted")
	}
	if !strings.Contains(err.Error(), "uid 4242") {
		t.Errorf("refusal %q; want it to name the owner", err)
	}
	if _, err := os.Stat(filepath.Join(p.Runtime, runtimeLockName)); err == nil {
		t.Error("the lock file was created in the refused directory")
	}
}
