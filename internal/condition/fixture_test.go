package condition

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// fixture writes files (path → content, relative to dir) and returns dir.
// A content of "<dir>" makes a directory, "-> target" a symlink, and a
// leading "x:" an executable file.
func fixture(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case content == "<dir>":
			err = os.MkdirAll(full, 0o755)
		case len(content) > 3 && content[:3] == "-> ":
			err = os.Symlink(content[3:], full)
		case len(content) > 2 && content[:2] == "x:":
			err = os.WriteFile(full, []byte(content[2:]), 0o755)
		default:
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixtureEnv is an Env whose root, /proc and /sys are one fixture tree
// (under root/, proc/ and sys/), so nothing of the host leaks in.
func fixtureEnv(t testing.TB, files map[string]string) Env {
	dir := fixture(t, files)
	for _, d := range []string{"root", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Env{
		Root: filepath.Join(dir, "root"),
		Proc: filepath.Join(dir, "proc"),
		Sys:  filepath.Join(dir, "sys"),
	}
}

// cond parses the right-hand side of a condition the way unit files
// write it ("|!arg"), for compact tables.
func cond(kind, v string) unit.Condition {
	c := unit.Condition{Kind: kind}
	for len(v) > 0 && (v[0] == '|' || v[0] == '!') {
		if v[0] == '|' {
			c.Trigger = true
		} else {
			c.Negate = true
		}
		v = v[1:]
	}
	c.Arg = v
	return c
}

func assert(kind, v string) unit.Condition {
	c := cond(kind, v)
	c.Assert = true
	return c
}

// check evaluates one condition and compares the outcome.
func check(t *testing.T, env Env, kind, arg string, want bool) {
	t.Helper()
	r := Eval([]unit.Condition{cond(kind, arg)}, env)
	if r.Err != nil {
		t.Errorf("Condition%s=%s: error %v", kind, arg, r.Err)
		return
	}
	if r.OK != want {
		t.Errorf("Condition%s=%s = %v; want %v (%s)", kind, arg, r.OK, want, r.Reason)
	}
}
