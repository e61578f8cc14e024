package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNoOOMEvents: the group's memory controller is not available here,
// so the kernel cannot tell about its OOM kills.
var ErrNoOOMEvents = errors.New("no memory controller for OOM events")

// OOMWatch wakes when the kernel's OOM killer acts in a group: on v2 an
// inotify watch of memory.events (the kernel marks it modified on each
// event), on v1 an eventfd registered for memory.oom_control.
type OOMWatch struct {
	// EveryWakeIsOOM is true on v1, where the eventfd fires only for an
	// OOM in the group (and the kill count may lag behind the wake).
	EveryWakeIsOOM bool
	f              *os.File // inotify or eventfd, non-blocking: Close ends a Wait
	ctrl           *os.File // v1: the memory.oom_control the eventfd is bound to
}

// WatchOOM starts watching the group for OOM events.
func (g *Group) WatchOOM() (*OOMWatch, error) {
	if g.usesV2("memory") {
		return watchEventsFile(filepath.Join(g.dir, "memory.events"))
	}
	d, ok := g.statDirs["memory"]
	if !ok {
		return nil, ErrNoOOMEvents
	}
	ctrl, err := os.Open(filepath.Join(d, "memory.oom_control"))
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		ctrl.Close()
		return nil, err
	}
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctrl.Fd()))
	if err := os.WriteFile(filepath.Join(d, "cgroup.event_control"), []byte(reg), 0); err != nil {
		unix.Close(efd)
		ctrl.Close()
		return nil, fmt.Errorf("register OOM eventfd: %w", err)
	}
	return &OOMWatch{EveryWakeIsOOM: true, f: os.NewFile(uintptr(efd), "oom-eventfd"), ctrl: ctrl}, nil
}

func watchEventsFile(path string) (*OOMWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	return &OOMWatch{f: os.NewFile(uintptr(fd), "oom-inotify")}, nil
}

// Wait blocks until the next event; after Close it returns an error. On
// v2 an event may be another memory event (high, max): the caller
// compares OOMKills with what it saw before.
func (w *OOMWatch) Wait() error {
	var buf [4096]byte
	_, err := w.f.Read(buf[:])
	return err
}

// Close ends the watch and any Wait in progress.
func (w *OOMWatch) Close() error {
	err := w.f.Close()
	if w.ctrl != nil {
		w.ctrl.Close()
	}
	return err
}
