package install

import (
	"fmt"
	"os"
	"syscall"

	"github.com/tendproject/tend/internal/unit"
)

// syntaxError returns the first syntax error of the unit file at path
// (inside Root): like systemctl, install operations refuse a file they
// cannot parse cleanly, where the loader would skip the bad line.
func (i *Installer) syntaxError(path string) error {
	f, err := os.OpenFile(i.host(path), os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO reads as empty, not waiting for a writer
	if err != nil {
		return err
	}
	defer f.Close()
	_, diags := unit.ParseFile(path, f)
	for _, d := range diags {
		if d.Severity == unit.Error {
			return fmt.Errorf("bad unit file: %w", d)
		}
	}
	return nil
}

// installError returns the first error diag about an [Install] entry of
// u: an invalid name in WantedBy= or an Alias= of another type makes
// enable fail rather than do half the work.
func installError(u *unit.Unit) error {
	lines := map[string]map[int]bool{}
	for _, e := range u.Entries {
		if e.Section == "Install" {
			if lines[e.File] == nil {
				lines[e.File] = map[int]bool{}
			}
			lines[e.File][e.Line] = true
		}
	}
	for _, d := range u.Diags {
		if d.Severity == unit.Error && lines[d.File][d.Line] {
			return d
		}
	}
	return nil
}

// hasInstallInfo reports whether u's files set any of WantedBy=,
// RequiredBy=, UpheldBy= or Alias= (valid or not), which makes a unit
// without links "disabled" rather than "static".
func hasInstallInfo(u *unit.Unit) bool {
	for _, e := range u.Entries {
		if e.Section == "Install" && e.Value != "" {
			switch e.Key {
			case "WantedBy", "RequiredBy", "UpheldBy", "Alias":
				return true
			}
		}
	}
	return false
}
