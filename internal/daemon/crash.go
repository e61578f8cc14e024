package daemon

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/supervise"
)

// stateFileName is the manager's state file in the runtime directory
// (supervise/persist.go): what a manager started after a crash takes
// back.
const stateFileName = "state"

// restoreState takes back the state a crashed manager left, and reports
// whether there was one. A state file that cannot be trusted is set
// aside (state.bad, for a post-mortem) and the units start afresh.
func (d *daemon) restoreState() bool {
	path := filepath.Join(d.cfg.Paths.Runtime, stateFileName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false
	}
	st, err := supervise.ReadStateFile(path)
	if err != nil {
		d.log.Error("state of the previous manager unusable; starting units afresh", "err", err)
		_ = os.Rename(path, path+".bad")
		return false
	}
	d.log.Info("taking back the units of the previous manager", "units", len(st.Units))
	d.mgr.Restore(st, false, nil)
	return true
}
