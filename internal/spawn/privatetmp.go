package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// privateTmpBases are where PrivateTmp= directories live, each base
// holding one directory per unit; the unit sees the inner tmp/ of its
// directory as /tmp and /var/tmp.
var privateTmpBases = [2]string{"/tmp", "/var/tmp"}

// privateTmpDir is unitName's PrivateTmp= directory below base; a
// process started with no unit name (tests) gets one of tend's own pid.
func privateTmpDir(base, unitName string) string {
	if unitName == "" {
		unitName = "pid" + strconv.Itoa(os.Getpid())
	}
	return filepath.Join(base, "tend-private-"+unitName)
}

// privateTmpDirs returns the unit's private /tmp and /var/tmp, made on
// first use: all of a unit's processes (ExecStartPre=, ExecStart=,
// ExecStop=…) share them until the unit stops, as under systemd. The
// outer directory is root's with mode 0700, so no other user can reach
// the world-writable tmp/ inside; one found owned by someone else or
// not a directory is refused rather than used.
func privateTmpDirs(unitName string) ([2]string, error) {
	var out [2]string
	for i, base := range privateTmpBases {
		outer := privateTmpDir(base, unitName)
		if err := os.Mkdir(outer, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return out, err
		}
		fi, err := os.Lstat(outer)
		if err != nil {
			return out, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm() != 0o700 {
			return out, fmt.Errorf("%s exists and is not tend's private directory", outer)
		}
		inner := filepath.Join(outer, "tmp")
		if err := os.Mkdir(inner, 0o1777); err != nil && !errors.Is(err, os.ErrExist) {
			return out, err
		}
		// Mkdir's mode passes through the umask.
		if err := os.Chmod(inner, os.ModeSticky|0o777); err != nil {
			return out, err
		}
		out[i] = inner
	}
	return out, nil
}

// RemovePrivateTmp removes the unit's PrivateTmp= directories when it
// stops.
func RemovePrivateTmp(unitName string) error {
	var errs []error
	for _, base := range privateTmpBases {
		errs = append(errs, os.RemoveAll(privateTmpDir(base, unitName)))
	}
	return errors.Join(errs...)
}
