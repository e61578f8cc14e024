package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ServeUnixgram reads datagrams from conn, a socket from ListenUnixgram,
// until ctx is done; it then closes conn and returns nil. Each datagram's
// SCM_CREDENTIALS become the Cred; file descriptors a sender passes along
// are closed.
func (r *Receiver) ServeUnixgram(ctx context.Context, conn *net.UnixConn) error {
	defer r.flush()
	defer conn.Close()
	defer interruptOnDone(ctx, conn.SetReadDeadline)()
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("syslog: unix datagram socket: %w", err)
	}
	b := newBatch(r.opts.MaxMessageSize, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4)+unix.CmsgSpace(16*4), false)
	defer b.free()
	senders := newSenderFDs()
	defer senders.close()
	_ = rc.Control(func(fd uintptr) {
		if senders.enable(int(fd)) {
			b.senders = senders
		}
	})
	if b.senders != nil {
		// The socket may outlive this receiver (handed to the next
		// tend across a restart): leave it passing pidfds, as listened.
		defer rc.Control(func(fd uintptr) { senders.disable(int(fd)) })
	}
	var sc scratch
	flush := r.flush // one method value, not one per read
	for {
		if err := b.read(rc, flush); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTransient(err) {
				continue
			}
			return fmt.Errorf("syslog: read unix datagram: %w", err)
		}
		prev, fds, now := 0, b.fds[:0], r.opts.Now()
		received := b.senders == nil || b.passed // the kernel's pidfds, not kept ones
		b.pids = b.pids[:0]
		for i := range b.n {
			cred := parseOOB(b.control(i))
			from := sender{kind: byPID, id: cred.PID}
			if !cred.Known {
				from = sender{kind: byAddr}
			}
			cred.Again = cred.Known && cred.PID == prev
			if cred.Known {
				prev = cred.PID
			}
			if !received && cred.Known {
				cred.PIDFD = senders.get(int32(cred.PID))
			}
			r.deliver(b.data(i), cred, from, &sc, now)
			if received && cred.PIDFD > 0 {
				fds = append(fds, cred.PIDFD)
				b.pids = append(b.pids, int32(cred.PID))
			}
		}
		if b.senders != nil && b.passed {
			fds = keepLast(senders, b.pids, fds)
		}
		closeAll(fds)
		// No flush here though the read did not fill the batch: the
		// sender refills the small queue meanwhile, and the next read
		// either takes that into this batch or finds the socket empty,
		// which flushes (b.read's idle) before waiting.
	}
}

// keepLast keeps each sender's last pidfd of a batch (fds[i] came from
// pids[i]) and returns the others, to be closed.
func keepLast(s *senderFDs, pids []int32, fds []int) []int {
	n := 0
	for i := range fds {
		if slices.Contains(pids[i+1:], pids[i]) {
			fds[n] = fds[i]
			n++
			continue
		}
		s.keep(pids[i], fds[i])
	}
	return fds[:n]
}

// closeAll closes the pidfds of a batch. The kernel installs them at the
// lowest free numbers, so they come in a few runs of consecutive numbers
// (broken where an older descriptor stays open): every number in such a
// run is one of them, and one close_range(2) per run closes them all.
func closeAll(fds []int) {
	slices.Sort(fds)
	for i := 0; i < len(fds); {
		j := i + 1
		for j < len(fds) && fds[j] == fds[j-1]+1 {
			j++
		}
		if j-i == 1 || unix.CloseRange(uint(fds[i]), uint(fds[j-1]), 0) != nil {
			for _, fd := range fds[i:j] {
				unix.Close(fd)
			}
		}
		i = j
	}
}

// parseOOB extracts the sender's credentials and pidfd and closes other
// passed fds. It walks the control messages in place: it runs for every
// datagram, and unix.ParseSocketControlMessage allocates.
func parseOOB(oob []byte) Cred {
	var cred Cred
	pidfd := 0
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || uint64(h.Len) > uint64(len(oob)) {
			break
		}
		data := oob[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level != unix.SOL_SOCKET:
		case h.Type == unix.SCM_PIDFD && len(data) >= 4:
			if pidfd > 0 {
				unix.Close(pidfd)
			}
			pidfd = int(*(*int32)(unsafe.Pointer(&data[0])))
		case h.Type == unix.SCM_CREDENTIALS && len(data) >= unix.SizeofUcred:
			uc := (*unix.Ucred)(unsafe.Pointer(&data[0]))
			cred = Cred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid), Known: true}
		case h.Type == unix.SCM_RIGHTS:
			for ; len(data) >= 4; data = data[4:] {
				unix.Close(int(*(*int32)(unsafe.Pointer(&data[0]))))
			}
		}
		oob = oob[min(unix.CmsgSpace(int(h.Len)-unix.SizeofCmsghdr), len(oob)):]
	}
	cred.PIDFD = pidfd
	return cred
}

// ServeUDP reads datagrams from conn until ctx is done; it then closes
// conn and returns nil. Senders are rate-limited by source address.
func (r *Receiver) ServeUDP(ctx context.Context, conn *net.UDPConn) error {
	defer r.flush()
	defer conn.Close()
	defer interruptOnDone(ctx, conn.SetReadDeadline)()
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("syslog: udp socket: %w", err)
	}
	b := newBatch(r.opts.MaxMessageSize, 0, true)
	defer b.free()
	var sc scratch
	flush := r.flush // one method value, not one per read
	// The last source and its text, kept across reads: a sender's
	// address is made a string once, not once per read.
	var last netip.Addr
	var text string
	for {
		if err := b.read(rc, flush); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTransient(err) {
				continue
			}
			return fmt.Errorf("syslog: read udp: %w", err)
		}
		now := r.opts.Now()
		for i := range b.n {
			a := b.addr(i)
			if a != last || text == "" {
				last, text = a, a.String()
			}
			if b.truncated(i) {
				r.diag.once("truncated", a.String(), "syslog: datagrams longer than the limit are cut (reported once per source)", "limit", r.opts.MaxMessageSize)
			}
			r.deliver(b.data(i), Cred{Addr: a, AddrText: text}, sender{kind: byAddr, addr: a}, &sc, now)
		}
		if b.n < batchSize {
			// Unlike /dev/log's senders, a UDP sender does not wait for
			// a full queue: hand the batch to the writer now.
			r.flush()
		}
	}
}

// isTransient reports errors after which reading can go on.
func isTransient(err error) bool {
	return errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) ||
		errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ECONNREFUSED)
}

// interruptOnDone makes blocked reads return once ctx is done, by setting
// a deadline in the past. The returned stop function joins its goroutine.
func interruptOnDone(ctx context.Context, setDeadline func(time.Time) error) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			_ = setDeadline(time.Unix(1, 0))
		case <-quit:
		}
	}()
	return func() { close(quit); <-done }
}

// ServeTCP accepts connections on ln until ctx is done; it then closes ln
// and every connection, waits for their goroutines and returns nil. Each
// connection carries octet-counted or LF-terminated frames (RFC 6587).
// Senders are rate-limited by remote address, or by pid for unix-socket
// peers. Connections beyond MaxConns are refused by closing them.
func (r *Receiver) ServeTCP(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := closeOnDone(ctx, ln)
	defer stop()
	sem := make(chan struct{}, r.opts.MaxConns)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTransient(err) ||
				errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				r.log.Warn("syslog: accept", "err", err)
				continue
			}
			return fmt.Errorf("syslog: accept: %w", err)
		}
		select {
		case sem <- struct{}{}:
		default:
			r.log.Warn("syslog: too many connections, refusing one", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.serveConn(ctx, c)
		}()
	}
}

// closeOnDone closes c once ctx is done. stop joins the goroutine.
func closeOnDone(ctx context.Context, c io.Closer) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-quit:
		}
		c.Close()
	}()
	return func() { close(quit); <-done }
}

// serveConn reads frames from one stream connection until EOF or ctx.
func (r *Receiver) serveConn(ctx context.Context, c net.Conn) {
	defer r.flush()
	defer closeOnDone(ctx, c)()
	cred, from := streamPeer(c)
	if tc, ok := c.(*tls.Conn); ok && !r.handshake(ctx, tc, cred) {
		return
	}
	fr := NewFrameReader(c, r.opts.MaxMessageSize)
	var sc scratch
	var now time.Time
	for n := 0; ; n++ {
		// A new clock reading when Next reads the socket, and every 64
		// frames of a long buffered run.
		if fr.Buffered() == 0 || n%64 == 0 {
			now = r.opts.Now()
		}
		frame, err := fr.Next()
		if err != nil {
			if err != io.EOF && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				r.diag.once("stream "+err.Error(), sourceOf(c, cred), "syslog: connection ended", "err", err)
			}
			return
		}
		r.deliver(frame, cred, from, &sc, now)
		if fr.Buffered() == 0 {
			r.flush()
		}
	}
}

// handshake runs a TLS server handshake within HandshakeTimeout; a client
// that fails it or never finishes is reported once per address.
func (r *Receiver) handshake(ctx context.Context, c *tls.Conn, cred Cred) bool {
	hctx, cancel := context.WithTimeout(ctx, r.opts.HandshakeTimeout)
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		if ctx.Err() == nil {
			r.diag.once("tls", sourceOf(c, cred), "syslog: TLS handshake failed (reported once per source)", "err", err)
		}
		return false
	}
	return true
}

// sourceOf names a connection's peer for diagnostics.
func sourceOf(c net.Conn, cred Cred) string {
	if cred.Addr.IsValid() {
		return cred.Addr.String()
	}
	if cred.Known {
		return "pid " + strconv.Itoa(cred.PID)
	}
	return c.RemoteAddr().String()
}

// streamPeer identifies a stream sender: SO_PEERCRED for unix sockets,
// the remote address otherwise.
func streamPeer(c net.Conn) (Cred, sender) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if uc, ok := c.(*net.UnixConn); ok {
		if rc, err := uc.SyscallConn(); err == nil {
			var cred Cred
			_ = rc.Control(func(fd uintptr) {
				if u, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
					cred = Cred{PID: int(u.Pid), UID: int(u.Uid), GID: int(u.Gid), Known: true}
				}
			})
			if cred.Known {
				return cred, sender{kind: byPID, id: cred.PID}
			}
		}
		return Cred{}, sender{kind: byAddr}
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap()
	}
	return Cred{Addr: addr, AddrText: addr.String()}, sender{kind: byAddr, addr: addr}
}
