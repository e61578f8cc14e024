package svdir

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Control is one command read from a Dir's control FIFO.
type Control struct {
	Dir *Dir
	Cmd Command
}

// Hub reads the control FIFOs of every Dir with one goroutine: the FIFOs
// are in one epoll set, and that epoll descriptor is itself waited on in
// Go's runtime poller. An idle service costs a descriptor in the set (no
// goroutine, no buffer, no thread blocked in epoll_wait), and nothing
// wakes tend until someone writes a command. A goroutine per directory
// blocked on its FIFO would cost a stack per service (two with log/).
//
// Each FIFO is opened O_RDONLY|O_NONBLOCK (an open for reading would
// otherwise wait for a writer) and the Dir also holds a write end, as runsv
// does: without a writer, a FIFO whose last writer left reads end-of-file
// and polls readable forever.
//
// Commands are delivered in the order they were written, per directory.
// A consumer that does not read blocks the hub, and then writers: sv's
// non-blocking write fails once a FIFO's 64 KiB are full, which is the
// backpressure runsv gives too.
type Hub struct {
	ep   *os.File // the epoll descriptor, in the runtime poller
	c    chan Control
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex // guards dirs and the control descriptors in it
	dirs map[int32]*Dir
}

// NewHub starts a hub; Close ends it.
func NewHub() (*Hub, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("control hub: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("control hub: %w", err)
	}
	h := &Hub{
		ep:   os.NewFile(uintptr(fd), "svdir-control-epoll"),
		c:    make(chan Control, 16),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		dirs: map[int32]*Dir{},
	}
	go h.loop()
	return h, nil
}

// Controls delivers the commands of every Dir opened with h. A command
// of a Dir closed meanwhile may still arrive; compare the Dir. The
// channel is closed when the hub ends.
func (h *Hub) Controls() <-chan Control { return h.c }

// Close ends the hub's goroutine and waits for it. Close the Dirs first.
func (h *Hub) Close() error {
	select {
	case <-h.stop:
		return nil
	default:
	}
	close(h.stop)
	err := h.ep.Close() // wakes the loop out of the poller
	<-h.done
	return err
}

func (h *Hub) add(d *Dir) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rc, err := h.ep.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Control(func(ep uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(d.controlR)}
		cerr = unix.EpollCtl(int(ep), unix.EPOLL_CTL_ADD, d.controlR, &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to watch supervise/control: %w", err)
	}
	h.dirs[int32(d.controlR)] = d
	return nil
}

// remove forgets d and closes its control read end under the lock, so
// the loop never reads a descriptor number that was closed and reused.
func (h *Hub) remove(d *Dir) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.controlR < 0 {
		return
	}
	if h.dirs[int32(d.controlR)] == d {
		delete(h.dirs, int32(d.controlR))
		if rc, err := h.ep.SyscallConn(); err == nil {
			_ = rc.Control(func(ep uintptr) {
				_ = unix.EpollCtl(int(ep), unix.EPOLL_CTL_DEL, d.controlR, nil)
			})
		}
	}
	unix.Close(d.controlR)
	d.controlR = -1
}

func (h *Hub) loop() {
	defer close(h.done)
	defer close(h.c)
	rc, err := h.ep.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 32)
	var buf [512]byte
	var cmds []Control
	for {
		var n int
		err := rc.Read(func(ep uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(ep), events, 0)
			return n > 0 || (werr != nil && !errors.Is(werr, unix.EINTR))
		})
		if err != nil {
			return // closed
		}
		cmds = cmds[:0]
		for _, ev := range events[:max(n, 0)] {
			cmds = h.read(ev.Fd, buf[:], cmds)
		}
		for _, c := range cmds {
			select {
			case h.c <- c:
			case <-h.stop:
				return
			}
		}
	}
}

// read takes what one read(2) gives from a FIFO (level-triggered epoll
// brings the loop back for more, so one busy writer cannot hold it) and
// appends its commands to cmds; other bytes are counted as garbage.
func (h *Hub) read(fd int32, buf []byte, cmds []Control) []Control {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.dirs[fd]
	if d == nil {
		return cmds
	}
	n, err := unix.Read(int(fd), buf)
	if err != nil {
		return cmds // EAGAIN; never EOF, as we hold a writer
	}
	for _, b := range buf[:n] {
		if c, ok := ParseCommand(b); ok {
			cmds = append(cmds, Control{Dir: d, Cmd: c})
		} else {
			d.garbage.Add(1)
		}
	}
	return cmds
}
