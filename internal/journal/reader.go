package journal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// Reader reads a journal directory without writing to it: for `tend logs
// --directory` and when no daemon runs. Units are loaded when a query first
// needs them, so `-u X` on a large journal reads only X's indexes; every
// query and Follow wake-up picks up what a live writer added meanwhile.
type Reader struct {
	dir string

	mu     sync.Mutex // guards cat, damage and seen
	cat    catalog
	damage []Damage
	seen   map[Damage]bool
}

// OpenReadOnly opens the journal in dir for reading.
func OpenReadOnly(dir string) (*Reader, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("journal: %s is not a directory", dir)
	}
	return &Reader{dir: dir, cat: catalog{}, seen: map[Damage]bool{}}, nil
}

// Close releases the reader. It holds no open files between calls.
func (r *Reader) Close() error { return nil }

// Damage returns the damaged regions seen so far in the units queried.
// The unfinished tail of a segment a live writer is appending to is not
// reported.
func (r *Reader) Damage() []Damage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.damage
}

func (r *Reader) views(m *matcher) map[string][]segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked(m.store)
	out := map[string][]segment{}
	for name, segs := range r.cat {
		if !m.store(name) {
			continue
		}
		for _, s := range segs {
			if m.segment(s) {
				out[name] = append(out[name], s.view(m.lo))
			}
		}
	}
	return out
}

// Query is Journal.Query over the reader's catalog.
func (r *Reader) Query(ctx context.Context, q Query, fn func(Entry) error) error {
	_, err := runQuery(ctx, r, q, noLimit, fn)
	return err
}

// DiskUsage returns the bytes the journal's segments and indexes use.
func (r *Reader) DiskUsage() (int64, error) {
	var n int64
	err := filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".seg" || ext == ".idx") {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}

// lastSeq is the highest sequence number the reader knows of the units
// m selects.
func (r *Reader) lastSeq(m *matcher) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var hi uint64
	for name, segs := range r.cat {
		if !m.store(name) {
			continue
		}
		for _, s := range segs {
			hi = max(hi, s.lastSeq())
		}
	}
	return hi
}

// refreshLocked brings the catalog of the units match selects up to date:
// new segments are loaded, growing ones decoded from where the last
// refresh stopped, removed ones dropped. An incomplete record at the end
// of a growing segment is left for the next refresh rather than reported.
func (r *Reader) refreshLocked(match func(string) bool) {
	dirs, err := os.ReadDir(r.dir)
	if err != nil {
		return // removed: what was loaded stays readable
	}
	for _, de := range dirs {
		unit, ok := unescapeUnit(de.Name())
		if !de.IsDir() || !ok || !match(unit) {
			continue
		}
		known := map[string]*segment{}
		for _, s := range r.cat[unit] {
			known[s.path] = s
		}
		var segs []*segment
		paths, _ := filepath.Glob(filepath.Join(r.dir, de.Name(), "*.seg"))
		sort.Strings(paths)
		for _, p := range paths {
			s := known[p]
			if s == nil || s.hdrSize == 0 && !s.sealed {
				// New, or its header was still being written last time.
				ns, dmg, err := loadSegment(p, unit)
				if err != nil {
					continue // removed meanwhile
				}
				for _, d := range dmg {
					// A live writer's unfinished header or record is not
					// damage; and a segment read again is reported once.
					unfinished := d.Reason == "torn tail" || ns.hdrSize == 0
					if !(unfinished && r.writerActive()) && !r.seen[d] {
						r.seen[d] = true
						r.damage = append(r.damage, d)
					}
				}
				s = ns
			} else if !s.sealed {
				s = extend(s)
			}
			segs = append(segs, s)
		}
		r.cat[unit] = segs
	}
}

func (r *Reader) damaged(d Damage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen[d] {
		r.seen[d] = true
		r.damage = append(r.damage, d)
	}
}

// writerActive reports whether a writer holds the directory's lock.
func (r *Reader) writerActive() bool {
	f, err := os.Open(filepath.Join(r.dir, ".lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	return errors.Is(err, unix.EWOULDBLOCK)
}

// extend returns s with the records appended since it was last read.
func extend(s *segment) *segment {
	f, err := os.Open(s.path)
	if err != nil {
		return s
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= s.size {
		return s
	}
	buf := make([]byte, st.Size()-s.size)
	n, _ := f.ReadAt(buf, s.size)
	ns := *s
	ns.blocks = append([]block(nil), s.blocks...)
	decodeRange(buf[:n], s.size, func(r *rec) bool {
		if r.off != ns.size && r.off+int64(r.size) != ns.size {
			return false // a gap: wait for the writer to finish it
		}
		ns.note(r)
		return true
	}, nil)
	return &ns
}

// Follow is Journal.Follow for a directory another process writes: it
// refreshes the catalog whenever inotify reports a change.
func (r *Reader) Follow(ctx context.Context, q Query, fn func(Entry) error) error {
	w, err := newDirWatch(r.dir)
	if err != nil {
		return err
	}
	defer w.close()
	// The query refreshes after the watch exists: what was written before
	// it is seen now, what comes after wakes us.
	m, err := compile(q, noLimit)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.refreshLocked(m.store)
	r.mu.Unlock()
	q.Reverse = false
	hi := r.lastSeq(m)
	if _, err := runQuery(ctx, r, q, hi, fn); err != nil {
		return ignoreCanceled(ctx, err)
	}
	next := Query{Units: q.Units, Since: q.Since, Until: q.Until, Grep: q.Grep,
		CaseSensitive: q.CaseSensitive, Priorities: q.Priorities, Boot: q.Boot, Matches: q.Matches}
	for {
		if err := w.wait(ctx); err != nil {
			return ignoreCanceled(ctx, err)
		}
		r.mu.Lock()
		r.refreshLocked(m.store)
		r.mu.Unlock()
		newHi := r.lastSeq(m)
		if newHi <= hi {
			continue
		}
		next.AfterCursor = FormatCursor(Entry{Seq: hi})
		if _, err := runQuery(ctx, r, next, newHi, fn); err != nil {
			return ignoreCanceled(ctx, err)
		}
		hi = newHi
	}
}

// dirWatch is an inotify instance watching a journal directory and its
// unit directories.
type dirWatch struct {
	root  string
	f     *os.File
	fd    int
	known map[string]bool
}

const unitDirEvents = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE

func newDirWatch(root string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("journal: inotify: %w", err)
	}
	w := &dirWatch{root: root, fd: fd, f: os.NewFile(uintptr(fd), "inotify"), known: map[string]bool{}}
	if _, err := unix.InotifyAddWatch(fd, root, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		w.close()
		return nil, fmt.Errorf("journal: watch %s: %w", root, err)
	}
	w.addUnitDirs()
	return w, nil
}

func (w *dirWatch) addUnitDirs() {
	dirs, _ := os.ReadDir(w.root)
	for _, d := range dirs {
		p := filepath.Join(w.root, d.Name())
		if d.IsDir() && !w.known[p] {
			if _, err := unix.InotifyAddWatch(w.fd, p, unitDirEvents); err == nil {
				w.known[p] = true
			}
		}
	}
}

// wait blocks until something changed under root or ctx ends. A helper
// goroutine closes the inotify file at ctx's end, unblocking the read;
// it is joined before wait returns.
func (w *dirWatch) wait(ctx context.Context) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			w.f.SetReadDeadline(aLongTimeAgo)
		case <-stop:
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	var buf [8192]byte
	_, err := w.f.Read(buf[:])
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("journal: inotify: %w", err)
	}
	w.addUnitDirs() // a new unit directory may have appeared
	return nil
}

func (w *dirWatch) close() { w.f.Close() }
