package inetd

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// attr is one attribute's values and where it was last set.
type attr struct {
	vals []string
	line int
}

// block is a "defaults" or "service NAME" section of xinetd.conf.
type block struct {
	name  string // "" for defaults
	file  string
	line  int
	attrs map[string]*attr
	adds  map[string][]string // "+=" values, applied on top of defaults
	dels  map[string][]string // "-=" values
}

// maxIncludeDepth bounds include/includedir nesting (a loop of includes
// would otherwise never end).
const maxIncludeDepth = 8

// ParseXinetd reads an xinetd.conf(5) file with its include and
// includedir directives. Each enabled service becomes a Service; a bad
// line or service is a file:line error and the others still load.
func ParseXinetd(path string, env Env) ([]*Service, []unit.Diag) {
	r := &xreader{defaults: &block{attrs: map[string]*attr{}, adds: map[string][]string{}, dels: map[string][]string{}}}
	r.readFile(path, 0)
	var out []*Service
	seen := map[string]string{} // unit name → file:line
	for _, b := range r.services {
		s, skip, err := r.service(b, env)
		if err != nil {
			r.ds.add(b.file, b.line, unit.Error, "service %s: %v, ignoring", b.name, err)
			continue
		}
		if skip {
			continue
		}
		if prev, dup := seen[s.Name]; dup {
			r.ds.add(b.file, b.line, unit.Error, "service %s: id %s already defined at %s, ignoring", b.name, strings.TrimPrefix(s.Name, "xinetd-"), prev)
			continue
		}
		seen[s.Name] = fmt.Sprintf("%s:%d", b.file, b.line)
		for _, n := range s.Notes {
			r.ds.add(b.file, b.line, unit.Warning, "service %s: %s", b.name, n)
		}
		out = append(out, s)
	}
	return out, r.ds
}

type xreader struct {
	defaults *block
	services []*block
	ds       diags
}

// readFile parses one file into blocks.
func (r *xreader) readFile(path string, depth int) {
	if depth > maxIncludeDepth {
		r.ds.add(path, 0, unit.Error, "includes nested deeper than %d, ignoring", maxIncludeDepth)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		r.ds.add(path, 0, unit.Error, "cannot read: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var cur *block
	open := false // inside { }
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		w := strings.Fields(line)
		switch {
		case len(w) == 0:
		case !open && w[0] == "{" && len(w) == 1 && cur != nil:
			open = true
		case open && w[0] == "}" && len(w) == 1:
			open, cur = false, nil
		case open:
			r.attribute(cur, path, n, w)
		case w[0] == "includedir" && len(w) == 2:
			r.includeDir(w[1], depth)
		case w[0] == "include" && len(w) == 2:
			r.readFile(w[1], depth+1)
		case w[0] == "defaults" && (len(w) == 1 || len(w) == 2 && w[1] == "{"):
			cur, open = r.defaults, len(w) == 2
		case w[0] == "service" && (len(w) == 2 || len(w) == 3 && w[2] == "{"):
			cur = &block{name: w[1], file: path, line: n, attrs: map[string]*attr{}, adds: map[string][]string{}, dels: map[string][]string{}}
			r.services = append(r.services, cur)
			open = len(w) == 3
		default:
			r.ds.add(path, n, unit.Error, "unexpected %q outside a service or defaults block, ignoring", strings.Join(w, " "))
		}
	}
	if open {
		r.ds.add(path, 0, unit.Error, "missing '}' at the end of the file")
	}
	if err := sc.Err(); err != nil {
		r.ds.add(path, 0, unit.Error, "cannot read: %v", err)
	}
}

// includeDir reads every file of dir in name order, skipping names with
// a dot or ending in '~' (packaging leftovers), as xinetd does.
func (r *xreader) includeDir(dir string, depth int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		r.ds.add(dir, 0, unit.Error, "cannot read directory: %v", err)
		return
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.Contains(n, ".") || strings.HasSuffix(n, "~") || e.Type()&fs.ModeType != 0 && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.readFile(filepath.Join(dir, n), depth+1)
	}
}

// attribute applies "name = v…", "name += v…" or "name -= v…".
func (r *xreader) attribute(b *block, file string, n int, w []string) {
	if len(w) < 2 {
		r.ds.add(file, n, unit.Error, "attribute %q has no operator, ignoring", w[0])
		return
	}
	name, op, vals := w[0], w[1], w[2:]
	if strings.HasSuffix(name, "=") || strings.Contains(name, "=") {
		// "name=value" without spaces
		k, v, _ := strings.Cut(strings.Join(w, " "), "=")
		name, op = strings.TrimSpace(k), "="
		vals = strings.Fields(v)
		if strings.HasSuffix(name, "+") || strings.HasSuffix(name, "-") {
			op, name = name[len(name)-1:]+"=", strings.TrimSpace(name[:len(name)-1])
		}
	}
	switch op {
	case "=":
		b.attrs[name] = &attr{vals: vals, line: n}
	case "+=":
		b.adds[name] = append(b.adds[name], vals...)
		if b.attrs[name] != nil {
			b.attrs[name].vals = append(b.attrs[name].vals, vals...)
			delete(b.adds, name)
		}
	case "-=":
		b.dels[name] = append(b.dels[name], vals...)
	default:
		r.ds.add(file, n, unit.Error, "attribute %s: unknown operator %q, ignoring", name, op)
	}
}

// get returns an attribute of b with defaults applied: b's own "=" wins;
// else the default value with b's "+=" added; "-=" removes values.
func (r *xreader) get(b *block, name string) ([]string, bool) {
	var vals []string
	set := false
	if a := b.attrs[name]; a != nil {
		vals, set = slices.Clone(a.vals), true
	} else {
		if a := r.defaults.attrs[name]; a != nil {
			vals, set = slices.Clone(a.vals), true
		}
		vals = append(vals, r.defaults.adds[name]...)
		if add, ok := b.adds[name]; ok {
			vals, set = append(vals, add...), true
		}
	}
	for _, d := range append(slices.Clone(r.defaults.dels[name]), b.dels[name]...) {
		vals = slices.DeleteFunc(vals, func(v string) bool { return v == d })
	}
	return vals, set || len(vals) > 0
}

// one returns a single-valued attribute.
func (r *xreader) one(b *block, name string) (string, bool, error) {
	v, ok := r.get(b, name)
	if !ok {
		return "", false, nil
	}
	if len(v) != 1 {
		return "", true, fmt.Errorf("%s takes one value, got %d", name, len(v))
	}
	return v[0], true, nil
}
