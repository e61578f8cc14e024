package unit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
)

// Loader loads units from a search path.
type Loader struct {
	// Root, when set, is where the file system starts: Dirs, symlink
	// targets and reported paths are all inside it (like systemctl
	// --root). "" means "/".
	Root string
	Dirs []string // search path, highest precedence first
	Env  Env      // specifier values

	frozen *index    // set by Freeze: the search path as scanned once
	memo   *sync.Map // set by Memoize: file path → *parsedFile
}

// parsedFile is what readInto keeps of a file a Memoize'd loader read.
type parsedFile struct {
	entries []Entry
	diags   []Diag
	used    budget // what the file drew from its unit's budget
}

// Memoize returns a copy of l that reads and parses each file once and
// answers later loads from that parse. The daemon loads Accept=yes
// instances through it between reloads: one per connection would
// otherwise re-read the same template, and systemd too keeps what it
// loaded until daemon-reload. Safe for concurrent use.
func (l *Loader) Memoize() *Loader {
	c := *l
	c.memo = &sync.Map{}
	return &c
}

// Freeze returns a copy of l that scans the search path once, now, and
// answers every later Load, Lookup and UnitFiles from that scan. Use it
// for a batch of read-only queries; changes to the directories made
// afterwards are not seen (drop-in and unit file contents still are).
// Like an unfrozen Loader, the result is safe for concurrent use.
func (l *Loader) Freeze() *Loader {
	c := *l
	c.frozen, _ = scan(l.Root, l.Dirs)
	c.frozen.aliasesOf("") // build the lazy alias map now: later use is read-only
	return &c
}

// LoadAllFrozen is LoadAll and Freeze from one scan of the search path:
// the set, and a loader that answers later loads from the scan the set
// was read from. A boot reads the directories once instead of twice,
// and the frozen loader cannot disagree with the set about which files
// there are.
func (l *Loader) LoadAllFrozen() (*Loader, *Set, []Diag) {
	ix, diags := scan(l.Root, l.Dirs)
	ix.aliasesOf("") // build the lazy alias map now: later use is read-only
	c := *l
	c.frozen = ix
	set, more := c.LoadAll()
	return &c, set, append(diags, more...)
}

// index returns the frozen scan or a fresh one.
func (l *Loader) index() (*index, []Diag) {
	if l.frozen != nil {
		return l.frozen, nil
	}
	return scan(l.Root, l.Dirs)
}

// Set is every unit a LoadAll found, by canonical name.
type Set struct {
	Units   map[string]*Unit
	aliases map[string]string // alias name → canonical name
}

// Get returns the unit called name, following aliases, or nil.
func (s *Set) Get(name string) *Unit {
	if u, ok := s.Units[name]; ok {
		return u
	}
	if c, ok := s.aliases[name]; ok {
		return s.Units[c]
	}
	return nil
}

// Aliases returns a copy of the alias → canonical name map.
func (s *Set) Aliases() map[string]string {
	out := make(map[string]string, len(s.aliases))
	for a, c := range s.aliases {
		out[a] = c
	}
	return out
}

// Names returns the canonical names of the set, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.Units))
	for n := range s.Units {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Load loads the unit called name (an instance is built from its
// template; a template itself loads with an empty instance). It fails
// only for an invalid name; a unit that is missing, masked or broken
// comes back with its LoadState and Diags saying so.
func (l *Loader) Load(name string) (*Unit, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	ix, _ := l.index()
	return l.load(ix, name), nil
}

// LoadAll loads every unit in the search path, every unit named by a
// ".wants", ".requires" or ".upholds" directory, plus the units their
// dependencies name (instances of templates are built; names with no
// file come back as not-found units). Templates themselves are not part
// of the set. One broken unit never stops the others; all problems are
// returned as diags, also kept on each unit.
func (l *Loader) LoadAll() (*Set, []Diag) {
	ix, diags := l.index()
	set := &Set{Units: map[string]*Unit{}, aliases: map[string]string{}}
	var queue []string
	for _, n := range ix.names() {
		if !IsTemplate(n) {
			queue = append(queue, n)
		}
	}
	// A unit with only a dependency directory (a built-in target that
	// units were enabled into) is loaded too, as not-found with those
	// dependencies, so a plan can add them to its built-in ones.
	owners := make([]string, 0, len(ix.depOwners))
	for n := range ix.depOwners {
		owners = append(owners, n)
	}
	pre := l.loadAhead(ix, queue)
	sort.Strings(owners)
	queue = append(queue, owners...)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if set.Get(n) != nil {
			continue
		}
		u, ok := pre[n]
		if ok {
			delete(pre, n) // a unit value belongs to one set entry
		} else {
			u = l.load(ix, n)
		}
		if u.Name != n {
			set.aliases[n] = u.Name
			if set.Units[u.Name] != nil {
				continue
			}
		}
		set.Units[u.Name] = u
		for _, a := range u.Aliases {
			set.aliases[a] = u.Name
		}
		diags = append(diags, u.Diags...)
		queue = append(queue, u.referenced()...)
	}
	return set, diags
}

// loadAheadMin is the number of files below which LoadAll reads them on
// its own goroutine: fewer are read faster than workers start.
const loadAheadMin = 64

// loadAhead loads the named units (the files of the search path) on one
// goroutine per CPU and returns them by name; LoadAll then takes them in
// its own order, so the result is the same as loading one after the
// other. At boot every unit is read before the first service starts:
// the files are independent, and reading them in parallel halves that
// wait on two cores. It returns when every name is loaded.
func (l *Loader) loadAhead(ix *index, names []string) map[string]*Unit {
	workers := min(runtime.GOMAXPROCS(0), len(names)/loadAheadMin)
	if workers < 2 {
		return nil
	}
	ix.aliasesOf("") // build the lazy alias map now: the workers only read it
	units := make([]*Unit, len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				units[i] = l.load(ix, names[i])
			}
		})
	}
	wg.Wait()
	out := make(map[string]*Unit, len(names))
	for i, n := range names {
		out[n] = units[i]
	}
	return out
}

// referenced lists the unit names u's dependencies mention.
func (u *Unit) referenced() []string {
	d := u.Dependencies()
	var out []string
	for _, l := range [][]string{d.Requires, d.Requisite, d.Wants, d.BindsTo, d.PartOf, d.Upholds,
		d.Conflicts, d.After, d.Before, d.OnFailure, d.OnSuccess, d.PropagatesReloadTo, d.ReloadPropagatedFrom} {
		out = append(out, l...)
	}
	if u.Service != nil {
		out = append(out, u.Service.Sockets...)
	}
	return out
}

// load builds one unit from the index.
func (l *Loader) load(ix *index, name string) *Unit {
	r, err := ix.resolveUnchecked(name)
	u := newUnit(r.name)
	if err != nil {
		u.Load = LoadError
		u.Diags = append(u.Diags, Diag{File: name, Severity: Error, Msg: err.Error()})
		return u
	}
	u.Aliases = ix.aliasesOf(r.name)
	if name != r.name && !slices.Contains(u.Aliases, name) {
		u.Aliases = append(u.Aliases, name)
	}
	switch {
	case r.masked:
		u.Load = Masked
		return u
	case !r.found:
		u.Load = NotFound
		l.addDepDirs(ix, u)
		return u
	}
	var entries []Entry
	b := newBudget()
	u.Path = r.fragment
	used, over, err := l.readInto(ix, u, r.fragment, b, &entries)
	switch {
	case r.unchecked && errors.Is(err, fs.ErrNotExist):
		// Gone since the scan: as a dangling link, it loads nothing.
		u.Path = ""
		u.Load = NotFound
		l.addDepDirs(ix, u)
		return u
	case err != nil:
		u.Diags = append(u.Diags, readDiag(r.fragment, err))
		u.Load = LoadError
		return u
	case r.unchecked && used == 0:
		u.Path = ""
		u.Load = Masked // an empty file masks the unit, drop-ins and all
		return u
	case over:
		u.Load = LoadError
		return u
	}
	u.DropIns = ix.dropins(dropinNames(u.Name, u.Aliases))
	for _, p := range u.DropIns {
		_, over, err := l.readInto(ix, u, p, b, &entries)
		if err != nil {
			u.Diags = append(u.Diags, readDiag(p, err))
		}
		if over {
			u.Load = LoadError
			return u
		}
	}
	u.Entries = entries
	convert(u, entries, &l.Env)
	l.addDepDirs(ix, u)
	return u
}

func readDiag(path string, err error) Diag {
	return Diag{File: path, Severity: Error, Msg: fmt.Sprintf("cannot read: %v", err)}
}

// readInto parses one file within b and appends its entries; it returns
// how many bytes the file had, whether it broke a limit (then the unit
// must not load: systemd too refuses a unit with an overlong line) and
// why it could not be opened.
func (l *Loader) readInto(ix *index, u *Unit, path string, b *budget, entries *[]Entry) (used int64, over bool, err error) {
	if l.memo != nil {
		if v, ok := l.memo.Load(path); ok {
			p := v.(*parsedFile)
			if p.used.assignments <= b.assignments && p.used.bytes <= b.bytes {
				b.assignments -= p.used.assignments
				b.bytes -= p.used.bytes
				u.Diags = append(u.Diags, p.diags...)
				if len(*entries) == 0 {
					// The parse's own entries, shared by every unit loaded
					// from the file (an instance per connection): entries
					// are never changed, and with no room left in the slice
					// a drop-in's are appended to a copy.
					*entries = p.entries[:len(p.entries):len(p.entries)]
				} else {
					*entries = append(*entries, p.entries...)
				}
				return p.used.bytes, false, nil
			}
		}
	}
	f, err := openRaw(ix.host(path))
	if err != nil {
		return 0, false, err
	}
	defer f.close()
	before := *b
	file, diags := parse(path, f, b)
	if l.memo != nil && !file.OverLimit {
		used := budget{assignments: before.assignments - b.assignments, bytes: before.bytes - b.bytes}
		l.memo.Store(path, &parsedFile{entries: file.Entries, diags: diags, used: used})
	}
	u.Diags = append(u.Diags, diags...)
	if file.OverLimit {
		return before.bytes - b.bytes, true, nil
	}
	*entries = append(*entries, file.Entries...)
	return before.bytes - b.bytes, false, nil
}

// rawFile reads a unit file through its descriptor alone. An *os.File
// costs four fcntl calls, an epoll_ctl that fails and a finalizer per
// file, which was a third of loading a thousand small units at boot.
type rawFile int

func openRaw(path string) (rawFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return rawFile(fd), nil
	}
}

func (f rawFile) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(f), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f rawFile) close() { _ = syscall.Close(int(f)) }

// addDepDirs adds the dependencies of ".wants", ".requires" and
// ".upholds" directories.
func (l *Loader) addDepDirs(ix *index, u *Unit) {
	names := append([]string{u.Name}, u.Aliases...)
	if u.Template != "" {
		names = append(names, u.Template)
	}
	for _, d := range []struct {
		suffix string
		list   func(*Deps) *[]string
	}{
		{".wants", depFields["Wants"]}, {".requires", depFields["Requires"]}, {".upholds", depFields["Upholds"]},
	} {
		for _, dep := range ix.depDirs(names, d.suffix, u.Instance) {
			if l := d.list(u.EnsureDeps()); !slices.Contains(*l, dep) {
				*l = append(*l, dep)
			}
		}
	}
}
