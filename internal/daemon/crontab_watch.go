package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// crontabWatch tells the daemon when a crontab changed, as cron notices
// a changed mtime, but from inotify events instead of a poll. The
// directories it watches are set after every load (update); run reads
// the events and reloads.
type crontabWatch struct {
	f  *os.File // the inotify descriptor, in Go's poller
	fd int

	mu  sync.Mutex // guards wds
	wds map[int]watchedDir
}

// watchedDir is one watched directory and the names in it that matter
// ("" for all).
type watchedDir struct {
	dir   string
	names map[string]bool
}

const crontabWatchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

func newCrontabWatch() (*crontabWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &crontabWatch{f: os.NewFile(uintptr(fd), "inotify:crontabs"), fd: fd, wds: map[int]watchedDir{}}, nil
}

// update watches exactly the directories of want; one that cannot be
// watched (it does not exist yet) is left out: its parent is watched
// for its creation.
func (w *crontabWatch) update(want map[string]map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := map[int]bool{}
	for dir, names := range want {
		wd, err := unix.InotifyAddWatch(w.fd, dir, crontabWatchMask)
		if err != nil {
			continue
		}
		keep[wd] = true
		w.wds[wd] = watchedDir{dir: dir, names: names}
	}
	for wd := range w.wds {
		if !keep[wd] {
			_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.wds, wd)
		}
	}
}

// run reads events until ctx ends and calls reload after every read that
// brought a relevant one: the events that arrive while a reload runs are
// read together afterwards, so a burst costs one or two reloads. It
// closes the descriptor when it returns.
func (w *crontabWatch) run(ctx context.Context, reload func(why string)) {
	defer w.f.Close()
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				reload("inotify: " + err.Error()) // should not happen; one reload, then no more watching
			}
			return
		}
		if why := w.relevant(buf[:n]); why != "" {
			reload(why)
		}
	}
}

// relevant returns the first changed path among events that concern a
// crontab ("" if none).
func (w *crontabWatch) relevant(b []byte) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	why := ""
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		b = b[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 && why == "" {
			why = "(events lost)"
			continue
		}
		d, ok := w.wds[int(ev.Wd)]
		if !ok {
			continue
		}
		if ev.Mask&unix.IN_IGNORED != 0 {
			delete(w.wds, int(ev.Wd)) // the directory went away
			if why == "" {
				why = d.dir
			}
			continue
		}
		if name == "" || d.names[name] || d.names[""] && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, "~") {
			if why == "" {
				why = d.dir + "/" + name
			}
		}
	}
	return strings.TrimSuffix(why, "/")
}
