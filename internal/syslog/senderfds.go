package syslog

import (
	"golang.org/x/sys/unix"
)

// maxSenderFDs bounds the pidfds kept for recent /dev/log senders.
const maxSenderFDs = 64

// senderFDs keeps a pidfd of each recent /dev/log sender, so that the
// kernel need not make a pidfd for every datagram (SO_PASSPIDFD), nor tend
// close it: that was about a fifth of the CPU of a busy /dev/log.
//
// The socket normally passes no pidfd. Each batch is first peeked: when
// every sender in it has a kept pidfd whose process is still alive, the
// batch is read without pidfds and each datagram gets its sender's kept
// one. That is exact, not a guess by pid: a kept pidfd came with an
// earlier datagram of that process, every datagram in the queue was sent
// after that one, and a process that has not exited still holds its pid,
// so nobody else sent with that pid in between. Otherwise (a new sender,
// or one that exited: its pid may since belong to another process) the
// batch is read with SO_PASSPIDFD on, as before, and the pidfds it brings
// are kept for the next batches.
type senderFDs struct {
	fds   map[int32]int // pid → pidfd of the process that last sent with it
	order []int32       // pids in the order they were kept, for eviction
	pfds  []unix.PollFd // scratch for the liveness check
}

func newSenderFDs() *senderFDs {
	return &senderFDs{fds: make(map[int32]int)}
}

// enable prepares the socket: peeking walks the queue (SO_PEEK_OFF) and
// the socket passes pidfds only when asked. It reports false when the
// kernel cannot do either, and then leaves the socket as it was.
func (s *senderFDs) enable(fd int) bool {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1) != nil {
		return false
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0) != nil {
		return false
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 0) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, -1)
		return false
	}
	return true
}

// disable undoes enable.
func (s *senderFDs) disable(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, -1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1)
}

// known reports whether every pid of a peeked batch has a kept pidfd of
// a process that has not exited. Kept pidfds of exited processes are
// dropped.
func (s *senderFDs) known(pids []int32) bool {
	s.pfds = s.pfds[:0]
	for _, pid := range pids {
		fd, ok := s.fds[pid]
		if !ok {
			return false
		}
		s.pfds = append(s.pfds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	if len(s.pfds) == 0 {
		return true
	}
	// A pidfd polls readable once its process exited.
	if _, err := unix.Poll(s.pfds, 0); err != nil {
		return false
	}
	alive := true
	for i, p := range s.pfds {
		if p.Revents != 0 {
			s.drop(pids[i])
			alive = false
		}
	}
	return alive
}

// get is the kept pidfd of pid, or 0.
func (s *senderFDs) get(pid int32) int {
	return s.fds[pid]
}

// keep makes pidfd, which came with a datagram from pid, the one kept for
// pid; a pidfd kept before for pid is closed.
func (s *senderFDs) keep(pid int32, pidfd int) {
	if old, ok := s.fds[pid]; ok {
		if old != pidfd {
			unix.Close(old)
		}
		s.fds[pid] = pidfd
		return
	}
	if len(s.order) >= maxSenderFDs {
		s.drop(s.order[0])
	}
	s.fds[pid] = pidfd
	s.order = append(s.order, pid)
}

// drop closes and forgets the pidfd kept for pid.
func (s *senderFDs) drop(pid int32) {
	fd, ok := s.fds[pid]
	if !ok {
		return
	}
	unix.Close(fd)
	delete(s.fds, pid)
	for i, p := range s.order {
		if p == pid {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// close closes every kept pidfd.
func (s *senderFDs) close() {
	for pid := range s.fds {
		unix.Close(s.fds[pid])
	}
	clear(s.fds)
	s.order = s.order[:0]
}
