package main

import (
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendBatches sends the n messages batch datagrams per sendmmsg(2) on the
// connected socket c. With gso > 1 each of those datagrams is gso
// messages that the kernel cuts into one datagram each (UDP_SEGMENT: the
// messages are all the same length), so that one pass through the IP
// stack carries gso of them. A short count (the kernel sent part of a
// batch) resends the rest; EAGAIN waits in the runtime's poller.
func sendBatches(c *net.UDPConn, n, batch, gso int, msg func([]byte, int) []byte) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	if gso > 1 {
		seg := len(msg(nil, 0))
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, seg)
		}); err != nil || serr != nil {
			// A kernel before 4.18: one message per datagram, said so
			// (the rates are then the slower sender's).
			fmt.Fprintf(os.Stderr, "syslogsend: UDP_SEGMENT: %v%v; sending one message per datagram\n", err, serr)
			gso = 1
		}
	}
	hdrs := make([]unix.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	bufs := make([][]byte, batch)
	for i := 0; i < n; {
		k := 0
		for ; k < batch && i < n; k++ {
			bufs[k] = bufs[k][:0]
			for j := 0; j < gso && i < n; j++ {
				bufs[k] = msg(bufs[k], i)
				i++
			}
			iovs[k].Base = &bufs[k][0]
			iovs[k].SetLen(len(bufs[k]))
			hdrs[k].Hdr.Iov, hdrs[k].Hdr.Iovlen = &iovs[k], 1
		}
		for sent := 0; sent < k; {
			var r uintptr
			var e unix.Errno
			werr := rc.Write(func(fd uintptr) bool {
				r, _, e = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hdrs[sent])), uintptr(k-sent),
					unix.MSG_DONTWAIT, 0, 0)
				return e != unix.EAGAIN
			})
			if werr != nil {
				return werr
			}
			if e == unix.ECONNREFUSED {
				continue // an ICMP error from an earlier datagram: the rest go on
			}
			if e != 0 {
				return fmt.Errorf("sendmmsg: %w", e)
			}
			sent += int(r)
		}
	}
	return nil
}
