package supervise

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// fdWatch tells engines when a descriptor they own can be read (a socket
// unit's listener), with one epoll set and one goroutine for all of
// them: an idle listener costs an entry in a map, no goroutine and no
// wake-up. Each watch is one-shot (EPOLLONESHOT): after a readable
// event the descriptor is not watched again until the engine asks,
// typically once its service has stopped and the listener is the
// manager's again. It is level-triggered, so a connection already
// queued when the watch is (re)armed is reported at once.
type fdWatch struct {
	epfd int
	wake int // eventfd: close's way to interrupt epoll_wait

	mu     sync.Mutex // guards byFD and closed
	byFD   map[int32]*rt
	closed bool

	done chan struct{}
}

// watchFD asks for a readable event for u's engine when fd can be read,
// once. The engine owns fd and keeps it open while it is watched.
func (m *Manager) watchFD(u *rt, fd int) error {
	if m.fds == nil {
		w, err := newFDWatch(m)
		if err != nil {
			return err
		}
		m.fds = w
	}
	return m.fds.add(u, fd)
}

// unwatchFD stops watching fd; call it before closing fd.
func (m *Manager) unwatchFD(fd int) {
	if m.fds != nil {
		m.fds.remove(fd)
	}
}

func newFDWatch(m *Manager) (*fdWatch, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	w := &fdWatch{epfd: epfd, wake: wake, byFD: map[int32]*rt{}, done: make(chan struct{})}
	go w.loop(m)
	return w, nil
}

func (w *fdWatch) add(u *rt, fd int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("descriptor watch closed")
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}
	op := unix.EPOLL_CTL_MOD
	if _, ok := w.byFD[int32(fd)]; !ok {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(w.epfd, op, fd, &ev); err != nil {
		return err
	}
	w.byFD[int32(fd)] = u
	return nil
}

func (w *fdWatch) remove(fd int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.byFD[int32(fd)]; ok {
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		delete(w.byFD, int32(fd))
	}
}

// loop posts a readable event for every descriptor that became readable,
// until close.
func (w *fdWatch) loop(m *Manager) {
	defer close(w.done)
	evs := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(w.epfd, evs, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			if ev.Fd == int32(w.wake) {
				return
			}
			w.mu.Lock()
			u := w.byFD[ev.Fd]
			w.mu.Unlock()
			if u != nil {
				m.box.put(evKind{u: u, ev: readable{fd: int(ev.Fd)}})
			}
		}
	}
}

// close ends the loop and waits for it.
func (w *fdWatch) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	var one = [8]byte{1}
	_, _ = unix.Write(w.wake, one[:])
	<-w.done
	unix.Close(w.epfd)
	unix.Close(w.wake)
}
