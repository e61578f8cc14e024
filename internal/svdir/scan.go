package svdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Entry is one name in a scan directory.
type Entry struct {
	Name string // the name in the scan directory
	Path string // scan directory + name (symlinks not resolved)
	// Dev and Ino identify the directory the name leads to (through
	// symlinks): runsvdir's identity of a service, so a renamed directory
	// is the same service and a symlink pointed elsewhere is another.
	Dev, Ino uint64
	// Err is set when the name leads to no directory (a dangling symlink,
	// a plain file); runsvdir warns and skips such names.
	Err error
}

// Scan lists a scan directory as runsvdir does: names starting with '.'
// are ignored, symlinks are followed, and every other name is an Entry
// (with Err set when it is not a directory). Sorted by name.
func Scan(dir string) ([]Entry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("scan directory %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("scan directory %s: %w", dir, err)
	}
	sort.Strings(names)
	entries := make([]Entry, 0, len(names))
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e, ok := scanEntry(dir, name); ok {
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// scanEntry looks up one name readdir returned; false when the name is
// gone by then. A scan races with whoever edits the directory: a service
// removed between readdir and stat is absent, not a broken entry (which
// a watcher would report as re-pointed, then removed again).
func scanEntry(dir, name string) (Entry, bool) {
	e := Entry{Name: name, Path: filepath.Join(dir, name)}
	var st unix.Stat_t
	switch err := unix.Stat(e.Path, &st); {
	case errors.Is(err, unix.ENOENT) && errors.Is(unix.Lstat(e.Path, &st), unix.ENOENT):
		return Entry{}, false
	case err != nil:
		e.Err = fmt.Errorf("scan directory %s: %s: %w", dir, name, err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		e.Err = fmt.Errorf("scan directory %s: %s is not a directory", dir, name)
	default:
		e.Dev, e.Ino = st.Dev, st.Ino
	}
	return e, true
}

// EventKind says what happened to a scan directory entry.
type EventKind uint8

// Event kinds.
const (
	Added   EventKind = iota // a new name, or a name that now leads elsewhere
	Removed                  // a name gone, or leading elsewhere now (then Added follows)
)

func (k EventKind) String() string {
	if k == Added {
		return "added"
	}
	return "removed"
}

// Event is a change in a scan directory.
type Event struct {
	Kind  EventKind
	Entry Entry // for Removed, the entry as it was when added
}

// Watcher follows a scan directory with inotify: an entry created,
// removed, renamed or re-pointed is reported at once (runsvdir looks every
// five seconds). Each batch of inotify events triggers one Scan, compared
// with the last, so a lost or merged event (queue overflow) costs nothing.
// Its one goroutine waits in the runtime poller; idle, it is never woken.
//
// A symlink whose target appears later, elsewhere, is not seen until the
// scan directory changes again: inotify on the scan directory cannot see
// it, and watching every target would cost a watch per service.
type Watcher struct {
	dir     string
	initial []Entry // the first scan (Initial); the loop only reads it
	ino     *os.File
	c       chan Event
	stop    chan struct{}
	done    chan struct{}

	mu  sync.Mutex // guards err
	err error
}

// Watch starts watching dir. The entries already there come first, as
// Added events. Close ends it.
func Watch(dir string) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("scan directory %s: inotify: %w", dir, err)
	}
	const mask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("scan directory %s: %w", dir, err)
	}
	first, err := Scan(dir) // after the watch: nothing falls between
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	w := &Watcher{dir: dir, initial: first, ino: os.NewFile(uintptr(fd), "inotify "+dir),
		c: make(chan Event), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(first)
	return w, nil
}

// Initial returns the entries of the first scan, those the first Added
// events report: a caller that must know them before it reads the events
// needs no scan of its own (a stat per service). The slice is shared;
// do not change it.
func (w *Watcher) Initial() []Entry { return w.initial }

// Events delivers the changes; it is closed when the watcher ends (Close,
// or the scan directory itself removed or moved: see Err).
func (w *Watcher) Events() <-chan Event { return w.c }

// Err says why the watcher ended on its own, or nil.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the watcher and waits for its goroutine.
func (w *Watcher) Close() error {
	select {
	case <-w.stop:
		return nil
	default:
	}
	close(w.stop)
	err := w.ino.Close()
	<-w.done
	return err
}

func (w *Watcher) loop(first []Entry) {
	defer close(w.done)
	defer close(w.c)
	known := map[string]Entry{}
	if !w.apply(known, first) {
		return
	}
	buf := make([]byte, 8192)
	for {
		n, err := w.ino.Read(buf)
		if err != nil {
			return // closed
		}
		if selfGone(buf[:n]) {
			w.fail(known, w.gone())
			return
		}
		entries, err := w.rescan()
		if err != nil {
			w.fail(known, err)
			return
		}
		if !w.apply(known, entries) {
			return
		}
	}
}

// rescan scans the directory after an event. When the scan directory
// itself is removed (or moved) while it is read, the scan fails with
// ENOENT before the watcher reads the IN_DELETE_SELF still queued: that
// is the same end, and is reported the same way.
func (w *Watcher) rescan() ([]Entry, error) {
	entries, err := Scan(w.dir)
	if errors.Is(err, unix.ENOENT) {
		return nil, w.gone()
	}
	return entries, err
}

func (w *Watcher) gone() error {
	return fmt.Errorf("scan directory %s: the scan directory was removed or moved", w.dir)
}

// selfGone reports whether a batch of inotify events says the scan
// directory itself went away.
func selfGone(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		if ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			return true
		}
		b = b[unix.SizeofInotifyEvent+int(ev.Len):]
	}
	return false
}

// fail reports every known entry removed and ends the watcher with err
// (which names the scan directory).
func (w *Watcher) fail(known map[string]Entry, err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	w.apply(known, nil)
}

// apply sends the difference between known and entries and updates
// known; false when the watcher was closed meanwhile.
func (w *Watcher) apply(known map[string]Entry, entries []Entry) bool {
	seen := make(map[string]bool, len(entries))
	var evs []Event
	for _, e := range entries {
		seen[e.Name] = true
		old, ok := known[e.Name]
		if ok && old.Dev == e.Dev && old.Ino == e.Ino && (old.Err == nil) == (e.Err == nil) {
			continue
		}
		if ok {
			evs = append(evs, Event{Kind: Removed, Entry: old})
		}
		evs = append(evs, Event{Kind: Added, Entry: e})
		known[e.Name] = e
	}
	var gone []string
	for name := range known {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		evs = append(evs, Event{Kind: Removed, Entry: known[name]})
		delete(known, name)
	}
	for _, ev := range evs {
		select {
		case w.c <- ev:
		case <-w.stop:
			return false
		}
	}
	return true
}
