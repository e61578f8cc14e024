package install

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Unit file states as `systemctl is-enabled` prints them.
const (
	StateEnabled        = "enabled"
	StateEnabledRuntime = "enabled-runtime"
	StateLinked         = "linked"
	StateLinkedRuntime  = "linked-runtime"
	StateAlias          = "alias"
	StateMasked         = "masked"
	StateMaskedRuntime  = "masked-runtime"
	StateStatic         = "static"
	StateIndirect       = "indirect"
	StateDisabled       = "disabled"
	StateGenerated      = "generated"
	StateTransient      = "transient"
	StateBad            = "bad"
	StateNotFound       = "not-found"
)

// FileState is one row of list-unit-files.
type FileState struct {
	Name   string
	Path   string // search-path entry, inside Root
	State  string
	Preset string // "enabled" or "disabled"; "" for aliases, static units, …
}

// isRuntimeDir reports whether dir (inside Root) holds runtime
// configuration, which does not survive a reboot: the Runtime directory
// (when distinct from Config) and anything under /run or the user's
// runtime directory.
func (i *Installer) isRuntimeDir(dir string) bool {
	if dir == i.Config {
		return false
	}
	return dir == i.Runtime || strings.HasPrefix(dir, "/run/")
}

// configDirs are the directories whose symlinks count as enablement:
// Config, Runtime, and the search path's directories under /etc, /run
// and the user's configuration, except transient, control and generator
// ones. Links in vendor directories (/usr, /lib) make a unit static, not
// enabled, as in systemd.
func (i *Installer) configDirs() []string {
	out := []string{i.Config}
	if i.Runtime != "" && i.Runtime != i.Config {
		out = append(out, i.Runtime)
	}
	for _, d := range i.Dirs {
		admin := strings.HasPrefix(d, "/etc/") || strings.HasPrefix(d, "/run/") || strings.Contains(d, "/.config/")
		special := strings.Contains(d, "transient") || strings.HasSuffix(d, ".control") || strings.Contains(d, "generator")
		if admin && !special && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// IsEnabled returns name's unit file state. A unit that does not exist
// yields StateNotFound and an error wrapping ErrNotFound.
func (i *Installer) IsEnabled(name string) (string, error) {
	return i.isEnabled(i.loader().Freeze(), name)
}

// isEnabled is IsEnabled with a (frozen) loader shared by a batch.
func (i *Installer) isEnabled(l *unit.Loader, name string) (string, error) {
	fi, err := l.Lookup(name)
	if err != nil && fi.Name == "" {
		return StateBad, err
	}
	dirOf := func() string { return fi.Dir }
	switch {
	case !fi.Found:
		return StateNotFound, fmt.Errorf("%s: %w", name, ErrNotFound)
	case err != nil:
		return StateBad, err
	case fi.Masked:
		if i.isRuntimeDir(dirOf()) {
			return StateMaskedRuntime, nil
		}
		return StateMasked, nil
	case fi.Alias:
		return StateAlias, nil
	case strings.Contains(dirOf(), "generator"):
		return StateGenerated, nil
	case strings.Contains(dirOf(), "transient"):
		return StateTransient, nil
	}
	if err := i.syntaxError(fi.Fragment); err != nil {
		return StateBad, fmt.Errorf("%s: %w", name, err)
	}
	if st := i.symlinkState(l, name, fi); st != "" {
		return st, nil
	}
	if fi.Linked {
		if i.isRuntimeDir(dirOf()) {
			return StateLinkedRuntime, nil
		}
		return StateLinked, nil
	}
	return i.installState(l, name)
}

// symlinkState looks for enablement symlinks of name in the config dirs:
// in a ".wants"-style directory, or as an alias at top level.
func (i *Installer) symlinkState(l *unit.Loader, name string, fi unit.FileInfo) string {
	template := unit.IsTemplate(name)
	target := fi.Fragment
	state := ""
	for _, d := range i.configDirs() {
		hd := i.host(d)
		_ = filepath.WalkDir(hd, func(p string, de fs.DirEntry, err error) error {
			if err != nil || state == StateEnabled {
				return fs.SkipAll
			}
			if de.IsDir() && p != hd && filepath.Dir(p) != hd {
				return fs.SkipDir
			}
			if de.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			t, err := os.Readlink(p)
			if err != nil || t == "/dev/null" {
				return nil
			}
			base := de.Name()
			top := filepath.Dir(p) == hd
			var hit bool
			switch {
			case top && base == name:
				hit = false // the unit's own entry (a linked file), not enablement
			case top:
				hit = t == target && (base != filepath.Base(t)) // an alias symlink
			case template:
				hit = unit.TemplateOf(base) == name && (t == target || filepath.Base(t) == name)
			default:
				hit = base == name && (t == target || filepath.Base(t) == name || filepath.Base(t) == unit.TemplateOf(name))
			}
			if hit {
				if i.isRuntimeDir(d) {
					if state == "" {
						state = StateEnabledRuntime
					}
				} else {
					state = StateEnabled
				}
			}
			return nil
		})
		if state == StateEnabled {
			break
		}
	}
	if state != "" && template {
		return i.templateState(l, name)
	}
	return state
}

// templateState refines the state of a template some instances of which
// are enabled: unless its DefaultInstance is among them, it is "indirect".
func (i *Installer) templateState(l *unit.Loader, name string) string {
	u, err := l.Load(name)
	if err != nil || u.InstallSection().DefaultInstance == "" {
		return StateIndirect
	}
	inst := unit.Instantiate(name, u.InstallSection().DefaultInstance)
	fi, err := l.Lookup(inst)
	if err != nil {
		return StateIndirect
	}
	if s := i.symlinkState(l, inst, fi); s != "" {
		return s
	}
	return StateIndirect
}

// installState is the state of a unit with no enablement links: from
// its [Install] section, disabled, indirect or static.
func (i *Installer) installState(l *unit.Loader, name string) (string, error) {
	u, err := l.Load(name)
	if err != nil {
		return StateBad, err
	}
	if u.Load == unit.LoadError {
		return StateBad, nil
	}
	in := u.InstallSection()
	switch {
	case hasInstallInfo(u):
		return StateDisabled, nil
	case unit.IsTemplate(name) && in.DefaultInstance != "":
		return StateDisabled, nil
	case len(in.Also) > 0:
		return StateIndirect, nil
	}
	return StateStatic, nil
}

// ListUnitFiles returns every unit file in the search path with its
// state and preset, sorted by name.
func (i *Installer) ListUnitFiles() ([]FileState, error) {
	l := i.loader().Freeze()
	presets, err := i.loadPresets()
	if err != nil {
		return nil, err
	}
	var out []FileState
	for _, n := range l.UnitFiles() {
		fi, _ := l.Lookup(n)
		st, err := i.isEnabled(l, n)
		if err != nil && st == StateNotFound {
			continue
		}
		fs := FileState{Name: n, Path: fi.Entry, State: st}
		switch st {
		case StateEnabled, StateEnabledRuntime, StateDisabled, StateIndirect, StateMasked, StateMaskedRuntime, StateBad:
			if p := presets.state(n); p != "ignored" {
				fs.Preset = p
			}
		}
		out = append(out, fs)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}
