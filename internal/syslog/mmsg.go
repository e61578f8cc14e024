package syslog

import (
	"net/netip"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg(2) reads at most. The
// buffers are mapped memory that only takes pages as datagrams fill them,
// so a batch of 64 KiB buffers costs memory for what arrives, not for the
// limit (the Go heap would zero, and so touch, all of it).
const batchSize = 32

// batch reads several datagrams per system call: a burst on /dev/log or
// UDP costs one recvmmsg instead of one recvmsg per message (and, for
// /dev/log, the kernel's wake-ups of a sender blocked on the small queue
// come in rounds rather than one per message).
type batch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrAny
	buf   []byte // batchSize buffers of size bytes
	oob   []byte // batchSize control buffers of oobSize bytes
	size  int
	oobSz int
	n     int   // datagrams in the batch after read
	fds   []int // the caller's scratch space for descriptors to close
	// mapped: buf is an anonymous mapping, unmapped by free.
	mapped bool
	// recv is the read callback, made once rather than per read (a
	// closure handed to RawConn.Read escapes); idle and errno are its
	// argument and result.
	recv  func(fd uintptr) bool
	idle  func()
	errno syscall.Errno
	// senders, when set (/dev/log), makes each read peek first and ask
	// for pidfds only for senders it keeps none of; passed is whether
	// the last read did, pids its scratch.
	senders *senderFDs
	passed  bool
	pids    []int32
	peeked  []unix.Mmsghdr
}

// newBatch prepares buffers for datagrams of up to size bytes with oobSize
// bytes of ancillary data each; names records source addresses (UDP).
func newBatch(size, oobSize int, names bool) *batch {
	b := &batch{
		hdrs: make([]unix.Mmsghdr, batchSize), iovs: make([]unix.Iovec, batchSize),
		size: size, oobSz: oobSize, fds: make([]int, 0, batchSize),
	}
	var err error
	b.buf, err = unix.Mmap(-1, 0, batchSize*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	b.mapped = err == nil
	if err != nil {
		b.buf = make([]byte, batchSize*size)
	}
	if oobSize > 0 {
		b.oob = make([]byte, batchSize*oobSize)
	}
	if names {
		b.names = make([]unix.RawSockaddrAny, batchSize)
	}
	b.recv = b.recvmmsg
	for i := range b.hdrs {
		b.iovs[i].Base = &b.buf[i*size]
		b.iovs[i].SetLen(size)
		h := &b.hdrs[i].Hdr
		h.Iov, h.Iovlen = &b.iovs[i], 1
		if oobSize > 0 {
			h.Control = &b.oob[i*oobSize]
		}
		if names {
			h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		}
	}
	return b
}

// free releases the buffers; the batch is not used after it.
func (b *batch) free() {
	if b.mapped {
		_ = unix.Munmap(b.buf)
	}
	b.buf, b.mapped = nil, false
}

// read fills the batch with what is queued, waiting in the runtime's
// poller while nothing is. idle runs when the socket is found empty,
// before waiting: the moment to write what earlier batches delivered.
func (b *batch) read(rc syscall.RawConn, idle func()) error {
	b.idle, b.errno = idle, 0
	err := rc.Read(b.recv)
	b.idle = nil
	if err != nil {
		return err
	}
	if b.errno != 0 {
		b.n = 0
		return b.errno
	}
	return nil
}

// recvmmsg is one try at reading the batch, for RawConn.Read: false
// (wait) when nothing is queued.
func (b *batch) recvmmsg(fd uintptr) bool {
	if b.senders != nil {
		return b.recvSenders(fd)
	}
	b.reset(len(b.hdrs))
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		b.idle()
		return false
	}
	b.n, b.errno = int(r), e
	return true
}

// recvSenders reads a /dev/log batch, with pidfds only when a sender in
// it has none kept (senderFDs). The peek and the read see the same
// datagrams: only this goroutine reads the socket, and the read takes
// exactly as many as were peeked.
func (b *batch) recvSenders(fd uintptr) bool {
	b.reset(len(b.hdrs))
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
		unix.MSG_DONTWAIT|unix.MSG_PEEK, 0, 0)
	if e == unix.EAGAIN {
		b.idle()
		return false
	}
	if e != 0 {
		b.n, b.errno = 0, e
		return true
	}
	n, rewind := int(r), false
	for i := range n {
		// A datagram longer than its buffer is peeked in pieces, the
		// next piece as if it were the next datagram: stop at it, and
		// start the next peek at the queue's head again.
		if b.truncated(i) {
			n, rewind = i+1, true
			break
		}
	}
	b.pids = b.pids[:0]
	for i := range r {
		// Parsed for every peeked datagram: a descriptor a sender
		// passed is installed by each peek and closed here.
		cred := parseOOB(b.control(int(i)))
		if int(i) < n && cred.Known && !slices.Contains(b.pids, int32(cred.PID)) {
			b.pids = append(b.pids, int32(cred.PID))
		}
	}
	b.passed = !b.senders.known(b.pids)
	if b.passed {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1)
		b.reset(n)
		r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(n),
			unix.MSG_DONTWAIT, 0, 0)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSPIDFD, 0)
	} else {
		r, e = b.discard(fd, n)
	}
	if rewind {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0)
	}
	if e == unix.EAGAIN {
		e = unix.EINTR // cannot happen (the datagrams were peeked); read again
	}
	b.n, b.errno = int(r), e
	if e != 0 {
		b.n = 0
	}
	return true
}

// discard takes the n peeked datagrams off the queue. The peek already
// has their bytes and credentials, so the read copies neither (empty
// buffers, no ancillary data) and the peek's lengths are kept.
func (b *batch) discard(fd uintptr, n int) (uintptr, syscall.Errno) {
	if cap(b.peeked) < n {
		b.peeked = make([]unix.Mmsghdr, len(b.hdrs))
	}
	peeked := b.peeked[:n]
	copy(peeked, b.hdrs[:n])
	for i := range peeked {
		b.iovs[i].SetLen(0)
		b.hdrs[i].Hdr.SetControllen(0)
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(n),
		unix.MSG_DONTWAIT, 0, 0)
	copy(b.hdrs[:n], peeked)
	for i := range peeked {
		b.iovs[i].SetLen(b.size)
	}
	return r, e
}

// reset prepares the first n headers for a read.
func (b *batch) reset(n int) {
	for i := range b.hdrs[:n] {
		h := &b.hdrs[i].Hdr
		h.SetControllen(b.oobSz)
		h.Flags = 0
		if b.names != nil {
			h.Namelen = unix.SizeofSockaddrAny
		}
	}
}

// data is datagram i's bytes.
func (b *batch) data(i int) []byte {
	return b.buf[i*b.size : i*b.size+int(b.hdrs[i].Len)]
}

// control is datagram i's ancillary data.
func (b *batch) control(i int) []byte {
	return b.oob[i*b.oobSz : i*b.oobSz+int(b.hdrs[i].Hdr.Controllen)]
}

// truncated reports whether datagram i was longer than its buffer.
func (b *batch) truncated(i int) bool { return b.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 }

// addr is datagram i's source address (UDP).
func (b *batch) addr(i int) netip.Addr {
	sa := &b.names[i]
	switch sa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr).Unmap()
	}
	return netip.Addr{}
}
