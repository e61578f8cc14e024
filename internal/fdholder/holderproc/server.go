package holderproc

import (
	"errors"
	"syscall"
)

// Limits bound the holder whatever a client sends.
const (
	MaxName    = 512  // bytes of a name
	MaxEntries = 8192 // descriptors held at once
	MsgMax     = 1 + MaxName
)

// sendTimeout bounds how long one client that stops reading (a stopped
// tend) can hold up the others: the holder serves all from one thread.
const sendTimeout = 5 // seconds

// Server is the holder's state: descriptors by name. One goroutine
// serves every client (Serve), so the state needs no lock.
type Server struct {
	uid int
	fds map[string]int
	buf [MsgMax]byte
	oob []byte
	out []byte
}

// New returns an empty holder that admits clients of uid only.
func New(uid int) *Server {
	return &Server{uid: uid, fds: map[string]int{}, oob: make([]byte, syscall.CmsgSpace(4*4))}
}

// Serve answers clients on the listening socket ln, which must be
// non-blocking, until one asks the holder to exit, or quit (the read end
// of a pipe, or -1 for none) hangs up. Then every descriptor held and
// every connection is closed; ln and quit stay open.
func (s *Server) Serve(ln, quit int) error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	if err := watch(ep, ln); err != nil {
		return err
	}
	if quit >= 0 {
		if err := watch(ep, quit); err != nil {
			return err
		}
	}
	conns := map[int]bool{}
	defer func() {
		for c := range conns {
			syscall.Close(c)
		}
	}()
	var evs [16]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(ep, evs[:], -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range evs[:n] {
			fd := int(ev.Fd)
			if fd == quit {
				s.closeAll()
				return nil
			}
			if fd == ln {
				c, err := s.accept(ln)
				if err != nil {
					return err
				}
				if c >= 0 && watch(ep, c) == nil {
					conns[c] = true
				} else if c >= 0 {
					syscall.Close(c)
				}
				continue
			}
			switch s.serveOne(fd) {
			case hangUp:
				delete(conns, fd)
				syscall.Close(fd) // leaves the epoll set with it
			case exit:
				s.closeAll()
				return nil
			}
		}
	}
}

func watch(ep, fd int) error {
	return syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
}

// accept takes one client, after checking it runs as the holder's uid:
// nobody else may take a service's pipe or listener. It returns -1 when
// there is none to serve, and an error only when ln cannot serve at all.
func (s *Server) accept(ln int) (int, error) {
	c, _, err := syscall.Accept4(ln, syscall.SOCK_CLOEXEC)
	switch err {
	case nil:
	case syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED, syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		// None waiting, one that went away, or a shortage that passes:
		// a client is never worth losing everything held.
		return -1, nil
	default:
		return -1, err
	}
	cred, err := syscall.GetsockoptUcred(c, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil || int(cred.Uid) != s.uid {
		syscall.Close(c)
		return -1, nil
	}
	tv := syscall.Timeval{Sec: sendTimeout}
	_ = syscall.SetsockoptTimeval(c, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	return c, nil
}

type outcome int

const (
	keep outcome = iota
	hangUp
	exit
)

// serveOne answers the one request waiting on connection c.
func (s *Server) serveOne(c int) outcome {
	n, oobn, flags, _, err := syscall.Recvmsg(c, s.buf[:], s.oob, syscall.MSG_CMSG_CLOEXEC|syscall.MSG_DONTWAIT)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return keep
	}
	if err != nil || n == 0 {
		return hangUp
	}
	fds := ParseFDs(s.oob[:oobn])
	if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		CloseFDs(fds)
		return s.reply(c, errors.New("message too long"))
	}
	var rerr error
	switch op := s.buf[0]; op {
	case 'S':
		name := string(s.buf[1:n])
		if len(fds) != 1 {
			CloseFDs(fds)
			rerr = errors.New("store " + quote(name) + ": want one descriptor, got " + itoa(len(fds)))
			break
		}
		rerr = s.store(name, fds[0])
	case 'D':
		CloseFDs(fds)
		s.drop(string(s.buf[1:n]))
	case 'L':
		CloseFDs(fds)
		if s.list(c) != nil {
			return hangUp
		}
		return keep
	case 'X':
		CloseFDs(fds)
		s.reply(c, nil)
		return exit
	default:
		CloseFDs(fds)
		rerr = errors.New("unknown request " + quote(string(op)))
	}
	return s.reply(c, rerr)
}

func (s *Server) store(name string, fd int) error {
	if name == "" {
		syscall.Close(fd)
		return errors.New("store: empty name")
	}
	if old, ok := s.fds[name]; ok {
		syscall.Close(old)
	} else if len(s.fds) >= MaxEntries {
		syscall.Close(fd)
		return errors.New("store " + quote(name) + ": holding " + itoa(MaxEntries) + " descriptors already")
	}
	s.fds[name] = fd
	return nil
}

func (s *Server) drop(name string) {
	if fd, ok := s.fds[name]; ok {
		syscall.Close(fd)
		delete(s.fds, name)
	}
}

func (s *Server) closeAll() {
	for name, fd := range s.fds {
		syscall.Close(fd)
		delete(s.fds, name)
	}
}

// list sends every entry, each with a duplicate the send makes; the
// holder keeps its own.
func (s *Server) list(c int) error {
	for name, fd := range s.fds {
		s.out = append(append(s.out[:0], 'F'), name...)
		if err := syscall.Sendmsg(c, s.out, syscall.UnixRights(fd), nil, syscall.MSG_NOSIGNAL); err != nil {
			return err
		}
	}
	return send(c, []byte{'E'})
}

// reply answers a request: 'K', or '!' and the reason.
func (s *Server) reply(c int, err error) outcome {
	msg := []byte{'K'}
	if err != nil {
		msg = append([]byte{'!'}, err.Error()...)
	}
	if send(c, msg) != nil {
		return hangUp
	}
	return keep
}

func send(c int, msg []byte) error {
	return syscall.Sendto(c, msg, syscall.MSG_NOSIGNAL, nil)
}

// ParseFDs returns the descriptors a message carried.
func ParseFDs(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}

// CloseFDs closes fds.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

func quote(s string) string { return `"` + s + `"` }
