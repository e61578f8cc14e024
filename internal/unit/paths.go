package unit

import "path/filepath"

// Tend's own unit directories. They come first in the search path so an
// administrator can override a unit for tend without touching what
// systemd (if also installed) reads; tend's enable and mask write there.
const (
	TendConfigDir  = "/etc/tend/units"
	TendRuntimeDir = "/run/tend/units"
)

// SystemDirs returns the system unit search path, highest precedence
// first: tend's own directories, then systemd's in the order of
// systemd.unit(5) "Unit File Load Path" (generator directories are
// omitted: tend runs no generators).
func SystemDirs() []string {
	return []string{
		TendConfigDir,
		TendRuntimeDir,
		"/etc/systemd/system.control",
		"/run/systemd/system.control",
		"/run/systemd/transient",
		"/etc/systemd/system",
		"/etc/systemd/system.attached",
		"/run/systemd/system",
		"/run/systemd/system.attached",
		"/usr/local/lib/systemd/system",
		"/lib/systemd/system",
		"/usr/lib/systemd/system",
	}
}

// UserDirs returns the per-user search path for a user whose home is
// home, with the XDG variables read through getenv (which may return ""):
// tend's own directories (config, then $XDG_RUNTIME_DIR/tend/units), then
// systemd's user search path.
func UserDirs(home string, getenv func(string) string) []string {
	xdg := func(key, def string) string {
		if v := getenv(key); filepath.IsAbs(v) {
			return v
		}
		return def
	}
	config := xdg("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	data := xdg("XDG_DATA_HOME", filepath.Join(home, ".local/share"))
	dirs := []string{filepath.Join(config, "tend/units")}
	runtime := getenv("XDG_RUNTIME_DIR")
	if filepath.IsAbs(runtime) {
		dirs = append(dirs, filepath.Join(runtime, "tend/units"))
	}
	dirs = append(dirs, filepath.Join(config, "systemd/user.control"))
	if filepath.IsAbs(runtime) {
		dirs = append(dirs, filepath.Join(runtime, "systemd/user.control"), filepath.Join(runtime, "systemd/transient"))
	}
	dirs = append(dirs, filepath.Join(config, "systemd/user"), "/etc/systemd/user")
	if filepath.IsAbs(runtime) {
		dirs = append(dirs, filepath.Join(runtime, "systemd/user"))
	}
	dirs = append(dirs, filepath.Join(data, "systemd/user"))
	for _, d := range filepath.SplitList(xdg("XDG_DATA_DIRS", "/usr/local/share:/usr/share")) {
		if filepath.IsAbs(d) {
			dirs = append(dirs, filepath.Join(d, "systemd/user"))
		}
	}
	return append(dirs, "/usr/local/lib/systemd/user", "/usr/lib/systemd/user")
}
