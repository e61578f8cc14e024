package journal

import (
	"bytes"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Source describes the writer of a pipe: the unit and process whose
// output it carries and how to interpret its lines.
type Source struct {
	Unit       string
	PID, UID   int
	Stream     Stream // StreamStdout or StreamStderr
	Identifier string // SyslogIdentifier=
	Facility   int    // SyslogFacility= as a number (3 = daemon)
	Priority   int    // SyslogLevel= as a number (6 = info)
	// LevelPrefix honours a leading "<N>" (SyslogLevelPrefix=): it sets
	// the line's priority (and facility for N > 7) and is removed.
	LevelPrefix bool
}

// Pipe is a pipe whose read end the journal owns. Give W to the child (as
// its stdout or stderr) and close it in tend once the child started; the
// journal reads until every writer, grandchildren included, closed it.
type Pipe struct {
	// W is the write end, in blocking mode, for the child.
	W *os.File

	j    *Journal
	fd   int // read end, non-blocking, owned by the journal's ingest loop
	src  Source
	pid  atomic.Int64
	done chan struct{}
	in   *ingest
	// armed is set once the ingest loop polls the read end.
	armed atomic.Bool
	// held names the read end's duplicate in Options.Holder ("" none).
	held string

	// Owned by the ingest loop.
	lb      *lineBatcher
	pending []byte // the unterminated rest of the last read
	// sp is the pipe's spool (spool.go); nil reads with read(2), unless
	// lazy: then the first read makes it. ino is the pipe's inode.
	sp   *spool
	lazy bool
	ino  uint64
	// skip are the sequence numbers of the records the next reads
	// produce that a previous manager had committed already (a spool
	// taken back after a crash): they are not stored again.
	skip []uint64
}

// SetPID sets the PID recorded with the pipe's lines. A pipe made without
// a PID is read only from then on, so that a child quick to write does
// not have its first lines stored before its parent learnt its pid; what
// it writes meanwhile waits in the pipe. Call it also when the child
// could not be started (with 0), or the read end stays open. Called
// again, it names the next process that writes to the pipe (a service
// restarted with the same write ends): lines read from then on carry its
// pid.
func (p *Pipe) SetPID(pid int) {
	p.pid.Store(int64(pid))
	if p.sp != nil && !p.armed.Load() {
		// Before the loop reads: the spool names the pid its records
		// carry.
		p.sp.pid = pid
		_ = p.sp.mark()
	}
	if !p.armed.Swap(true) {
		p.in.arm(p)
	}
}

// Done is closed when the read end reached EOF (or the journal closed) and
// every line read was stored.
func (p *Pipe) Done() <-chan struct{} { return p.done }

// Pipe creates a pipe for src and hands its read end to the journal's
// ingest loop. A slow disk slows that loop, the pipe fills and the writer
// blocks: backpressure, no line dropped (unless rate limited).
func (j *Journal) Pipe(src Source) (*Pipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("journal: pipe for %s: %w", src.Unit, err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("journal: pipe for %s: %w", src.Unit, err)
	}
	growPipe(fds[1])
	p := &Pipe{
		W:    os.NewFile(uintptr(fds[1]), "journal-pipe-w|"+src.Unit),
		fd:   fds[0],
		j:    j,
		src:  src,
		done: make(chan struct{}),
		lb:   newLineBatcher(j, src),
	}
	p.pid.Store(int64(src.PID))
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.closed || j.closing {
		unix.Close(p.fd)
		p.W.Close()
		return nil, errClosed
	}
	if u := j.units[src.Unit]; u != nil {
		u.release = false // the unit runs again: keep its segment open
	}
	p.in = j.ingestLocked()
	p.armed.Store(src.PID != 0)
	p.hold() // before the loop may see EOF and release it
	p.spool(false, nil)
	if err := p.in.add(p, src.PID != 0); err != nil {
		p.release()
		unix.Close(p.fd)
		p.W.Close()
		return nil, fmt.Errorf("journal: pipe for %s: %w", src.Unit, err)
	}
	return p, nil
}

// lineBatcher turns pipe reads into records: complete lines, long lines
// cut at LineMax and marked partial, and, at EOF, the unterminated rest.
type lineBatcher struct {
	j     *Journal
	src   Source
	pid   uint32
	buf   []byte
	have  int // bytes in buf
	recs  []rec
	ident []byte // the identifier, converted once
	rl    rateLimit
	// final is set for the last reads of a closing journal.
	final bool
	// The run of lines being built: its index in recs (-1: none), its
	// offset in buf and where its ends start in ends, which holds the
	// line ends of every run of the read (lent by the loop, as buf and
	// recs are).
	run, runAt, runEnds int
	ends                []uint32
	// pending is the unterminated rest of the last read.
	pending []byte
}

// newLineBatcher returns a batcher without a buffer: the ingest loop lends
// it its one buffer for each read.
func newLineBatcher(j *Journal, src Source) *lineBatcher {
	return &lineBatcher{
		j: j, src: src,
		ident: []byte(src.Identifier[:min(len(src.Identifier), maxIdentLen)]),
		rl:    rateLimit{interval: j.opts.RateLimitInterval, burst: j.opts.RateLimitBurst},
	}
}

func (b *lineBatcher) free() []byte { return b.buf[b.have:] }

// filled takes n new bytes and cuts them into records; eof flushes the
// unterminated rest.
func (b *lineBatcher) filled(n int, eof bool) {
	b.have += n
	b.recs = b.recs[:0]
	// One reading of the clocks per read: its lines arrived together.
	now := b.j.opts.Clock().UnixNano()
	mono := int64(b.j.opts.Monotonic())
	tmpl := rec{
		rt: now, mono: mono, pid: b.pid, uid: uidField(b.src.UID),
		pri: uint8(min(max(b.src.Priority, 0), 7)), fac: uint8(min(max(b.src.Facility, 0), 23)),
		stream: uint8(min(b.src.Stream, StreamTend)), ident: b.ident,
	}
	data := b.buf[:b.have]
	at, lineMax := 0, b.j.opts.LineMax // at: offset of data in buf
	b.run, b.ends = -1, b.ends[:0]
	// Most lines are one more line of the read's run: no rate limit, no
	// level prefix. They only note their end here; the run's text and
	// ends are set once, before any other line and after the last.
	plain, prefix := b.rl.interval <= 0, b.src.LevelPrefix
	runTo := -1 // where the run's text ends, when lines were added here
lines:
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if plain && 0 <= i && i <= lineMax && b.run >= 0 && (!prefix || data[0] != '<') {
			b.ends = append(b.ends, uint32(at+i-b.runAt))
			data, at = data[i+1:], at+i+1
			runTo = at
			continue
		}
		if runTo >= 0 {
			b.extendRun(runTo)
			runTo = -1
		}
		n, next, end := i, i+1, uint32(0)
		switch {
		case i >= 0 && i <= lineMax:
		case len(data) >= lineMax:
			n, next, end = lineMax, lineMax, endCut
		case eof:
			n, next, end = len(data), len(data), endBare
		default:
			break lines // an unterminated line: wait for more
		}
		b.add(&tmpl, at, n, next, end)
		data, at = data[next:], at+next
		if b.run != len(b.recs)-1 {
			b.run = -1 // a record of its own ended the run
		}
	}
	if runTo >= 0 {
		b.extendRun(runTo)
	}
	if eof {
		b.rl.flush(b, now, mono)
	}
	b.pending = data
}

// flush commits the batch and moves the unterminated rest to the front.
func (b *lineBatcher) flush() error {
	mode := commitSealLater
	if b.final {
		mode |= commitForce
	}
	err := b.j.commitAs(b.src.Unit, b.recs, mode)
	// recs alias buf: move the rest only after the commit copied them.
	b.have = copy(b.buf, b.pending)
	b.pending = nil
	return err
}

// add takes the line of n bytes at buf[at:], the next one starting at
// at+next (after its newline, or right after it when end is endCut or
// endBare), from a read whose fields are tmpl's, applying the rate limit
// and the level prefix: as one more line of the read's current run of
// lines, or, when a "<N>" prefix gives it a priority of its own, as a
// record of its own.
func (b *lineBatcher) add(tmpl *rec, at, n, next int, end uint32) {
	if b.rl.interval > 0 && !b.rl.allow(b, tmpl.rt, tmpl.mono) {
		return
	}
	if b.src.LevelPrefix {
		if v, k := levelPrefix(b.buf[at : at+n]); k > 0 {
			r := *tmpl
			r.pri = uint8(v & 7)
			if v > 7 {
				r.fac = uint8(v >> 3)
			}
			r.msg = b.buf[at+k : at+n]
			if end == endCut {
				r.flags = flagPartial
			}
			b.recs = append(b.recs, r)
			return
		}
	}
	if b.run < 0 || b.run != len(b.recs)-1 {
		// A new run: the read's first line, or the first after a rate
		// limit's report.
		b.run, b.runAt, b.runEnds = len(b.recs), at, len(b.ends)
		b.recs = append(b.recs, *tmpl)
	}
	b.ends = append(b.ends, uint32(at+n-b.runAt)|end)
	r := &b.recs[b.run]
	r.msg, r.ends = b.buf[b.runAt:at+next], b.ends[b.runEnds:]
}

// extendRun sets the text and line ends of the current run, whose last
// line ends (newline included) at buf[to].
func (b *lineBatcher) extendRun(to int) {
	r := &b.recs[b.run]
	r.msg, r.ends = b.buf[b.runAt:to], b.ends[b.runEnds:]
}

// levelPrefix parses a leading "<N>" (N of one to three digits, at most
// 191) and returns N and the prefix length, or 0, 0.
func levelPrefix(line []byte) (int, int) {
	if len(line) < 3 || line[0] != '<' {
		return 0, 0
	}
	v := 0
	for i := 1; i < len(line) && i <= 4; i++ {
		c := line[i]
		if c == '>' && i > 1 {
			if v > 191 {
				return 0, 0
			}
			return v, i + 1
		}
		if c < '0' || c > '9' {
			return 0, 0
		}
		v = v*10 + int(c-'0')
	}
	return 0, 0
}

// rateLimit keeps at most burst lines per interval; interval 0 disables
// it. Windows advance with the lines themselves, so it needs no timer.
type rateLimit struct {
	interval   time.Duration
	burst      int
	start      int64
	count      int
	suppressed int
}

func (l *rateLimit) allow(b *lineBatcher, now, mono int64) bool {
	if l.interval <= 0 {
		return true
	}
	if time.Duration(mono-l.start) >= l.interval {
		l.flush(b, now, mono)
		l.start, l.count = mono, 0
	}
	l.count++
	if l.count > l.burst {
		l.suppressed++
		return false
	}
	return true
}

// flush records how many lines the last window dropped.
func (l *rateLimit) flush(b *lineBatcher, now, mono int64) {
	if l.suppressed == 0 {
		return
	}
	msg := fmt.Sprintf("Suppressed %d messages from %s", l.suppressed, b.src.Unit)
	b.recs = append(b.recs, rec{
		rt: now, mono: mono, pri: PriWarning, fac: 3, stream: uint8(StreamTend),
		ident: []byte("tend"), msg: []byte(msg),
	})
	l.suppressed = 0
}

// pipeSize is the capacity tend gives a service's output pipe: what the
// service may write while no reader runs (a re-exec, a restart after a
// crash) before it blocks — at 20,000 lines a second, seconds rather
// than the default 64 KiB's quarter of a second. Pages are taken only
// for bytes waiting in the pipe.
const pipeSize = 1 << 20

// growPipe raises a pipe's capacity to pipeSize, for root only: past
// the per-user soft limit of pipe pages (fs.pipe-user-pages-soft) the
// kernel gives every new pipe of that user one page, which large pipes
// of an unprivileged instance would reach soon. Best effort.
func growPipe(fd int) {
	if os.Geteuid() == 0 {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, pipeSize)
	}
}
