package unit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// write creates path with text, making parent directories.
func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// symlink creates path → target, making parent directories.
func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// loadText loads one unit written to a scratch directory.
func loadText(t *testing.T, name, text string) *Unit {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, name), text)
	l := &Loader{Dirs: []string{dir}, Env: testEnv()}
	u, err := l.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// diagText joins a unit's diags for substring checks.
func diagText(u *Unit) string {
	var b strings.Builder
	for _, d := range u.Diags {
		b.WriteString(d.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
