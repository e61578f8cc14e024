package install

import (
	"os"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

func BenchmarkListUnitFilesDebian(b *testing.B) {
	if _, err := os.Stat("/lib/systemd/system"); err != nil {
		b.Skip("no vendor units on this machine")
	}
	in := &Installer{Config: "/nonexistent/etc", Runtime: "/nonexistent/run",
		Dirs: []string{"/lib/systemd/system"}, Env: unit.SystemEnv()}
	for b.Loop() {
		if _, err := in.ListUnitFiles(); err != nil {
			b.Fatal(err)
		}
	}
}
