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
