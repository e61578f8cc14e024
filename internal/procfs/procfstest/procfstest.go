// Package procfstest provides the fixture /proc tree of internal/procfs
// to the tests of the packages built on it.
package procfstest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/tendproject/tend/internal/procfs"
)

// Tree copies the fixture tree to a temporary directory and returns its
// path. The kernel makes each /proc/PID directory's owner the process's
// effective uid, and the views read it there; git keeps no owners, so the
// copy gets them from each status file when the test runs as root.
// Otherwise owned reports false and tests of user selection must skip.
func Tree(t testing.TB) (root string, owned bool) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "..", "testdata", "proc")
	root = filepath.Join(t.TempDir(), "proc")
	if err := os.CopyFS(root, os.DirFS(src)); err != nil {
		t.Fatalf("copy fixture /proc: %v", err)
	}
	if os.Geteuid() != 0 {
		return root, false
	}
	fs := procfs.New(root)
	pids, err := fs.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	r := fs.NewReader()
	for _, pid := range pids {
		st, err := r.Status(pid)
		if err != nil {
			continue // a fixture process without status: left to root
		}
		if err := os.Chown(fs.Path(strconv.Itoa(pid)), st.UIDs[1], st.GIDs[1]); err != nil {
			t.Fatalf("fixture owner: %v", err)
		}
	}
	return root, true
}
