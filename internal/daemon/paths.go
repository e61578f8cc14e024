package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tendproject/tend/internal/rundir"
	"github.com/tendproject/tend/internal/spawn"
)

// Paths are the places an instance of tend owns.
type Paths struct {
	Runtime    string // sockets and runtime state
	Socket     string // control API
	Journal    string // journal directory
	CgroupBase string // name of tend's cgroup subtree
	Syslog     string // syslog datagram socket to capture; "" for none
	State      string // state that outlives tend and reboots (timer stamps)
	Dirs       spawn.Dirs
}

// DefaultPaths returns the paths of the system instance, or of the calling
// user's instance.
func DefaultPaths(user bool, getenv func(string) string) Paths {
	if !user {
		return Paths{
			Runtime:    "/run/tend",
			Socket:     "/run/tend/tend.sock",
			Journal:    "/var/log/tend/journal",
			CgroupBase: "tend",
			Syslog:     "/dev/log",
			State:      "/var/lib/tend",
			Dirs:       spawn.SystemDirs(),
		}
	}
	uid := os.Getuid()
	rt := rundir.User(getenv, uid) // the client's rule too
	state := getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(state) {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		state = filepath.Join(home, ".local", "state")
	}
	return Paths{
		Runtime:    filepath.Join(rt, "tend"),
		Socket:     filepath.Join(rt, "tend", "tend.sock"),
		Journal:    filepath.Join(state, "tend", "journal"),
		State:      filepath.Join(state, "tend"),
		CgroupBase: fmt.Sprintf("tend-user-%d", uid),
		Dirs:       spawn.UserDirs(getenv),
	}
}

// CgroupBaseFor names the cgroup subtree of an instance whose runtime
// directory was chosen by hand: two managers with different runtime
// directories must never share (and so kill or prune) each other's groups.
func CgroupBaseFor(runtime string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(runtime)))
	return "tend-" + hex.EncodeToString(sum[:6])
}
