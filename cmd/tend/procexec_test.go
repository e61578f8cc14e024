package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// execWatch reports, from the kernel's process events connector, when
// the children of one process exec'd: the kernel's own time of
// the exec (taken as the new image is installed, before its first
// instruction), so a timer benchmark measures the job's exec time and
// not what the job does before it reads the clock. It needs
// CAP_NET_ADMIN.
type execWatch struct {
	f        *os.File     // the netlink socket, in Go's poller so that stop's Close ends a read
	parent   int          // the tgid whose children are watched
	children map[int]bool // forked by parent, not yet exec'd
	// wallOff is the wall clock minus the monotonic clock (the events'
	// clock), read once at the start: the benchmark runs for seconds,
	// during which nobody sets the clock.
	wallOff time.Duration
	done    chan struct{}
	times   []time.Time // of the children's execs, in order; read after done
}

// Linux's connector and process events ABI (linux/connector.h,
// linux/cn_proc.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 1
	procEventExec     = 2
	nlmsgHdrLen       = 16
	cnMsgLen          = 20
)

// watchExecs subscribes to the process events and reads them on a
// goroutine until stop: the execs of processes parent forks from now on.
func watchExecs(parent int) (*execWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: uint32(os.Getpid())}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: bind: %w", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: listen: %w", err)
	}
	var wall, mono unix.Timespec
	unix.ClockGettime(unix.CLOCK_REALTIME, &wall)
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	w := &execWatch{f: os.NewFile(uintptr(fd), "proc-connector"), parent: parent, children: map[int]bool{}, done: make(chan struct{}),
		wallOff: time.Duration(wall.Nano() - mono.Nano())}
	go w.read()
	return w, nil
}

func (w *execWatch) read() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	le := binary.LittleEndian
	for {
		n, err := w.f.Read(buf)
		if errors.Is(err, unix.ENOBUFS) {
			continue // events were lost: the count of matches tells
		}
		if err != nil {
			return // closed by stop
		}
		for b := buf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(le.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			ev := b[nlmsgHdrLen+cnMsgLen : l]
			if len(ev) >= 32 && le.Uint32(ev) == procEventFork {
				ptgid, pid, tgid := int(le.Uint32(ev[20:])), int(le.Uint32(ev[24:])), int(le.Uint32(ev[28:]))
				if ptgid == w.parent && pid == tgid {
					w.children[pid] = true
				}
			} else if len(ev) >= 24 && le.Uint32(ev) == procEventExec {
				if tgid := int(le.Uint32(ev[20:])); w.children[tgid] {
					delete(w.children, tgid)
					w.times = append(w.times, time.Unix(0, int64(le.Uint64(ev[8:]))+int64(w.wallOff)))
				}
			}
			b = b[(l+3)&^3:]
		}
	}
}

// stop ends the watch and returns the children's exec times.
func (w *execWatch) stop() []time.Time {
	w.f.Close()
	<-w.done
	return w.times
}
