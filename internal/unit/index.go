package unit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fileEntry is the highest-precedence directory entry for one unit name.
type fileEntry struct {
	dir  string
	path string // dir/name
	link string // symlink target made absolute; "" for a regular file
	// regular is set when the directory entry says a regular file: its
	// content alone tells whether it masks the unit (empty) or defines it.
	regular bool
}

// index maps unit names to their entries in the search path. All paths
// are as seen inside root; file system access goes through host.
type index struct {
	root  string
	dirs  []string
	files map[string]fileEntry
	// depOwners are the names of non-template units that have a
	// ".wants", ".requires" or ".upholds" directory somewhere in the
	// search path, whether or not a file defines them: a target tend
	// provides built in gets its enabled units from there.
	depOwners map[string]bool
	// subdirs are the "<name>.d", ".wants", ".requires" and ".upholds"
	// directories of the search path (by path), as scan found them: the
	// loader looks only into those rather than trying each possible one
	// for every unit (three to four failed opens per unit and directory,
	// the larger part of loading a thousand units).
	subdirs map[string]bool
	// subdirNames are the base names of subdirs: most units have no such
	// directory, and one lookup of the name says so without joining a
	// path for every directory of the search path.
	subdirNames map[string]bool
	// aliases maps a canonical name to the symlinked names that resolve
	// to it; built on first use.
	aliases map[string][]string
}

// scan lists every unit-named entry of every dir; the first dir wins.
func scan(root string, dirs []string) (*index, []Diag) {
	ix := &index{root: root, dirs: dirs, files: map[string]fileEntry{}, depOwners: map[string]bool{}, subdirs: map[string]bool{}, subdirNames: map[string]bool{}}
	var diags []Diag
	for _, d := range dirs {
		ents, err := os.ReadDir(ix.host(d))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				diags = append(diags, Diag{File: d, Severity: Warning, Msg: "cannot read directory: " + err.Error()})
			}
			continue
		}
		for _, de := range ents {
			name := de.Name()
			if _, seen := ix.files[name]; seen || ValidName(name) != nil {
				continue
			}
			fe := fileEntry{dir: d, path: filepath.Join(d, name)}
			if de.Type()&fs.ModeSymlink != 0 {
				t, err := os.Readlink(ix.host(fe.path))
				if err != nil {
					continue
				}
				if !filepath.IsAbs(t) {
					t = filepath.Join(d, t)
				}
				fe.link = filepath.Clean(t)
			} else if de.IsDir() {
				continue
			} else {
				fe.regular = de.Type().IsRegular()
			}
			ix.files[name] = fe
		}
		for _, de := range ents {
			path := filepath.Join(d, de.Name())
			if !hasSubdirSuffix(de.Name()) || !isDirEntry(ix.host(path), de) {
				continue
			}
			ix.subdirs[path] = true
			ix.subdirNames[de.Name()] = true
			if owner := depDirOwner(de.Name()); owner != "" && !IsTemplate(owner) {
				ix.depOwners[owner] = true
			}
		}
	}
	return ix, diags
}

// depDirSuffixes are the directories whose entries become dependencies
// of the unit they are named after.
var depDirSuffixes = [...]string{".wants", ".requires", ".upholds"}

// depDirOwner returns the unit name a dependency directory entry is named
// after ("multi-user.target" for "multi-user.target.wants"), or "".
func depDirOwner(entry string) string {
	for _, s := range depDirSuffixes {
		if owner, ok := strings.CutSuffix(entry, s); ok && ValidName(owner) == nil {
			return owner
		}
	}
	return ""
}

// hasSubdirSuffix reports whether entry may be a directory the loader
// reads: drop-ins or dependencies of a unit.
func hasSubdirSuffix(entry string) bool {
	if strings.HasSuffix(entry, ".d") {
		return true
	}
	for _, s := range depDirSuffixes {
		if strings.HasSuffix(entry, s) {
			return true
		}
	}
	return false
}

// isDirEntry reports whether de is a directory or a symlink to one.
func isDirEntry(path string, de fs.DirEntry) bool {
	if de.IsDir() {
		return true
	}
	if de.Type()&fs.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// names returns every indexed unit name, sorted.
func (ix *index) names() []string {
	out := make([]string, 0, len(ix.files))
	for n := range ix.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// resolution is where a unit name leads.
type resolution struct {
	name     string // canonical name
	fragment string // file to read; "" when masked or not found
	masked   bool
	found    bool
	// unchecked is set by resolveUnchecked for a regular file it did not
	// stat: an empty one masks the unit, and it may have gone since the scan.
	unchecked bool
}

// resolve follows aliases, links and templates from name, see
// resolveUnchecked, and stats the file it leads to.
func (ix *index) resolve(name string) (resolution, error) {
	r, err := ix.resolveUnchecked(name)
	if err != nil || !r.unchecked {
		return r, err
	}
	return ix.checkFragment(r.name, r.fragment)
}

// resolveUnchecked follows aliases, links and templates from name. An alias is a
// symlink whose target has a different unit name that the search path
// also knows; a symlink to a same-named file elsewhere is a linked unit
// file; a symlink to /dev/null or an empty file masks the unit.
// A regular file the scan saw is not stat'ed (it comes back unchecked):
// the loader learns the same from opening and reading it, one system
// call per unit fewer at boot.
func (ix *index) resolveUnchecked(name string) (resolution, error) {
	for depth := 0; depth < 16; depth++ {
		fe, ok := ix.files[name]
		if !ok {
			tmpl := TemplateOf(name)
			if tmpl == "" {
				return resolution{name: name}, nil
			}
			r, err := ix.resolveUnchecked(tmpl)
			if err != nil || !r.found {
				return resolution{name: name}, err
			}
			_, inst, _ := SplitName(name)
			r.name = Instantiate(r.name, inst)
			return r, nil
		}
		if fe.link == "/dev/null" {
			return resolution{name: name, masked: true, found: true}, nil
		}
		if fe.link != "" {
			base := filepath.Base(fe.link)
			if base != name && ValidName(base) == nil {
				if _, known := ix.files[base]; known || ix.inSearchPath(fe.link) {
					name = base
					continue
				}
			}
		}
		// The scan saw the entry's type: only a symlink has a target
		// to chase (a readlink per unit file otherwise, at every boot).
		path := fe.path
		if fe.link != "" {
			var err error
			if path, err = ix.chase(fe.path); err != nil {
				return resolution{name: name, found: true}, err
			}
		}
		if path == "/dev/null" {
			return resolution{name: name, masked: true, found: true}, nil
		}
		if fe.regular {
			return resolution{name: name, fragment: path, found: true, unchecked: true}, nil
		}
		return ix.checkFragment(name, path)
	}
	return resolution{name: name}, fmt.Errorf("too many levels of aliases resolving %s", name)
}

// checkFragment stats the file the unit called name is read from.
func (ix *index) checkFragment(name, path string) (resolution, error) {
	st, err := os.Stat(ix.host(path))
	if errors.Is(err, fs.ErrNotExist) {
		return resolution{name: name}, nil // a dangling link hides nothing and loads nothing
	}
	if err != nil {
		return resolution{name: name, found: true}, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return resolution{name: name, found: true}, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() == 0 {
		return resolution{name: name, masked: true, found: true}, nil
	}
	return resolution{name: name, fragment: path, found: true}, nil
}

// host maps a path inside root to the real one.
func (ix *index) host(p string) string {
	if ix.root == "" || ix.root == "/" {
		return p
	}
	return filepath.Join(ix.root, p)
}

// chase follows symlinks from p inside root and returns the final path.
func (ix *index) chase(p string) (string, error) {
	for range 32 {
		t, err := os.Readlink(ix.host(p))
		if err != nil {
			return p, nil // not a symlink (or gone: Stat reports it)
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = filepath.Clean(t)
		if p == "/dev/null" {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

func (ix *index) inSearchPath(p string) bool {
	for _, d := range ix.dirs {
		if filepath.Dir(p) == filepath.Clean(d) {
			return true
		}
	}
	return false
}

// aliasesOf returns the indexed names other than canonical that resolve
// to it.
func (ix *index) aliasesOf(canonical string) []string {
	if ix.aliases == nil {
		ix.aliases = map[string][]string{}
		for _, n := range ix.names() {
			if ix.files[n].link == "" {
				continue
			}
			if r, err := ix.resolve(n); err == nil && r.name != n && !r.masked {
				ix.aliases[r.name] = append(ix.aliases[r.name], n)
			}
		}
	}
	return ix.aliases[canonical]
}

// dropinNames are the names whose ".d" directories apply to a unit, in
// the order systemd searches them: the unit and its aliases, their
// templates, the prefix names ("foo-.service" for "foo-bar.service") and
// the type ("service").
func dropinNames(name string, aliases []string) []string {
	names := append([]string{name}, aliases...)
	for _, n := range append([]string{name}, aliases...) {
		if t := TemplateOf(n); t != "" {
			names = append(names, t)
		}
	}
	prefix, _, kind := SplitName(name)
	for i := len(prefix) - 1; i > 0; i-- {
		if prefix[i] == '-' && i > 0 {
			names = append(names, prefix[:i+1]+"."+string(kind))
		}
	}
	return append(names, string(kind))
}

// dropins lists the "*.conf" files of every "<name>.d" directory in the
// search path: by file name, a file in a higher-precedence directory
// masks a same-named one in a lower one, and one linked to /dev/null
// masks it without adding anything. Result is ordered by file name.
func (ix *index) dropins(names []string) []string {
	names = ix.withSubdir(names, ".d")
	if len(names) == 0 {
		return nil
	}
	chosen := map[string]string{}
	for _, d := range ix.dirs {
		for _, n := range names {
			if !ix.subdirs[filepath.Join(d, n+".d")] {
				continue
			}
			ents, err := os.ReadDir(ix.host(filepath.Join(d, n+".d")))
			if err != nil {
				continue
			}
			for _, de := range ents {
				b := de.Name()
				if !strings.HasSuffix(b, ".conf") || de.IsDir() {
					continue
				}
				if _, ok := chosen[b]; !ok {
					chosen[b] = filepath.Join(d, n+".d", b)
				}
			}
		}
	}
	keys := make([]string, 0, len(chosen))
	for b, p := range chosen {
		if t, err := ix.chase(p); err == nil && t == "/dev/null" {
			continue
		}
		keys = append(keys, b)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, b := range keys {
		out[i] = chosen[b]
	}
	return out
}

// depDirs lists the unit names in "<name>.wants", ".requires" and
// ".upholds" directories for the given names. A template entry in the
// directory of an instance is instantiated with the same instance.
func (ix *index) depDirs(names []string, suffix, instance string) []string {
	names = ix.withSubdir(names, suffix)
	if len(names) == 0 {
		return nil
	}
	var out []string
	var seen map[string]bool
	for _, d := range ix.dirs {
		for _, n := range names {
			if !ix.subdirs[filepath.Join(d, n+suffix)] {
				continue
			}
			ents, err := os.ReadDir(ix.host(filepath.Join(d, n+suffix)))
			if err != nil {
				continue
			}
			for _, de := range ents {
				dep := de.Name()
				if ValidName(dep) != nil {
					continue
				}
				if IsTemplate(dep) {
					if instance == "" {
						continue
					}
					dep = Instantiate(dep, instance)
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				if !seen[dep] {
					seen[dep] = true
					out = append(out, dep)
				}
			}
		}
	}
	return out
}

// withSubdir returns the names that have a "<name><suffix>" directory in
// some directory of the search path, in their order.
func (ix *index) withSubdir(names []string, suffix string) []string {
	var out []string
	var buf [128]byte // the key is built here: n+suffix would be garbage per lookup, several per instance loaded
	for _, n := range names {
		key := append(append(buf[:0], n...), suffix...)
		if ix.subdirNames[string(key)] {
			out = append(out, n)
		}
	}
	return out
}
