// Package rundir says where a user instance of tend keeps its sockets and
// runtime state. The daemon, its client and the services it starts all ask
// here, so that a shell, su, runuser and cron agree on one socket.
package rundir

import (
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
