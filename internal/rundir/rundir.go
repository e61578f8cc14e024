// Package rundir says where a user instance of tend keeps its sockets and
// runtime state. The daemon, its client and the services it starts all ask
// here, so that a shell, su, runuser and cron agree on one socket.
package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// User returns the runtime directory of uid: $XDG_RUNTIME_DIR when it is
// an absolute path; else /run/user/UID when that directory exists and
// belongs to uid (a login manager made it, but su, runuser and cron do
// not set the variable); else tend-UID in $TMPDIR, or in /tmp.
func User(getenv func(string) string, uid int) string {
	return userIn(getenv, uid, "/run/user")
}

func userIn(getenv func(string) string, uid int, runUser string) string {
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	id := strconv.Itoa(uid)
	if d := filepath.Join(runUser, id); ownedDir(d, uid) {
		return d
	}
	tmp := getenv("TMPDIR")
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "tend-"+id)
}

func ownedDir(path string, uid int) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}

// Check refuses a runtime directory another user controls: path and its
// parent must be directories (not symlinks) owned by uid or by root, and
// one writable by group or others must be root's and sticky, like /tmp.
// Without it, a user who created /tmp/tend-UID first could replace the
// control socket of uid's instance and read every command sent to it.
func Check(path string, uid int) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("runtime directory %s: not a directory (%s); refusing it", path, p)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		owner := int(st.Uid)
		if owner != uid && owner != 0 {
			return fmt.Errorf("runtime directory %s: %s belongs to uid %d, not to uid %d or root; refusing it, as another user could replace tend's socket there", path, p, owner, uid)
		}
		shared := fi.Mode().Perm()&0o022 != 0
		if shared && (owner != 0 || fi.Mode()&os.ModeSticky == 0) {
			return fmt.Errorf("runtime directory %s: %s is writable by other users (mode %04o); refusing it", path, p, fi.Mode().Perm())
		}
	}
	return nil
}
