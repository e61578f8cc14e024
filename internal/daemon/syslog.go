package daemon

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdrole"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/syslog"
)

// syslogIn receives syslog datagrams (/dev/log) into the journal, each
// attributed to the unit of its sender's pid (from kernel credentials).
type syslogIn struct {
	d    *daemon
	conn *net.UnixConn
	recv *syslog.Receiver
}

// listenSyslog binds the syslog socket; failure is not fatal (another
// syslog daemon may own /dev/log), it only means no syslog capture.
func (d *daemon) listenSyslog(path string) *syslogIn {
	if path == "" {
		return nil
	}
	conn, err := syslog.ListenUnixgram(path)
	if err != nil {
		d.log.Warn("not capturing syslog", "socket", path, "err", err)
		return nil
	}
	s := &syslogIn{d: d, conn: conn}
	opts, _ := d.receiverOptions() // a bad limit is fatal in listenLogHost
	opts.Flush = func() { d.syslogBatch.flushSmall(d.journal) }
	s.recv = syslog.NewReceiver(s.handle, opts)
	return s
}

// serve runs until ctx ends; wg tracks its goroutine.
func (s *syslogIn) serve(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.recv.ServeUnixgram(ctx, s.conn); err != nil {
			s.d.log.Error("syslog receiver stopped", "err", err)
		}
		s.recv.Close()
		s.d.syslogBatch.wait(s.d.journal)
	}()
}

// fds names the socket, for /v1/self/fds; once the receiver stopped and
// closed it, it is left out.
func (s *syslogIn) fds() map[int]string {
	r := fdrole.Roles{}
	r.Add(s.conn, "syslog "+s.d.cfg.Paths.Syslog)
	return r
}

func (s *syslogIn) handle(m syslog.Message, cred syslog.Cred) {
	s.d.appendSyslog(m, cred)
}

// appendSyslog stores one received message: from /dev/log, attributed to
// the unit of the sender (kernel credentials), or from the network, with
// the sender's host, address and own timestamp.
func (d *daemon) appendSyslog(m syslog.Message, cred syslog.Cred) {
	e := journal.Entry{
		Priority:   m.Severity,
		Facility:   m.Facility,
		Identifier: m.AppName,
		Stream:     journal.StreamSyslog,
		Origin:     originOf(m, cred),
		Message:    m.Msg,
		UID:        -1,
	}
	if pid, err := strconv.Atoi(m.ProcID); err == nil {
		e.PID = pid
	}
	if cred.Known {
		// The kernel's word beats the packet's.
		e.PID, e.UID = cred.PID, cred.UID
		e.Unit = d.unitOf(cred)
	}
	if m.AppName == syslog.SuppressedAppName && m.MsgID == syslog.SuppressedMsgID {
		e.Stream = journal.StreamTend
	}
	d.syslogBatch.add(d.journal, &e)
}

// syslogBatch collects received messages until the receivers say nothing
// more is waiting (ReceiverOptions.Flush), so that a burst costs one
// journal write per unit rather than one per message. The writes run on a
// goroutine of their own while the receivers read and parse on: a group
// commit, where whatever arrived during one journal write goes into the
// next, so batches grow with the load rather than staying at the size of
// one socket read. One write at a time is in flight, so batches reach the
// journal in order; a receiver that outruns the journal by maxSyslogBatch
// messages waits for it (nothing queues without bound, nothing is
// dropped).
type syslogBatch struct {
	mu sync.Mutex // guards es, spare, writing and done
	// room is signalled after each write, for adders waiting while es is
	// full.
	room sync.Cond
	es   []journal.Entry
	// msgs holds the bytes of es's messages: the receivers lend theirs
	// only for the Handler's call (ReceiverOptions.BorrowMsg), and one
	// buffer reused batch after batch spares the collector the ~140
	// bytes per message a copy of its own each would cost.
	msgs []byte
	// spare and spareMsgs are the slices of the write in flight, reused
	// once it ended.
	spare     []journal.Entry
	spareMsgs []byte
	// writing is set while the writer goroutine runs; done is closed
	// when it ends.
	writing bool
	done    chan struct{}
	// waitFeed, when log files are written, is the Router's WaitFeed:
	// set before the receivers start, called by the writers.
	waitFeed func(time.Duration)
}

// maxSyslogBatch bounds what waits for the journal, and so what one
// journal write takes.
const maxSyslogBatch = 1024

// minSyslogMsgs is the first size of a batch's message buffer; it grows
// to what a full batch of the senders' messages holds.
const minSyslogMsgs = 16 << 10

func (b *syslogBatch) add(j *journal.Journal, e *journal.Entry) {
	b.mu.Lock()
	for len(b.es) >= maxSyslogBatch && b.writing {
		b.cond().Wait()
	}
	if cap(b.msgs)-len(b.msgs) < len(e.Message) {
		// The entries collected so far keep the full buffer alive
		// until their write; the next batches reuse the new one.
		b.msgs = make([]byte, 0, max(2*cap(b.msgs), minSyslogMsgs, len(e.Message)))
	}
	n := len(b.msgs)
	b.msgs = append(b.msgs, e.Message...)
	b.es = append(b.es, *e)
	b.es[len(b.es)-1].Message = b.msgs[n:len(b.msgs):len(b.msgs)]
	full := len(b.es) >= maxSyslogBatch
	b.mu.Unlock()
	if full {
		b.flush(j)
	}
}

// cond is room, bound to mu on first use. Called with mu held.
func (b *syslogBatch) cond() *sync.Cond {
	if b.room.L == nil {
		b.room.L = &b.mu
	}
	return &b.room
}

// inlineSyslogBatch is the largest batch flushSmall writes itself rather
// than on a writer goroutine. A /dev/log read rarely holds more than the
// socket's queue (net.unix.max_dgram_qlen, 10 by default): for such a
// batch a goroutine started, scheduled and ended per write cost more
// than the write, and the receiver has nothing to overlap with it.
const inlineSyslogBatch = 64

// flush makes sure what was collected gets written: by the writer in
// flight, which takes it when its write ends, or by a new one. The
// writer is joined by wait.
func (b *syslogBatch) flush(j *journal.Journal) { b.flushAs(j, false) }

// flushSmall is flush for a receiver whose senders wait while it writes
// (/dev/log: their queue is full) rather than lose messages (UDP): a
// small batch with no writer in flight is written here, by the caller.
func (b *syslogBatch) flushSmall(j *journal.Journal) { b.flushAs(j, true) }

func (b *syslogBatch) flushAs(j *journal.Journal, inline bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.es) == 0 || b.writing {
		return
	}
	b.writing, b.done = true, make(chan struct{})
	if inline && len(b.es) <= inlineSyslogBatch {
		b.writeOneLocked(j)
		if len(b.es) == 0 {
			b.writing = false
			close(b.done)
			b.cond().Broadcast()
			return
		}
	}
	go b.write(j, b.done)
}

// writeOneLocked writes what is collected. Called with mu held (it is
// released during the write) and writing set, so that batches stay in
// order.
func (b *syslogBatch) writeOneLocked(j *journal.Journal) {
	es, msgs := b.es, b.msgs
	b.es, b.spare = b.spare[:0], nil
	b.msgs, b.spareMsgs = b.spareMsgs[:0], nil
	b.mu.Unlock()
	b.waitRouter()
	// The journal copies what it keeps: the entries and their bytes
	// are free for reuse once it returns. They are not cleared (270
	// bytes per message, with write barriers): the next batch
	// overwrites them, and until then they hold alive only their
	// header strings and the message buffers this batch kept anyway.
	_ = j.AppendBatch(es)
	b.mu.Lock()
	b.spare, b.spareMsgs = es, msgs
	b.cond().Broadcast()
}

// maxRouterWait bounds how long a syslog write waits for the file Router
// to catch up: long enough for a Router that had no CPU to run, short
// enough that one stuck on a slow file holds the journal back little
// (once: it then waits no more until the Router moves).
const maxRouterWait = 100 * time.Millisecond

// waitRouter holds a write back while the Router that writes the log
// files is behind, so that it gets this batch from memory rather than by
// reading it back from the journal (on 2 busy cores ~20% of the batches
// of a TCP flood were, at twice the cost). The messages meanwhile wait
// in the batch and then in the sockets: a TCP sender waits, a UDP
// socket's buffer fills; none is dropped here.
func (b *syslogBatch) waitRouter() {
	if b.waitFeed != nil {
		b.waitFeed(maxRouterWait)
	}
}

// write writes batches until none waits, then ends (closing done).
func (b *syslogBatch) write(j *journal.Journal, done chan struct{}) {
	defer close(done)
	b.mu.Lock()
	for len(b.es) > 0 {
		b.writeOneLocked(j)
	}
	b.writing = false
	b.cond().Broadcast()
	b.mu.Unlock()
}

// wait writes what is collected and returns once it is in the journal:
// for a receiver that stops, before the journal closes.
func (b *syslogBatch) wait(j *journal.Journal) {
	b.flush(j)
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done != nil {
		<-done
	}
}

// unitOf attributes a datagram to a unit. The sender may have exited
// before the datagram is read (logger(1) does at once): its pidfd still
// names its cgroup; /proc serves kernels that pass no pidfd while the
// sender lives.
func (d *daemon) unitOf(cred syslog.Cred) string {
	if cred.Again {
		if name, ok := d.senders.lastOf(cred.PID); ok {
			return name
		}
	}
	id, cacheable := d.senders.processID(cred.PIDFD)
	if cacheable {
		if name, ok := d.senders.get(id); ok {
			return name
		}
	}
	name, ok := d.cgroups.UnitOfPIDFD(cred.PIDFD)
	if !ok {
		name, _ = d.cgroups.UnitOf(cred.PID)
	}
	if cacheable {
		d.senders.put(id, name)
	}
	d.senders.setLast(cred.PID, id, name)
	return name
}

// pidfsMagic is the file system type of pidfds on Linux 6.9 and later,
// where each process has an inode of its own that no later process gets.
const pidfsMagic = 0x50494446

// senderUnits remembers the unit of recent senders (by process id), so
// that a process that logs a lot is looked up in /proc once, not per
// message. A process keeps its unit: tend places it before it runs.
type senderUnits struct {
	mu sync.Mutex // guards m, last and pidfs
	m  map[uint64]string
	// last is the most recent sender: a burst from one process is
	// attributed without a map lookup.
	last struct {
		pid  int
		id   uint64
		unit string
	}
	// pidfs is whether pidfds are pidfs inodes: +1 yes, -1 no, 0 not yet
	// known. It is the kernel's property, learnt from the first pidfd.
	pidfs int8
}

// maxSenderUnits bounds the memory; past it the map starts over.
const maxSenderUnits = 1024

// processID identifies the sender's process by its pidfd's inode, when
// the kernel gives each process its own (pidfs). Unlike a pid it is never
// reused, so the unit found for it can be remembered.
func (c *senderUnits) processID(pidfd int) (uint64, bool) {
	if pidfd <= 0 {
		return 0, false
	}
	c.mu.Lock()
	known := c.pidfs
	c.mu.Unlock()
	if known == 0 {
		var fs unix.Statfs_t
		if unix.Fstatfs(pidfd, &fs) != nil {
			return 0, false
		}
		known = -1
		if fs.Type == pidfsMagic {
			known = 1
		}
		c.mu.Lock()
		c.pidfs = known
		c.mu.Unlock()
	}
	var st unix.Stat_t
	if known < 0 || unix.Fstat(pidfd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

func (c *senderUnits) get(id uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.id == id && id != 0 {
		return c.last.unit, true
	}
	u, ok := c.m[id]
	return u, ok
}

func (c *senderUnits) put(id uint64, unit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSenderUnits {
		c.m = map[uint64]string{}
	}
	c.m[id] = unit
}

// setLast records the sender just attributed.
func (c *senderUnits) setLast(pid int, id uint64, unit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last.pid, c.last.id, c.last.unit = pid, id, unit
}

// lastOf is the unit of the last sender if it had this pid: for a
// datagram the receiver says comes from the same process (Cred.Again).
func (c *senderUnits) lastOf(pid int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.unit, c.last.pid == pid && pid > 0
}

// originOf keeps what the sender said about itself. Only a network
// message's host name and timestamp are kept: on /dev/log both are this
// machine's, and syslog(3)'s second-resolution stamp adds nothing to the
// journal's own.
func originOf(m syslog.Message, cred syslog.Cred) journal.Origin {
	o := journal.Origin{MsgID: m.MsgID, StructuredData: m.StructuredData}
	if cred.Addr.IsValid() {
		o.Address = cred.AddrText
		if o.Address == "" {
			o.Address = cred.Addr.String()
		}
		o.Hostname, o.Time = m.Hostname, m.Time
		if o.Hostname == "" {
			// As rsyslog does: a sender that names no host is its address.
			o.Hostname = o.Address
		}
	}
	return o
}
