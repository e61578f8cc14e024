package journal

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ingestBufSize is what one read(2) takes from a pipe: one batch, one
// write(2) to the segment. A quarter of a root pipe's 1 MiB: a busy pipe
// costs a few reads per megabyte (through a spool: a splice, a pread and
// a header write each), and the buffer, shared by all pipes, stays small.
const ingestBufSize = 256 << 10

// ingest reads every pipe of the journal with one goroutine and one
// buffer, woken by epoll. An idle pipe costs a small struct — no
// goroutine, no buffer — which is what keeps a thousand supervised
// services cheap. A slow disk stalls the loop, the pipes fill and their
// writers block: backpressure, nothing dropped.
type ingest struct {
	j    *Journal
	epfd int
	wake int // eventfd: Close's way to interrupt epoll_wait

	mu sync.Mutex // guards byFD, stopping and replay
	// spoolMu keeps SweepSpool from removing a spool being made, and
	// guards sio and spools.
	spoolMu sync.Mutex
	// sio is what the pipes' spools share, open while spools (their
	// number) exist: a tend whose services are quiet keeps no
	// descriptor for it.
	sio      *spoolIO
	spools   int
	byFD     map[int32]*Pipe
	stopping bool
	// replay are pipes taken back with complete lines already read (a
	// spool's rest): the loop stores them without waiting for new data.
	replay []*Pipe

	buf  []byte   // shared read buffer, owned by the loop
	recs []rec    // shared record batch, owned by the loop
	ends []uint32 // shared line ends of the batch's runs, owned by the loop
	done chan struct{}
}

// ingestLocked returns the journal's ingest loop, starting it on first
// use (a read-only journal never starts one). Call with wmu held.
func (j *Journal) ingestLocked() *ingest {
	if j.in != nil {
		return j.in
	}
	in, err := newIngest(j)
	if err != nil {
		j.log.Error("journal: cannot start the pipe reader", "err", err)
		return &ingest{j: j, epfd: -1}
	}
	j.in = in
	return in
}

func newIngest(j *Journal) (*ingest, error) {
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
	in := &ingest{
		j: j, epfd: epfd, wake: wake, byFD: map[int32]*Pipe{},
		buf:  make([]byte, max(ingestBufSize, j.opts.LineMax+ingestBufSize/2)),
		done: make(chan struct{}),
	}
	go in.loop()
	return in, nil
}

// add registers a pipe's read end, and polls it when poll is set (else
// arm does, once the writer's pid is known).
func (in *ingest) add(p *Pipe, poll bool) error {
	if in.epfd < 0 {
		return errors.New("no pipe reader")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopping {
		return errClosed
	}
	in.byFD[int32(p.fd)] = p
	if !poll {
		return nil
	}
	if err := in.poll(p); err != nil {
		delete(in.byFD, int32(p.fd))
		return err
	}
	if p.sp != nil && p.sp.backlog() {
		in.replay = append(in.replay, p)
		one := [8]byte{1}
		_, _ = unix.Write(in.wake, one[:])
	}
	return nil
}

// replayPending stores the complete lines of the spools of pipes taken
// back.
func (in *ingest) replayPending() {
	in.mu.Lock()
	ps := in.replay
	in.replay = nil
	in.mu.Unlock()
	for _, p := range ps {
		in.mu.Lock()
		live := in.byFD[int32(p.fd)] == p
		in.mu.Unlock()
		if !live {
			continue // ended meanwhile
		}
		for {
			if _, eof := in.readPending(p, true); eof {
				in.finish(p)
				break
			}
			if !p.sp.backlog() {
				break
			}
		}
	}
}

// arm starts polling a pipe added without polling.
func (in *ingest) arm(p *Pipe) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopping || in.byFD[int32(p.fd)] != p {
		return // closed with the journal
	}
	if err := in.poll(p); err != nil {
		in.j.log.Error("journal: cannot read pipe", "unit", p.src.Unit, "err", err)
	}
}

// poll adds p's read end to the epoll set; call with mu held.
func (in *ingest) poll(p *Pipe) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.fd)}
	return unix.EpollCtl(in.epfd, unix.EPOLL_CTL_ADD, p.fd, &ev)
}

func (in *ingest) loop() {
	defer close(in.done)
	if h := in.j.opts.OnPanic; h != nil {
		defer func() {
			if v := recover(); v != nil {
				h("journal pipe reader", v)
			}
		}()
	}
	events := make([]unix.EpollEvent, 64)
	for {
		// While writes fail, pipes are left alone until the next retry:
		// their writers wait (backpressure), and tend does not spin
		// reading lines it can only drop.
		if d := in.j.retryIn(); d > 0 {
			if in.pause(d) {
				return
			}
			continue
		}
		n, err := unix.EpollWait(in.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			in.j.log.Error("journal: epoll_wait", "err", err)
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(in.wake) {
				if in.woken() {
					return
				}
				in.replayPending()
				continue
			}
			in.mu.Lock()
			p := in.byFD[ev.Fd]
			in.mu.Unlock()
			if p != nil && in.drain(p) {
				in.finish(p)
			}
		}
	}
}

// maxDrain bounds the reads of one pipe in a row while writes fail: a
// pipe's capacity (1 MiB) in reads.
const maxDrain = (1 << 20) / ingestBufSize

// drain reads p once, or while writes fail until it is empty (at most
// maxDrain reads): what was read then is dropped and counted, but the
// writer is never held up for more than one retry period. It reports
// whether p reached its end.
func (in *ingest) drain(p *Pipe) bool {
	for range maxDrain {
		n, eof := in.read(p)
		if eof || n == 0 || in.j.retryIn() == 0 {
			return eof
		}
	}
	return false
}

// drainLast stores what p holds when the journal closes: at most a
// pipe's capacity, so that a writer still running cannot hold Close up.
func (in *ingest) drainLast(p *Pipe) {
	p.lb.final = true
	for range maxDrain + 1 {
		n, eof := in.read(p)
		if eof {
			in.finish(p)
			return
		}
		if n == 0 {
			return
		}
	}
}

// pause waits for d or a wake-up, without reading pipes. It reports
// whether the loop must stop.
func (in *ingest) pause(d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(in.wake), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	if n > 0 && err == nil {
		return in.woken()
	}
	return false
}

// woken consumes a wake-up and reports whether it asks the loop to stop.
func (in *ingest) woken() bool {
	if in.isStopping() {
		return true
	}
	var b [8]byte
	_, _ = unix.Read(in.wake, b[:])
	return false
}

// wakeUp interrupts a pause: writes work again.
func (in *ingest) wakeUp() {
	if in.epfd < 0 {
		return
	}
	one := [8]byte{1}
	_, _ = unix.Write(in.wake, one[:])
}

func (in *ingest) isStopping() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stopping
}

// read takes what one read(2) gives from p and stores its lines; it
// returns how many bytes it read and whether p reached its end.
func (in *ingest) read(p *Pipe) (int, bool) { return in.readPending(p, false) }

// readPending is read, which with force also stores the complete lines
// of p's pending bytes when the pipe has nothing new (a spool's rest
// taken back after a crash).
func (in *ingest) readPending(p *Pipe, force bool) (int, bool) {
	have := copy(in.buf, p.pending)
	n, err := p.take(in.buf[have:])
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		if !force {
			return 0, false
		}
		n, err = -1, nil
	}
	if err != nil {
		in.j.log.Error("journal: reading pipe", "unit", p.src.Unit, "err", err)
		n = 0
	}
	eof := n == 0
	n = max(n, 0)
	b := p.lb
	b.buf, b.have, b.recs, b.ends = in.buf, have, in.recs[:0], in.ends[:0]
	b.pid = uint32(max(p.pid.Load(), 0))
	if p.sp != nil && p.sp.pid != int(b.pid) {
		// A new writer (Pipe.SetPID again): the records from here on
		// carry its pid, which a manager taking the spool back after a
		// crash must look for.
		p.sp.pid = int(b.pid)
		_ = p.sp.mark()
	}
	b.filled(n, eof)
	var seq uint64
	if k := min(len(p.skip), entries(b.recs)); k > 0 {
		// Committed by the manager before a crash (spool.go).
		seq = p.skip[k-1]
		p.skip = p.skip[k:]
		rest := dropLines(b.recs, k)
		b.recs = b.recs[:copy(b.recs, rest)]
	}
	err = b.flush() // a closed journal: the lines go with it
	if p.sp != nil {
		if err == nil && len(b.recs) > 0 {
			seq = b.recs[len(b.recs)-1].lastSeq()
		}
		p.sp.done(p.sp.read-int64(b.have), seq)
	}
	p.pending = append(p.pending[:0], in.buf[:b.have]...)
	if len(p.pending) == 0 && cap(p.pending) > 4096 {
		p.pending = nil // don't keep a long line's room on an idle pipe
	}
	in.recs, in.ends = b.recs[:0], b.ends[:0]
	b.buf, b.recs, b.ends = nil, nil, nil
	return n, eof
}

// take reads what the pipe holds into dst: through its spool, or with
// read(2).
func (p *Pipe) take(dst []byte) (int, error) {
	if p.sp == nil && p.lazy {
		if ended, empty := p.unwritten(); empty {
			// No spool for a pipe that has nothing to read (a quiet
			// stderr reaching its end): making one waits for the fd
			// holder, and the loop would hold up every other pipe's end
			// for a file it removes at once.
			if ended {
				return 0, nil
			}
			return 0, unix.EAGAIN
		}
		p.makeSpool(nil) // nothing was read yet: nothing is pending
	}
	if p.sp == nil {
		return unix.Read(p.fd, dst)
	}
	n, err := p.sp.fill(p.fd, dst)
	if errors.Is(err, unix.EINVAL) && p.sp.end == 0 {
		// A pipe tee(2) or splice(2) refuses: read as without a spool.
		p.j.log.Warn("journal: a pipe cannot be spooled; reading it without a spool", "err", err)
		p.in.dropSpool(p.sp)
		p.in.mu.Lock() // FDs reads sp under it
		p.sp = nil
		p.in.mu.Unlock()
		return unix.Read(p.fd, dst)
	}
	return n, err
}

// unwritten reports whether the pipe holds no byte (empty) and, if so,
// whether its writers are all gone (ended): then it never will. The
// writers' end is looked at first, as bytes may arrive until then.
func (p *Pipe) unwritten() (ended, empty bool) {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, 0); err != nil {
		return false, false
	}
	ended = fds[0].Revents&unix.POLLHUP != 0
	n, err := unix.IoctlGetInt(p.fd, unix.TIOCINQ)
	return ended, err == nil && n == 0
}

// spoolIO returns what spools share, opening it for the first; call
// with spoolMu held, and dropSpool (or spoolDone) for each success.
func (in *ingest) spoolIO() (*spoolIO, error) {
	if in.sio == nil {
		sio, err := newSpoolIO()
		if err != nil {
			return nil, err
		}
		in.sio = sio
	}
	in.spools++
	return in.sio, nil
}

// spoolDone closes what spools share once none is left; call with
// spoolMu held.
func (in *ingest) spoolDone() {
	if in.spools--; in.spools == 0 && in.sio != nil {
		in.sio.close()
		in.sio = nil
	}
}

// dropSpool removes sp: its pipe ended and all it carried is stored.
func (in *ingest) dropSpool(sp *spool) {
	sp.remove(in.j.opts.Holder)
	in.spoolMu.Lock()
	in.spoolDone()
	in.spoolMu.Unlock()
}

// finish forgets a pipe whose writers are all gone.
func (in *ingest) finish(p *Pipe) {
	_ = unix.EpollCtl(in.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
	in.mu.Lock()
	delete(in.byFD, int32(p.fd))
	in.mu.Unlock()
	p.release()
	if p.sp != nil {
		in.dropSpool(p.sp)
	}
	unix.Close(p.fd)
	in.j.pipeEnded(p.src.Unit)
	close(p.done)
}

// stop ends the loop, stores what the pipes still open hold (the last
// output of units stopped just before, which the loop may not have read
// yet) and closes them; what their writers write later is lost (stop
// units first).
func (in *ingest) stop() {
	if in.epfd < 0 {
		return
	}
	in.mu.Lock()
	in.stopping = true
	in.mu.Unlock()
	var one = [8]byte{1}
	_, _ = unix.Write(in.wake, one[:])
	<-in.done
	in.mu.Lock()
	left := slices.Collect(maps.Values(in.byFD))
	in.mu.Unlock()
	for _, p := range left {
		in.drainLast(p)
	}
	in.mu.Lock()
	for fd, p := range in.byFD {
		unix.Close(int(fd))
		close(p.done)
	}
	in.byFD = nil
	in.mu.Unlock()
	in.closeFDs()
}

// closeFDs closes the loop's own descriptors once it stopped.
func (in *ingest) closeFDs() {
	unix.Close(in.epfd)
	unix.Close(in.wake)
	in.spoolMu.Lock()
	if in.sio != nil {
		in.sio.close()
		in.sio = nil
	}
	in.spoolMu.Unlock()
}
