// Package install does what `systemctl enable|disable|reenable|mask|
// unmask|link|preset|is-enabled` do: pure file operations on symlinks in
// a configuration directory, driven by the [Install] sections of unit
// files. Everything happens below Root, so tests (and `--root`) work on
// a scratch tree; symlink targets are written as seen from inside Root.
package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Installer performs unit file operations.
type Installer struct {
	Root    string   // prefix for every path below; "" means "/"
	Config  string   // persistent configuration directory (enable, mask write here)
	Runtime string   // runtime configuration directory (--runtime)
	Dirs    []string // unit search path, highest precedence first; contains Config and Runtime
	// PresetDirs hold *.preset files, highest precedence first.
	PresetDirs []string
	Env        unit.Env // specifier values for [Install] settings
}

// System returns the installer tend uses for the system manager: it
// writes to tend's own directories and searches unit.SystemDirs.
func System(root string) *Installer {
	return &Installer{
		Root: root, Config: unit.TendConfigDir, Runtime: unit.TendRuntimeDir, Dirs: unit.SystemDirs(),
		PresetDirs: []string{"/etc/tend/preset", "/etc/systemd/system-preset", "/run/systemd/system-preset",
			"/usr/local/lib/systemd/system-preset", "/lib/systemd/system-preset", "/usr/lib/systemd/system-preset"},
		Env: unit.SystemEnv(),
	}
}

// Link is one symlink created: Path → Target (both as seen inside Root).
type Link struct{ Path, Target string }

// Changes lists what an operation did, for systemctl-style messages.
type Changes struct {
	Created  []Link
	Removed  []string
	Warnings []string // non-fatal notes, e.g. a unit that has no [Install] section
}

// Messages renders the changes as systemctl prints them.
func (c Changes) Messages() []string {
	var out []string
	for _, l := range c.Created {
		out = append(out, fmt.Sprintf("Created symlink %s → %s.", l.Path, l.Target))
	}
	for _, r := range c.Removed {
		out = append(out, fmt.Sprintf("Removed %q.", r))
	}
	return append(out, c.Warnings...)
}

// NoInstallWarning is the note for units that cannot be enabled.
const NoInstallWarning = "The unit files have no installation config (WantedBy=, RequiredBy=, UpheldBy=, Also=, Alias= settings in the [Install] section, and DefaultInstance= for template units). This means they are not meant to be enabled or disabled."

// ErrNotFound is returned (wrapped) for a unit file that does not exist.
var ErrNotFound = errors.New("unit file does not exist")

// host maps a path inside Root to the real path.
func (i *Installer) host(p string) string {
	if i.Root == "" || i.Root == "/" {
		return p
	}
	return filepath.Join(i.Root, p)
}

// inside maps a real path back to a path inside Root.
func (i *Installer) inside(p string) string {
	if i.Root == "" || i.Root == "/" {
		return p
	}
	rel, err := filepath.Rel(i.Root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return "/" + rel
}

func (i *Installer) loader() *unit.Loader {
	return &unit.Loader{Root: i.Root, Dirs: i.Dirs, Env: i.Env}
}

func (i *Installer) configDir(runtime bool) string {
	if runtime {
		return i.Runtime
	}
	return i.Config
}

// checkDir fails when the directory an operation writes to is not set
// (a user manager without $XDG_RUNTIME_DIR has no runtime directory).
func (i *Installer) checkDir(runtime bool) error {
	if i.configDir(runtime) == "" {
		if runtime {
			return errors.New("no runtime unit directory configured")
		}
		return errors.New("no configuration unit directory configured")
	}
	return nil
}

// User returns the installer of a per-user manager for the user whose
// home is home, with XDG variables read through getenv: it writes to
// the first directory of unit.UserDirs (tend's own) and, for --runtime,
// to tend's directory under $XDG_RUNTIME_DIR.
func User(home string, getenv func(string) string) *Installer {
	dirs := unit.UserDirs(home, getenv)
	in := &Installer{Config: dirs[0], Dirs: dirs, Env: unit.UserEnv(home, getenv)}
	if rt := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(rt) {
		in.Runtime = filepath.Join(rt, "tend/units")
	}
	config := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(config) {
		config = filepath.Join(home, ".config")
	}
	in.PresetDirs = []string{filepath.Join(config, "systemd/user-preset"), "/etc/systemd/user-preset",
		"/usr/local/lib/systemd/user-preset", "/usr/lib/systemd/user-preset"}
	return in
}

// Enable creates the symlinks the [Install] sections of names (and of
// their Also= units) ask for, in the runtime directory if runtime is set.
// An existing symlink pointing elsewhere is an error unless force. A name
// that is an absolute path is linked into the directory first, as
// `systemctl enable /path/to/foo.service` does.
func (i *Installer) Enable(names []string, runtime, force bool) (Changes, error) {
	var ch Changes
	if err := i.checkDir(runtime); err != nil {
		return ch, err
	}
	seen := map[string]bool{}
	for _, n := range names {
		if filepath.IsAbs(n) {
			lc, err := i.LinkFile([]string{n}, runtime, force)
			ch.Created = append(ch.Created, lc.Created...)
			ch.Removed = append(ch.Removed, lc.Removed...)
			if err != nil {
				return ch, err
			}
			n = filepath.Base(n)
		}
		if err := i.enableOne(n, runtime, force, seen, &ch, true); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

func (i *Installer) enableOne(name string, runtime, force bool, seen map[string]bool, ch *Changes, top bool) error {
	if seen[name] {
		return nil
	}
	seen[name] = true
	l := i.loader()
	fi, err := l.Lookup(name)
	if err != nil {
		return fmt.Errorf("cannot enable %s: %w", name, err)
	}
	switch {
	case !fi.Found && !top:
		ch.Warnings = append(ch.Warnings, fmt.Sprintf("Failed to enable auxiliary unit %s, ignoring.", name))
		return nil
	case !fi.Found:
		return fmt.Errorf("cannot enable %s: %w", name, ErrNotFound)
	case fi.Masked:
		if top {
			return fmt.Errorf("cannot enable %s: unit file is masked", name)
		}
		ch.Warnings = append(ch.Warnings, fmt.Sprintf("Unit %s is masked, ignoring.", name))
		return nil
	case fi.Alias:
		return fmt.Errorf("cannot enable %s: refusing to operate on alias name", name)
	}
	if err := i.syntaxError(fi.Fragment); err != nil {
		return fmt.Errorf("cannot enable %s: %w", name, err)
	}
	if unit.IsTemplate(name) {
		u, err := l.Load(name)
		if err != nil {
			return err
		}
		def := u.InstallSection().DefaultInstance
		if def == "" {
			return i.enableTemplate(u, ch)
		}
		name = unit.Instantiate(name, def)
	}
	u, err := l.Load(name)
	if err != nil {
		return err
	}
	if u.Load == unit.LoadError {
		return fmt.Errorf("cannot enable %s: unit file is bad", name)
	}
	if err := installError(u); err != nil {
		return fmt.Errorf("cannot enable %s: %w", name, err)
	}
	in := u.InstallSection()
	if len(in.WantedBy)+len(in.RequiredBy)+len(in.UpheldBy)+len(in.Alias)+len(in.Also) == 0 {
		if top {
			ch.Warnings = append(ch.Warnings, NoInstallWarning)
		}
		return nil
	}
	target := fi.Fragment
	dir := i.configDir(runtime)
	for _, a := range in.Alias {
		if err := i.link(filepath.Join(dir, a), target, force, ch); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		suffix string
		units  []string
	}{{".wants", in.WantedBy}, {".requires", in.RequiredBy}, {".upholds", in.UpheldBy}} {
		for _, t := range d.units {
			if unit.IsTemplate(t) {
				if _, inst, _ := unit.SplitName(name); inst != "" {
					t = unit.Instantiate(t, inst)
				}
			}
			if err := i.link(filepath.Join(dir, t+d.suffix, name), target, force, ch); err != nil {
				return err
			}
		}
	}
	for _, a := range in.Also {
		if err := i.enableOne(a, runtime, force, seen, ch, false); err != nil {
			return err
		}
	}
	return nil
}

// enableTemplate handles a template with no DefaultInstance: it can only
// be enabled into template targets, as systemd refuses the rest.
func (i *Installer) enableTemplate(u *unit.Unit, ch *Changes) error {
	in := u.InstallSection()
	for _, t := range slices.Concat(in.WantedBy, in.RequiredBy, in.UpheldBy) {
		if !unit.IsTemplate(t) {
			return fmt.Errorf("cannot enable %s: destination unit %s is a non-template unit", u.Name, t)
		}
	}
	if len(in.Also)+len(in.WantedBy)+len(in.RequiredBy)+len(in.UpheldBy) == 0 {
		ch.Warnings = append(ch.Warnings, NoInstallWarning)
	}
	return nil
}

// link creates path → target below Root, reporting it in ch; an
// identical existing link is left alone.
func (i *Installer) link(path, target string, force bool, ch *Changes) error {
	hp := i.host(path)
	if old, err := os.Readlink(hp); err == nil {
		if old == target {
			return nil
		}
		if !force {
			return fmt.Errorf("cannot create symlink %s: %w (points to %s)", path, fs.ErrExist, old)
		}
		if err := os.Remove(hp); err != nil {
			return err
		}
		ch.Removed = append(ch.Removed, path)
	} else if _, err := os.Lstat(hp); err == nil {
		return fmt.Errorf("cannot create symlink %s: %w", path, fs.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(hp), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(target, hp); err != nil {
		return err
	}
	ch.Created = append(ch.Created, Link{Path: path, Target: target})
	return nil
}

// Disable removes every symlink in the configuration directory (runtime
// one if runtime) that enables names, their Alias= names, their
// instances (for a template) and, recursively, their Also= units.
// Masks (links to /dev/null) are kept.
func (i *Installer) Disable(names []string, runtime bool) (Changes, error) {
	var ch Changes
	if err := i.checkDir(runtime); err != nil {
		return ch, err
	}
	marked := map[string]bool{}
	for _, n := range names {
		if err := i.mark(n, marked); err != nil {
			return ch, err
		}
	}
	dir := i.host(i.configDir(runtime))
	var doomed []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := os.Readlink(p)
		if err != nil || t == "/dev/null" {
			return nil
		}
		if matches(marked, d.Name()) || matches(marked, filepath.Base(t)) && filepath.Dir(p) == dir {
			doomed = append(doomed, p)
		}
		return nil
	})
	sort.Strings(doomed)
	for _, p := range doomed {
		if err := os.Remove(p); err != nil {
			return ch, err
		}
		ch.Removed = append(ch.Removed, i.inside(p))
		if parent := filepath.Dir(p); parent != dir {
			_ = os.Remove(parent) // only succeeds when empty, as intended
		}
	}
	return ch, nil
}

// matches reports whether name, or the template of an instance name, is
// marked.
func matches(marked map[string]bool, name string) bool {
	return marked[name] || marked[unit.TemplateOf(name)]
}

// mark collects the names Disable removes links for.
func (i *Installer) mark(name string, marked map[string]bool) error {
	if err := unit.ValidName(name); err != nil {
		return err
	}
	if marked[name] {
		return nil
	}
	marked[name] = true
	u, err := i.loader().Load(name)
	if err != nil || u.Load == unit.NotFound || u.Load == unit.Masked {
		return nil
	}
	in := u.InstallSection()
	for _, a := range in.Alias {
		marked[a] = true
	}
	for _, a := range in.Also {
		if err := i.mark(a, marked); err != nil {
			return err
		}
	}
	return nil
}

// Reenable disables and then enables names.
func (i *Installer) Reenable(names []string, runtime, force bool) (Changes, error) {
	ch, err := i.Disable(names, runtime)
	if err != nil {
		return ch, err
	}
	en, err := i.Enable(names, runtime, force)
	ch.Created = append(ch.Created, en.Created...)
	ch.Removed = append(ch.Removed, en.Removed...)
	ch.Warnings = append(ch.Warnings, en.Warnings...)
	return ch, err
}
