package cli

import (
	"os"

	"github.com/tendproject/tend/internal/daemon"
	"github.com/tendproject/tend/internal/install"
)

// offlineUnitFiles returns the unit-file operations done directly on the
// files below root ("" for /), for --root and for when no daemon runs (as
// `systemctl enable` works without a running manager).
func offlineUnitFiles(user bool, root string) (unitFiles, error) {
	if user {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		return daemon.NewUnitFiles(install.User(home, os.Getenv)), nil
	}
	return daemon.NewUnitFiles(install.System(root)), nil
}
