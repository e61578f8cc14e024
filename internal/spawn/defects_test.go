package spawn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// TestDirectoryModeKeepsSpecialBits: RuntimeDirectoryMode=2755 and
// StateDirectoryMode=1777 keep their setgid and sticky bits.
func TestDirectoryModeKeepsSpecialBits(t *testing.T) {
	base := t.TempDir()
	d := Dirs{Runtime: filepath.Join(base, "run"), State: filepath.Join(base, "lib")}
	ec := &unit.ExecContext{
		RuntimeDirectory: unit.DirSpec{Paths: []string{"sgid"}, Mode: 0o2755},
		StateDirectory:   unit.DirSpec{Paths: []string{"sticky"}, Mode: 0o1777},
	}
	if err := PrepareDirs(ec, d, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(d.Runtime, "sgid"): os.ModeSetgid | 0o755,
		filepath.Join(d.State, "sticky"): os.ModeSticky | 0o777,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ os.ModeDir; got != want {
			t.Errorf("%s: mode %v; want %v", path, got, want)
		}
	}
}
