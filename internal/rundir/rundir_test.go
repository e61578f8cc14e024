package rundir

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestUser(t *testing.T) {
	runUser := t.TempDir()
	me, other := os.Getuid(), os.Getuid()+1
	owned := filepath.Join(runUser, strconv.Itoa(me))
	if err := os.Mkdir(owned, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(runUser, strconv.Itoa(other)), 0o700); err != nil { // mine, not other's
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		env  map[string]string
		uid  int
		want string
	}{
		{"variable", map[string]string{"XDG_RUNTIME_DIR": "/run/user/5/"}, 5, "/run/user/5"},
		{"relative variable ignored", map[string]string{"XDG_RUNTIME_DIR": "run"}, me, owned},
		{"login manager's directory", nil, me, owned},
		{"directory of another owner", nil, other, "/tmp/tend-" + strconv.Itoa(other)},
		{"missing directory", nil, other + 1, "/tmp/tend-" + strconv.Itoa(other+1)},
		{"TMPDIR", map[string]string{"TMPDIR": "/var/tmp"}, 1000, "/var/tmp/tend-1000"},
		{"relative TMPDIR ignored", map[string]string{"TMPDIR": "tmp"}, 1000, "/tmp/tend-1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userIn(env(tt.env), tt.uid, runUser); got != tt.want {
				t.Errorf("User(%v, %d) = %q; want %q", tt.env, tt.uid, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	me := os.Getuid()
	base := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := mk("private", 0o700)
	shared := mk("shared", 0o777)
	sticky := mk("sticky", 0o777|os.ModeSticky)
	foreign := mk("foreign", 0o700)
	for _, d := range []string{private, shared, sticky, foreign} {
		if err := os.Mkdir(filepath.Join(d, "tend"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// another user's directory: only root can make one in a test
	foreignOK := true
	if me == 0 {
		if err := os.Chown(foreign, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		foreignOK = false
	}
	if err := os.Symlink(private, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		uid        int
		ok         bool
	}{
		{"own private directory", filepath.Join(private, "tend"), me, true},
		{"world-writable parent", filepath.Join(shared, "tend"), me, false},
		{"sticky parent of root", filepath.Join(sticky, "tend"), me, me == 0},
		{"symlink", filepath.Join(base, "link"), me, false},
		{"parent of another user", filepath.Join(foreign, "tend"), me, foreignOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.path, tt.uid)
			if (err == nil) != tt.ok {
				t.Errorf("Check(%s, %d) = %v; want ok=%v", tt.path, tt.uid, err, tt.ok)
			}
		})
	}
}
