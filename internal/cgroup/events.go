package cgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// eventWatcher turns inotify IN_MODIFY events on v2 cgroup.events files
// into callbacks. Its one goroutine blocks in the runtime poller, so an
// idle tend is not woken; close ends it and waits for it.
type eventWatcher struct {
	log  *slog.Logger
	file *os.File
	done chan struct{}

	mu sync.Mutex
	// guards wds and paths
	wds   map[int32]func()
	paths map[string]int32
}

func newEventWatcher(log *slog.Logger) (*eventWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	w := &eventWatcher{
		log:   log,
		file:  os.NewFile(uintptr(fd), "inotify"),
		done:  make(chan struct{}),
		wds:   map[int32]func(){},
		paths: map[string]int32{},
	}
	go w.loop()
	return w, nil
}

func (w *eventWatcher) add(path string, fn func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rc, err := w.file.SyscallConn()
	if err != nil {
		return err
	}
	var wd int
	var werr error
	if err := rc.Control(func(fd uintptr) {
		wd, werr = unix.InotifyAddWatch(int(fd), path, unix.IN_MODIFY)
	}); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("watch %s: %w", path, werr)
	}
	w.wds[int32(wd)] = fn
	w.paths[path] = int32(wd)
	return nil
}

func (w *eventWatcher) remove(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, ok := w.paths[path]
	if !ok {
		return
	}
	delete(w.paths, path)
	delete(w.wds, wd)
	if rc, err := w.file.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.InotifyRmWatch(int(fd), uint32(wd)) })
	}
}

func (w *eventWatcher) loop() {
	defer close(w.done)
	// 64 events with the longest name an inotify event carries (the
	// watches are on files, whose events carry none).
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.Warn("inotify read failed; cgroup emptiness events stop", "err", err)
			}
			return
		}
		for _, fn := range w.callbacks(buf[:n]) {
			fn()
		}
	}
}

// callbacks decodes a batch of events into the callbacks to run, each
// once.
func (w *eventWatcher) callbacks(b []byte) []func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[int32]bool{}
	var fns []func()
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		size := unix.SizeofInotifyEvent + int(ev.Len)
		if size > len(b) {
			break
		}
		b = b[size:]
		if fn, ok := w.wds[ev.Wd]; ok && !seen[ev.Wd] {
			seen[ev.Wd] = true
			fns = append(fns, fn)
		}
		if ev.Mask&unix.IN_IGNORED != 0 { // the group's directory is gone
			delete(w.wds, ev.Wd)
			for p, wd := range w.paths {
				if wd == ev.Wd {
					delete(w.paths, p)
				}
			}
		}
	}
	return fns
}

func (w *eventWatcher) close() error {
	err := w.file.Close()
	<-w.done
	return err
}
