package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/rundir"
	"github.com/tendproject/tend/internal/unit"
)

// Dirs are the base directories of RuntimeDirectory=, StateDirectory=,
// CacheDirectory=, LogsDirectory= and ConfigurationDirectory=.
type Dirs struct{ Runtime, State, Cache, Logs, Config string }

// SystemDirs are the bases for the system instance.
func SystemDirs() Dirs {
	return Dirs{Runtime: "/run", State: "/var/lib", Cache: "/var/cache", Logs: "/var/log", Config: "/etc"}
}

// UserDirs are the bases for a per-user instance, from the XDG variables
// (getenv is os.Getenv or a test's lookup) with their usual defaults.
func UserDirs(getenv func(string) string) Dirs {
	home := getenv("HOME")
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	state := or("XDG_STATE_HOME", filepath.Join(home, ".local/state"))
	return Dirs{
		Runtime: rundir.User(getenv, os.Getuid()),
		State:   state,
		Cache:   or("XDG_CACHE_HOME", filepath.Join(home, ".cache")),
		Logs:    filepath.Join(state, "log"),
		Config:  or("XDG_CONFIG_HOME", filepath.Join(home, ".config")),
	}
}

// dirKind ties one directory setting to its base, variable and failure
// status.
type dirKind struct {
	spec   unit.DirSpec
	base   string
	envVar string
	status int
	owned  bool // chowned to the unit's user
}

func dirKinds(ec *unit.ExecContext, d Dirs) []dirKind {
	return []dirKind{
		{ec.RuntimeDirectory, d.Runtime, "RUNTIME_DIRECTORY", ExitRuntimeDirectory, true},
		{ec.StateDirectory, d.State, "STATE_DIRECTORY", ExitStateDirectory, true},
		{ec.CacheDirectory, d.Cache, "CACHE_DIRECTORY", ExitCacheDirectory, true},
		{ec.LogsDirectory, d.Logs, "LOGS_DIRECTORY", ExitLogsDirectory, true},
		{ec.ConfigurationDirectory, d.Config, "CONFIGURATION_DIRECTORY", ExitConfigurationDirectory, false},
	}
}

// PrepareDirs creates the unit's RuntimeDirectory= and friends below the
// bases in d: missing parents owned by root with mode 0755, the innermost
// directory with the configured mode (default 0755, applied to existing
// directories too) and owned by uid:gid, except the configuration
// directory, which stays root's. On failure the error is a *SetupError
// with the matching status (233 RUNTIME_DIRECTORY, 238 STATE_DIRECTORY, …).
func PrepareDirs(ec *unit.ExecContext, d Dirs, uid, gid int) error {
	if ec == nil {
		return nil
	}
	for _, k := range dirKinds(ec, d) {
		for _, p := range k.spec.Paths {
			if err := prepareDirFor(ec, k, p, uid, gid); err != nil {
				return setupErr(k.status, p, err)
			}
		}
	}
	return nil
}

func prepareDir(k dirKind, rel string, uid, gid int) error {
	full, err := dirPath(k.base, rel)
	if err != nil {
		return err
	}
	// The raw mode bits, not an os.FileMode: os.FileMode(0o2755) would
	// not be setgid (Go keeps those bits elsewhere) and chmod would drop
	// the setgid and sticky bits a unit asks for.
	mode := k.spec.Mode & 0o7777
	if k.spec.Mode == 0 {
		mode = 0o755
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(full, os.FileMode(mode&0o777)); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if fi, err := os.Lstat(full); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", full)
	}
	if k.owned && (uid != 0 || gid != 0) {
		if err := os.Lchown(full, uid, gid); err != nil {
			return err
		}
	}
	// Mkdir's mode is filtered by the umask.
	if err := unix.Chmod(full, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: full, Err: err}
	}
	return nil
}

// dirPath joins a relative directory setting to its base, refusing paths
// that would leave it.
func dirPath(base, rel string) (string, error) {
	if base == "" {
		return "", errors.New("no base directory configured")
	}
	clean := filepath.Clean(rel)
	if filepath.IsAbs(rel) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("directory %q must be relative and stay below %s", rel, base)
	}
	return filepath.Join(base, clean), nil
}

// RemoveRuntimeDirs removes the unit's RuntimeDirectory= paths, unless
// RuntimeDirectoryPreserve=yes. The caller decides about "restart" (keep
// them across a restart, remove them on stop).
func RemoveRuntimeDirs(ec *unit.ExecContext, d Dirs) error {
	if ec == nil || ec.RuntimeDirectoryPreserve == "yes" {
		return nil
	}
	var errs []error
	for _, p := range ec.RuntimeDirectory.Paths {
		full, err := dirPath(d.Runtime, p)
		if err == nil {
			err = os.RemoveAll(full)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("runtime directory %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
