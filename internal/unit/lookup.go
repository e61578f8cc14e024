package unit

import (
	"path/filepath"
)

// FileInfo says where a unit name leads in the search path; it is what
// enable, disable and is-enabled need to know about a name.
type FileInfo struct {
	Name     string // canonical name, after aliases (instance kept)
	Entry    string // the search-path entry found for Name or its template ("" if none)
	Dir      string // the directory of Entry
	Fragment string // the file that would be read; "" when masked or not found
	Found    bool
	Masked   bool
	Alias    bool // the asked name is an alias of Name
	Linked   bool // Entry is a symlink to a same-named file outside the search path
}

// Lookup resolves name through the search path without reading any unit.
func (l *Loader) Lookup(name string) (FileInfo, error) {
	if err := ValidName(name); err != nil {
		return FileInfo{}, err
	}
	ix, _ := l.index()
	r, err := ix.resolve(name)
	fi := FileInfo{Name: r.name, Fragment: r.fragment, Found: r.found, Masked: r.masked, Alias: r.name != name}
	for _, n := range []string{name, TemplateOf(name)} {
		if fe, ok := ix.files[n]; ok && n != "" {
			fi.Entry, fi.Dir = fe.path, fe.dir
			base := filepath.Base(fe.link)
			fi.Linked = fe.link != "" && fe.link != "/dev/null" && base == filepath.Base(fe.path) && !ix.inSearchPath(fe.link)
			break
		}
	}
	return fi, err
}

// UnitFiles lists every unit name (files, symlinks, templates) in the
// search path, sorted.
func (l *Loader) UnitFiles() []string {
	ix, _ := l.index()
	return ix.names()
}
