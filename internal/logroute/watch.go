package logroute

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// renameGrace is how long a file renamed away (by logrotate) is given to
// be replaced by its rotator before tend creates it itself. logrotate
// creates the new file right after the rename; creating it first would
// make logrotate's own create fail.
const renameGrace = time.Second

// watch reports, through inotify on the files' directories, a file that
// was removed, renamed away or replaced, so that the Router reopens it
// without waiting for a SIGHUP.
type watch struct {
	f       *os.File // the inotify descriptor, in Go's poller
	dirs    map[int32]string
	byPath  map[string]*file
	changed func(*file)

	// mu guards timers and stopped; wg joins the timers' callbacks.
	mu      sync.Mutex
	timers  map[*file]*time.Timer
	stopped bool
	wg      sync.WaitGroup
}

const watchMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_ONLYDIR

func newWatch(files []*file, changed func(*file)) (*watch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w := &watch{f: os.NewFile(uintptr(fd), "inotify:logfiles"), dirs: map[int32]string{},
		byPath: map[string]*file{}, changed: changed, timers: map[*file]*time.Timer{}}
	for _, f := range files {
		w.byPath[f.path] = f
		dir := filepath.Dir(f.path)
		// A directory that does not exist is reported by the file's
		// open; the watch goes without it.
		if wd, err := unix.InotifyAddWatch(fd, dir, watchMask); err == nil {
			w.dirs[int32(wd)] = dir
		}
	}
	return w, nil
}

// start reads events until ctx ends; the returned stop joins the reader
// and the timers and closes the descriptor.
func (w *watch) start(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	go func() {
		defer close(done)
		buf := make([]byte, 16<<10)
		for {
			n, err := w.f.Read(buf)
			if err != nil {
				return
			}
			w.handle(buf[:n])
		}
	}()
	return func() {
		_ = w.f.SetReadDeadline(time.Now())
		<-done
		cancel()
		w.mu.Lock()
		w.stopped = true
		for f, t := range w.timers {
			if t.Stop() {
				w.wg.Done()
			}
			delete(w.timers, f)
		}
		w.mu.Unlock()
		w.wg.Wait()
		w.f.Close()
	}
}

// handle dispatches one read's events.
func (w *watch) handle(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return
		}
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		b = b[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			for _, f := range w.byPath {
				w.changed(f) // events lost: look at every file
			}
			continue
		}
		dir, ok := w.dirs[ev.Wd]
		if !ok {
			continue
		}
		f := w.byPath[filepath.Join(dir, name)]
		if f == nil {
			continue
		}
		if ev.Mask&unix.IN_MOVED_FROM != 0 {
			w.later(f)
		} else {
			w.changed(f)
		}
	}
}

// later looks at f once renameGrace has passed.
func (w *watch) later(f *file) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if t := w.timers[f]; t != nil && t.Stop() {
		w.wg.Done()
	}
	w.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(renameGrace, func() {
		defer w.wg.Done()
		w.mu.Lock()
		if w.timers[f] == t {
			delete(w.timers, f)
		}
		stopped := w.stopped
		w.mu.Unlock()
		if !stopped {
			w.changed(f)
		}
	})
	w.timers[f] = t
}
