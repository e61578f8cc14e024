// Package clockwatch tells its owner when the wall clock is set and when
// the local time zone changes, without polling: a realtime timerfd armed
// for the far future with TFD_TIMER_CANCEL_ON_SET, whose read fails with
// ECANCELED when the clock is set (by date, NTP stepping, a resume that
// corrects it), and inotify on the directory of /etc/localtime, which
// tools replace by rename.
package clockwatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Watcher runs the two watches until Close.
type Watcher struct {
	tfd, ino *os.File
	wg       sync.WaitGroup
}

// Watch starts watching. onClock runs after every setting of the wall
// clock, onZone after every change of the file localtime (normally
// /etc/localtime; "" watches no zone); both run on the watcher's
// goroutines and must not block.
func Watch(localtime string, onClock, onZone func()) (*Watcher, error) {
	w := &Watcher{}
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	w.tfd = os.NewFile(uintptr(fd), "clock-change") // non-blocking: Go's poller waits on it
	if err := w.arm(); err != nil {
		w.tfd.Close()
		return nil, err
	}
	if localtime != "" {
		ifd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			w.tfd.Close()
			return nil, fmt.Errorf("inotify: %w", err)
		}
		const mask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_ATTRIB
		if _, err := unix.InotifyAddWatch(ifd, filepath.Dir(localtime), mask); err != nil {
			unix.Close(ifd)
			w.tfd.Close()
			return nil, fmt.Errorf("inotify %s: %w", filepath.Dir(localtime), err)
		}
		w.ino = os.NewFile(uintptr(ifd), "timezone-change")
		w.wg.Add(1)
		go w.zones(filepath.Base(localtime), onZone)
	}
	w.wg.Add(1)
	go w.clock(onClock)
	return w, nil
}

// arm sets the timerfd for a time that never comes, so that only a
// setting of the clock ends its wait.
func (w *Watcher) arm() error {
	far := unix.NsecToTimespec(time.Now().AddDate(100, 0, 0).UnixNano())
	spec := unix.ItimerSpec{Value: far}
	fd := int(w.tfd.Fd())
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET, &spec, nil); err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	return nil
}

func (w *Watcher) clock(onClock func()) {
	defer w.wg.Done()
	var buf [8]byte
	for {
		_, err := w.tfd.Read(buf[:])
		switch {
		case errors.Is(err, unix.ECANCELED):
			// Re-arm first: a second setting during onClock must not be lost.
			if w.arm() != nil {
				return
			}
			onClock()
		case err != nil:
			return // closed
		}
	}
}

func (w *Watcher) zones(name string, onZone func()) {
	defer w.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := w.ino.Read(buf)
		if err != nil {
			return
		}
		hit := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafePointer(buf[off:]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if cString(nameBytes) == name {
				hit = true
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
		if hit {
			onZone()
		}
	}
}

// Close ends the watches and waits for their goroutines.
func (w *Watcher) Close() {
	w.tfd.Close()
	if w.ino != nil {
		w.ino.Close()
	}
	w.wg.Wait()
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
