// Package fdholder keeps duplicates of descriptors outside the manager
// (s6-fdholder's idea), so that a crash of tend loses none of them: the
// read ends of the journal's pipes (a service writing while tend is down
// blocks at worst, never gets EPIPE) and the listeners of socket units
// (a client connecting meanwhile is queued, not refused).
//
// The holder is a tiny process (`tend fdholder`) serving a unix
// seqpacket socket. It never reads from what it holds. One message is
// one request; descriptors travel as SCM_RIGHTS:
//
//	'S' name  + 1 fd   store (replacing a descriptor of that name)
//	'D' name           drop
//	'L'                list: one 'F' name + fd per entry, then 'E'
//	'B'                list in batches: 'G' then per entry a 2-byte
//	                   length and the name, with as many fds in the
//	                   same order (at most batchFDs), …, then 'E'
//	'X'                exit
//
// S, D and X are answered with 'K', or '!' and the reason.
package fdholder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/tendproject/tend/internal/memtrim"
	"golang.org/x/sys/unix"
)

// Limits bound the holder whatever a client sends.
const (
	MaxName    = 512  // bytes of a name
	MaxEntries = 8192 // descriptors held at once
	msgMax     = 1 + MaxName
	// batchFDs and batchMax bound one 'G' message: the kernel's limit of
	// descriptors in one SCM_RIGHTS message (SCM_MAX_FD) is 253.
	batchFDs = 250
	batchMax = 1 + batchFDs*(2+MaxName)
)

// Server is the holder's state: descriptors by name.
type Server struct {
	mu   sync.Mutex
	fds  map[string]int
	uid  int
	quit chan struct{}
	once sync.Once
}

// NewServer returns an empty holder that admits clients of uid only.
func NewServer(uid int) *Server {
	return &Server{fds: map[string]int{}, uid: uid, quit: make(chan struct{})}
}

// Serve answers clients on ln until one asks the holder to exit. Then
// every descriptor held is closed.
func (s *Server) Serve(ln *net.UnixListener) error {
	go func() {
		<-s.quit
		ln.Close()
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.quit:
				s.closeAll()
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue // a client that went away before accept
		}
		go s.serveConn(c)
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, fd := range s.fds {
		unix.Close(fd)
		delete(s.fds, n)
	}
}

// serveConn answers one client, after checking it runs as the
// holder's uid: nobody else may take a service's pipe or listener.
func (s *Server) serveConn(c *net.UnixConn) {
	defer c.Close()
	if uid, err := peerUID(c); err != nil || uid != s.uid {
		return
	}
	buf := make([]byte, msgMax)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		fds := parseFDs(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			closeFDs(fds)
			if reply(c, errors.New("message too long")) != nil {
				return
			}
			continue
		}
		var rerr error
		switch op, name := buf[0], string(buf[1:n]); op {
		case 'S':
			if len(fds) != 1 {
				closeFDs(fds)
				rerr = fmt.Errorf("store %q: want one descriptor, got %d", name, len(fds))
				break
			}
			rerr = s.store(name, fds[0])
		case 'D':
			closeFDs(fds)
			s.drop(name)
		case 'L', 'B':
			closeFDs(fds)
			list := s.list
			if op == 'B' {
				list = s.listBatched
			}
			if list(c) != nil {
				return
			}
			continue
		case 'X':
			closeFDs(fds)
			_ = reply(c, nil)
			s.once.Do(func() { close(s.quit) })
			return
		default:
			closeFDs(fds)
			rerr = fmt.Errorf("unknown request %q", op)
		}
		if reply(c, rerr) != nil {
			return
		}
	}
}

func (s *Server) store(name string, fd int) error {
	if name == "" {
		unix.Close(fd)
		return errors.New("store: empty name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.fds[name]; ok {
		unix.Close(old)
	} else if len(s.fds) >= MaxEntries {
		unix.Close(fd)
		return fmt.Errorf("store %q: holding %d descriptors already", name, MaxEntries)
	}
	s.fds[name] = fd
	return nil
}

func (s *Server) drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd, ok := s.fds[name]; ok {
		unix.Close(fd)
		delete(s.fds, name)
	}
}

// list sends every entry, each with a duplicate the send makes; the
// holder keeps its own.
func (s *Server) list(c *net.UnixConn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, fd := range s.fds {
		if _, _, err := c.WriteMsgUnix(append([]byte{'F'}, name...), unix.UnixRights(fd), nil); err != nil {
			return err
		}
	}
	_, err := c.Write([]byte{'E'})
	return err
}

// listBatched sends every entry as list does, up to batchFDs of them in
// one message: a manager taking hundreds of pipes back after a crash
// receives them in a few messages rather than one each.
func (s *Server) listBatched(c *net.UnixConn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := []byte{'G'}
	var fds []int
	flush := func() error {
		if len(fds) == 0 {
			return nil
		}
		_, _, err := c.WriteMsgUnix(msg, unix.UnixRights(fds...), nil)
		msg, fds = msg[:1], fds[:0]
		return err
	}
	for name, fd := range s.fds {
		msg = binary.LittleEndian.AppendUint16(msg, uint16(len(name)))
		msg = append(msg, name...)
		fds = append(fds, fd)
		if len(fds) == batchFDs {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	_, err := c.Write([]byte{'E'})
	return err
}

func reply(c *net.UnixConn, err error) error {
	msg := []byte{'K'}
	if err != nil {
		msg = append([]byte{'!'}, err.Error()...)
	}
	_, werr := c.Write(msg)
	return werr
}

func peerUID(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func parseFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := unix.ParseUnixRights(&m); err == nil {
			for _, fd := range r {
				unix.CloseOnExec(fd)
				fds = append(fds, fd)
			}
		}
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Main runs the holder process on the listener it inherited as ln.
func Main(ln *os.File) error {
	closeInherited(int(ln.Fd()))
	l, err := net.FileListener(ln)
	ln.Close()
	if err != nil {
		return fmt.Errorf("fdholder: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		return errors.New("fdholder: not a unix socket")
	}
	ul.SetUnlinkOnClose(false) // the manager owns the path
	// Hold as many descriptors as the limits allow.
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	// Drop the holder's mappings of the executable's start-up pages:
	// it runs little code, and the manager's own trim (which only pages
	// out what one process maps) can then give back what both touched.
	debug.FreeOSMemory()
	memtrim.Executable(unix.MADV_DONTNEED)
	return NewServer(os.Getuid()).Serve(ul)
}

// closeInherited closes every descriptor above stderr, but keep, that
// came without close-on-exec: the holder outlives tend, and one it kept
// by mistake (an instance lock, a pipe's write end) would outlive tend
// with it — a lock held so would refuse the next tend run. The Go
// runtime's own descriptors are close-on-exec.
func closeInherited(keep int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || fd == keep {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}
