package journal

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var errClosed = errors.New("journal closed")

// unitLocked returns the unit's log, creating its record (not yet its
// directory) on first use.
func (j *Journal) unitLocked(name string) *unitLog {
	u := j.units[name]
	if u == nil {
		u = &unitLog{name: name, dir: filepath.Join(j.opts.Dir, escapeUnit(name))}
		j.units[name] = u
	}
	return u
}

// openSegmentLocked starts a new segment for u. Its name sorts by the next
// sequence number, then by creation time, so names never collide with
// segments of an earlier run.
func (j *Journal) openSegmentLocked(u *unitLog) error {
	// One mkdir, which fails for a directory that exists: a stat first
	// (and MkdirAll's own stats) cost three more calls per unit, at a
	// bring-up where every unit's first line makes its directory.
	switch err := unix.Mkdir(u.dir, 0o755); err {
	case nil:
		u.newDir = true
	case unix.EEXIST:
	default:
		if err := os.MkdirAll(u.dir, 0o755); err != nil { // the journal's own directory went
			return err
		}
		u.newDir = true
	}
	now := j.opts.Clock().UnixNano()
	path := filepath.Join(u.dir, fmt.Sprintf("%016x-%016x.seg", j.seq+1, uint64(now)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	hdr := appendSegHeader(nil, segHeader{boot: j.opts.BootID, unit: u.name, created: now})
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	u.f, u.wbAt = f, 0
	u.segs = append(u.segs, &segment{path: path, unit: u.name, boot: j.opts.BootID, hdrSize: int64(len(hdr)), size: int64(len(hdr))})
	return nil
}

// resumeLocked opens u's last segment, left by an earlier run, for
// appending. If it cannot be opened or does not end where its last
// intact record does, it is sealed instead and a new one takes the
// appends.
func (j *Journal) resumeLocked(u *unitLog) {
	u.resume = false
	s := u.segs[len(u.segs)-1]
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && st.Size() != s.size {
			err = fmt.Errorf("%d bytes, %d of them read back", st.Size(), s.size)
		}
		if err == nil {
			u.f, u.wbAt = f, s.size // what it holds is the sync timer's
			return
		}
		f.Close()
	}
	j.log.Warn("journal: cannot resume segment; sealing it", "file", s.path, "err", err)
	j.sealLaterLocked(&rotation{u: u, s: s})
}

// rotation is a segment detached from its writer, to be sealed outside
// the lock; f is nil for a released segment (release.go).
type rotation struct {
	u *unitLog
	s *segment
	f *os.File
}

// commit appends recs to unit's active segment with one write(2). It fills
// in their sequence numbers, offsets and sizes. Records it cannot store
// are counted against unit and reported once writes work again.
func (j *Journal) commit(unit string, recs []rec) error { return j.commitAs(unit, recs, 0) }

// commitMode says how a commit goes.
type commitMode uint8

const (
	// commitForce also writes while the journal closes (the pipes' last
	// reads), and without waiting for a retry.
	commitForce commitMode = 1 << iota
	// commitSealLater hands a segment the commit filled to the sealer
	// goroutine instead of sealing it before returning. The pipe reader
	// commits so: the fsync of a full segment (~30 ms for its last
	// megabytes on a virtual disk) held up every pipe, and its writers,
	// at each rotation. Until sealed, the segment is as durable as the
	// active one's unsynced lines.
	commitSealLater
)

// commitAs is commit, as mode says.
func (j *Journal) commitAs(unit string, recs []rec, mode commitMode) error {
	if len(recs) == 0 {
		return nil
	}
	if err := j.tryCommit(unit, recs, mode); err != nil {
		return j.noteLost(unit, entries(recs), err)
	}
	if j.unreported.Load() {
		j.reportLost(false)
	}
	return nil
}

// tryCommit stores recs, or fails without counting them. While writes are
// failing it tries only when the next retry is due (force: always), so a
// full disk costs one attempt per retry, not one per batch.
func (j *Journal) tryCommit(unit string, recs []rec, mode commitMode) error {
	force := mode&commitForce != 0
	j.wmu.Lock()
	if !force && j.backoff > 0 && time.Now().Before(j.retryAt) {
		j.wmu.Unlock()
		return errBackoff
	}
	unit = j.storeLocked(unit, recs)
	rot, err := j.commitLocked(unit, recs, force)
	j.wmu.Unlock()
	if isNoSpace(err) {
		// Make room by the retention rules, then try once more.
		j.vacuum(-1, 0)
		j.wmu.Lock()
		rot, err = j.commitLocked(unit, recs, force)
		j.wmu.Unlock()
	}
	if rot != nil && mode&commitSealLater == 0 {
		j.seal(rot)
		j.enforceRetention()
	}
	j.wmu.Lock()
	if rot != nil && mode&commitSealLater != 0 {
		j.sealLaterLocked(rot)
	}
	recovered := err == nil && j.backoff > 0
	switch {
	case err == nil:
		j.backoff = 0
	case !errors.Is(err, errClosed):
		j.backOffLocked()
	}
	in := j.in
	j.wmu.Unlock()
	if err != nil {
		return err
	}
	j.notify()
	if recovered && in != nil {
		in.wakeUp() // it may be waiting for a retry that is no longer needed
	}
	return nil
}

// Retry delays while writes fail: doubling from the first to the last.
const (
	firstRetry = 10 * time.Millisecond
	lastRetry  = 5 * time.Second
)

// errBackoff is what a commit returns, without trying, while writes fail
// and the next retry is not due.
var errBackoff = errors.New("journal: writes are failing; waiting to retry")

// backOffLocked schedules the next try after a failed write.
func (j *Journal) backOffLocked() {
	j.backoff = min(max(2*j.backoff, firstRetry), lastRetry)
	j.retryAt = time.Now().Add(j.backoff)
	j.armRetryLocked()
}

// armRetryLocked starts the retry timer while lines wait to be reported
// lost: it tries to write the reports when the next retry is due, so they
// appear as soon as the disk has room even if nothing else is logged.
// The timer exists only while writes fail and something was lost.
func (j *Journal) armRetryLocked() {
	if j.closed || j.retryTimer != nil || j.backoff == 0 || len(j.lost) == 0 {
		return
	}
	j.timerWG.Add(1)
	j.retryTimer = time.AfterFunc(time.Until(j.retryAt), func() {
		defer j.timerWG.Done()
		j.wmu.Lock()
		j.retryTimer = nil
		j.wmu.Unlock()
		j.reportLost(false)
		j.wmu.Lock()
		j.armRetryLocked()
		j.wmu.Unlock()
	})
}

// retryIn returns how long until the next write is tried, or 0 when
// writes work.
func (j *Journal) retryIn() time.Duration {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.backoff == 0 {
		return 0
	}
	return max(time.Until(j.retryAt), 0)
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// commitLocked writes recs; final allows the last loss reports of Close.
func (j *Journal) commitLocked(unit string, recs []rec, final bool) (*rotation, error) {
	if j.closed && !final {
		return nil, errClosed
	}
	u := j.unitLocked(unit)
	if u.f == nil && u.resume {
		j.resumeLocked(u)
	}
	if u.f == nil {
		if err := j.openSegmentLocked(u); err != nil {
			return nil, fmt.Errorf("journal: unit %q: new segment: %w", unit, err)
		}
	}
	s := u.segs[len(u.segs)-1]
	buf, pieces, frames, n, crit := j.encodeLocked(recs, s.size)
	if j.beforeWrite != nil {
		j.beforeWrite()
	}
	if err := j.writePieces(u.f, buf, pieces); err != nil {
		// Drop a partial write so the segment never holds a torn record
		// in its middle; later appends go after the last intact one.
		u.f.Truncate(s.size)
		return nil, fmt.Errorf("journal: unit %q: write %s: %w", unit, s.path, err)
	}
	if cap(buf) <= 4<<20 {
		j.scratch = buf
	} else {
		j.scratch = nil // bound memory after a burst of huge lines
	}
	for i := range frames {
		s.noteFrame(&frames[i])
	}
	j.seq += uint64(n)
	j.committed.Store(j.seq)
	if len(j.taps) > 0 {
		// The taps copy what they keep: buf itself when it holds every
		// frame (records each whole in it, as syslog's are), else one
		// piece joined from buf and the batches' text.
		data := buf
		if !textless(pieces) {
			j.tapBuf = joinPieces(j.tapBuf[:0], buf, pieces)
			data = j.tapBuf
		}
		j.tellTapsLocked(unit, data)
		if cap(j.tapBuf) > 4<<20 {
			j.tapBuf = nil
		}
	}
	if crit {
		// Like journald, messages of priority crit and above reach the
		// disk before the call returns.
		u.f.Sync()
	} else {
		u.dirty = true
		j.armSyncLocked()
		u.writeBack(s.size)
	}
	if s.size < j.opts.MaxFileSize {
		return nil, nil
	}
	rot := &rotation{u: u, s: s, f: u.f}
	u.f = nil
	return rot, nil
}

// frameNote is what the index learns of one frame written.
type frameNote struct {
	off, size      int64
	firstSeq, last uint64
	rt             int64
}

// piece is a part of a commit's write(2): scratch bytes, then text that
// stays where it is (a pipe read's lines, straight from the read buffer).
type piece struct {
	from, to int // of the scratch buffer
	text     []byte
}

// encodeLocked numbers recs from the journal's next sequence number and
// encodes them, at file offset base, into the scratch buffer and pieces
// of a write: a run of lines as batch frames of at most maxBatch bytes
// of text each (their heads in scratch, their text where it is), other
// records one frame each. It returns the frames for the index, how many
// entries recs hold, and whether one is of priority crit or above.
func (j *Journal) encodeLocked(recs []rec, base int64) ([]byte, []piece, []frameNote, int, bool) {
	buf, pieces, frames := j.scratch[:0], j.pieces[:0], j.frames[:0]
	crit := false
	next := j.seq + 1
	for i := range recs {
		recs[i].seq = next
		next += uint64(recs[i].count())
		crit = crit || recs[i].pri <= PriCrit
	}
	at, off := 0, base // at: scratch bytes not yet in a piece
	for i := range recs {
		r := &recs[i]
		if r.ends == nil {
			start := len(buf)
			buf = appendRecord(buf, r)
			frames = append(frames, frameNote{off: off, size: int64(len(buf) - start), firstSeq: r.seq, last: r.seq, rt: r.rt})
			off += int64(len(buf) - start)
			continue
		}
		if len(r.ext) > 0 {
			// Lines of a unit in a shared stream carry its name (an
			// ext block), which batch frames do not: a record each.
			buf, off, frames = appendRunRecords(buf, r, off, frames)
			continue
		}
		var from uint32
		for l := 0; l < len(r.ends); {
			h, textAt, size := *r, from, 0
			h.seq = r.seq + uint64(l)
			cuts := j.cuts[:0]
			for first := l; l < len(r.ends) && (l == first || size+int(r.ends[l]&endMask-from) <= maxBatch); l++ {
				line, flags, nx := r.runLine(l, from)
				if flags != 0 {
					c := uint64(r.ends[l]&endMask-textAt) << 1
					if flags&endCut != 0 {
						c |= 1
					}
					cuts = append(cuts, c)
				}
				size += len(line)
				from = nx
			}
			j.cuts = cuts
			text := r.msg[textAt:from]
			start := len(buf)
			buf = appendBatchHead(buf, &h, cuts)
			sealHead(buf[start:], text)
			pieces = append(pieces, piece{from: at, to: len(buf), text: text})
			at = len(buf)
			size64 := int64(len(buf) - start + len(text))
			frames = append(frames, frameNote{off: off, size: size64, firstSeq: h.seq, last: r.seq + uint64(l) - 1, rt: r.rt})
			off += size64
		}
	}
	if at < len(buf) {
		pieces = append(pieces, piece{from: at, to: len(buf)})
	}
	j.pieces, j.frames = pieces, frames
	return buf, pieces, frames, int(next - j.seq - 1), crit
}

// appendRunRecords encodes the run r as one record per line at file
// offset off, noting their frames.
func appendRunRecords(buf []byte, r *rec, off int64, frames []frameNote) ([]byte, int64, []frameNote) {
	var from uint32
	for l := range r.ends {
		line, flags, next := r.runLine(l, from)
		from = next
		one := *r
		one.ends, one.msg, one.seq, one.flags = nil, line, r.seq+uint64(l), 0
		if flags&endCut != 0 {
			one.flags = flagPartial
		}
		start := len(buf)
		buf = appendRecord(buf, &one)
		frames = append(frames, frameNote{off: off, size: int64(len(buf) - start), firstSeq: one.seq, last: one.seq, rt: r.rt})
		off += int64(len(buf) - start)
	}
	return buf, off, frames
}

// textless reports whether pieces are all scratch bytes: then the
// scratch buffer holds the write whole, in order.
func textless(pieces []piece) bool {
	for _, p := range pieces {
		if len(p.text) > 0 {
			return false
		}
	}
	return true
}

// joinPieces appends buf's pieces, as they are written, to dst.
func joinPieces(dst, buf []byte, pieces []piece) []byte {
	for _, p := range pieces {
		dst = append(append(dst, buf[p.from:p.to]...), p.text...)
	}
	return dst
}

// writePieces writes buf's pieces with writev(2), all of them or an
// error.
func (j *Journal) writePieces(f *os.File, buf []byte, pieces []piece) error {
	iov := j.iov[:0]
	for _, p := range pieces {
		if p.to > p.from {
			iov = append(iov, buf[p.from:p.to])
		}
		if len(p.text) > 0 {
			iov = append(iov, p.text)
		}
	}
	j.iov = iov[:0]
	fd := int(f.Fd())
	for len(iov) > 0 {
		n, err := unix.Writev(fd, iov[:min(len(iov), 1024)]) // IOV_MAX
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		for n > 0 {
			if n < len(iov[0]) {
				iov[0] = iov[0][n:]
				break
			}
			n -= len(iov[0])
			iov = iov[1:]
		}
	}
	return nil
}

// writebackEvery is how many bytes of a segment are written before
// their writeback is started (see writeBack).
const writebackEvery = 1 << 20

// writeBack starts the disk writes of the active segment's bytes before
// size, once writebackEvery of them are unstarted, without waiting for
// them: a busy unit's data goes to the disk while it keeps writing, so
// the fsync that seals a full segment (on the pipe reader's goroutine)
// waits for its last megabyte, not for 32 MiB (20-45 ms each on a
// virtual disk, 6 of them in logs.py's 200 MB). Best effort: the
// fsyncs still make the data durable.
func (u *unitLog) writeBack(size int64) {
	end := size &^ (4096 - 1) // whole pages: the last one is still being filled
	if end-u.wbAt < writebackEvery {
		return
	}
	_ = unix.SyncFileRange(int(u.f.Fd()), u.wbAt, end-u.wbAt, unix.SYNC_FILE_RANGE_WRITE)
	u.wbAt = end
}

// seal makes a detached segment durable and indexes it: fsync the data,
// write the index, fsync the directory. Then queries and retention may
// treat it as immutable.
func (j *Journal) seal(r *rotation) {
	err := r.reopen()
	if err == nil {
		err = r.f.Sync()
		if cerr := r.f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = writeIndex(r.s)
	}
	if err == nil {
		err = syncDir(r.u.dir)
	}
	if err != nil {
		j.log.Error("journal: cannot seal segment", "file", r.s.path, "err", err)
	}
	j.wmu.Lock()
	r.s.sealed = true
	j.wmu.Unlock()
}

// sealLocked seals u's active segment in place (used by Close).
func (u *unitLog) sealLocked() error {
	if u.f == nil && u.resume {
		// Left by an earlier run and not written since: sealed through
		// a descriptor of its own.
		u.resume = false
		f, err := os.Open(u.segs[len(u.segs)-1].path)
		if err != nil {
			return err
		}
		u.f = f
	}
	if u.f == nil {
		return nil
	}
	s := u.segs[len(u.segs)-1]
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	u.f = nil
	if err == nil {
		err = writeIndex(s)
	}
	if err == nil {
		err = syncDir(u.dir)
	}
	if err == nil {
		err = syncDir(filepath.Dir(u.dir))
	}
	s.sealed = true
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// armSyncLocked starts the sync timer unless it is already running. The
// timer exists only while something is unsynced: an idle journal does not
// wake up.
func (j *Journal) armSyncLocked() {
	if j.syncTimer != nil {
		return
	}
	j.timerWG.Add(1)
	j.syncTimer = time.AfterFunc(j.opts.SyncInterval, func() {
		defer j.timerWG.Done()
		j.syncDirty()
	})
}

// syncDirty fsyncs every unit written since the last sync (or, for a
// segment resumed from an earlier run and not written since, since the
// journal was opened), and the directories that gained entries. The fsyncs run outside the write lock,
// on duplicates of the descriptors (a rotation may close the originals
// meanwhile), so ingestion never waits for the disk flush.
func (j *Journal) syncDirty() {
	j.wmu.Lock()
	var fds []int
	var dirs, resumed []string
	newEntries := false // in the journal's directory: synced once, not per new unit
	for _, u := range j.units {
		if u.dirty && u.f != nil {
			if fd, err := unix.Dup(int(u.f.Fd())); err == nil {
				fds = append(fds, fd)
			}
		} else if u.dirty && u.resume {
			resumed = append(resumed, u.segs[len(u.segs)-1].path)
		}
		if u.newDir {
			dirs = append(dirs, u.dir)
			newEntries = true
		}
		u.dirty, u.newDir = false, false
	}
	if newEntries {
		dirs = append(dirs, j.opts.Dir)
	}
	j.syncTimer = nil
	j.wmu.Unlock()
	for _, p := range resumed {
		if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	for _, fd := range fds {
		if err := unix.Fsync(fd); err != nil {
			j.log.Error("journal: fsync", "err", err)
		}
		unix.Close(fd)
	}
	for _, d := range dirs {
		syncDir(d)
	}
}

// noteLost counts lines a write error cost their unit and says so once
// per episode.
func (j *Journal) noteLost(unit string, n int, err error) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if errors.Is(err, errClosed) {
		return err
	}
	if j.lostErr == nil {
		j.log.Error("journal: cannot store log lines; dropping them until writes succeed", "unit", unit, "err", err)
	}
	if j.lost == nil {
		j.lost = map[string]int64{}
	}
	j.lost[unit] += int64(n)
	j.unreported.Store(true)
	if !errors.Is(err, errBackoff) {
		j.lostErr = err
	}
	j.armRetryLocked()
	return err
}

// reportLost appends to each unit that lost lines an entry saying how
// many and why. A count is reduced only by a report that was stored: a
// report that fails leaves it for the next try, so the reports add up to
// exactly the lines lost. force is Close's last try, made even while
// backing off.
func (j *Journal) reportLost(force bool) {
	j.repMu.Lock()
	defer j.repMu.Unlock()
	j.wmu.Lock()
	counts := maps.Clone(j.lost)
	cause := j.lostErr
	j.wmu.Unlock()
	for _, unit := range slices.Sorted(maps.Keys(counts)) {
		n := counts[unit]
		msg := fmt.Sprintf("journal: %d log lines were lost: %v", n, cause)
		r := rec{
			rt: j.opts.Clock().UnixNano(), mono: int64(j.opts.Monotonic()), uid: uidUnknown,
			pri: PriWarning, fac: 3, stream: uint8(StreamTend), ident: []byte("tend"), msg: []byte(msg),
		}
		mode := commitMode(0)
		if force {
			mode = commitForce
		}
		if err := j.tryCommit(unit, []rec{r}, mode); err != nil {
			return
		}
		j.log.Warn(msg, "unit", unit)
		j.wmu.Lock()
		if j.lost[unit] -= n; j.lost[unit] == 0 {
			delete(j.lost, unit)
		}
		if len(j.lost) == 0 {
			j.lostErr = nil
			j.unreported.Store(false)
		}
		j.wmu.Unlock()
	}
}

// Append stores one entry (tend's own events, syslog messages). Seq,
// BootID and, when zero, Realtime and Monotonic are set by the journal.
// Messages longer than LineMax are split into Partial entries.
func (j *Journal) Append(e Entry) error {
	return j.commit(e.Unit, j.records(nil, e, nil))
}

// AppendBatch stores entries in order as Append does, with one write per
// run of entries of the same unit: what a receiver that reads many
// messages at once saves over one Append each.
func (j *Journal) AppendBatch(es []Entry) error {
	// A receiver's batches come one after another: their records and
	// arena are reused, not made (and zeroed, and collected) per batch.
	bb, _ := j.batchBufs.Get().(*batchBuf)
	if bb == nil {
		bb = &batchBuf{}
	}
	defer j.batchBufs.Put(bb)
	recs := bb.recs[:0]
	// The records' identifiers and ext blocks, in one buffer for the
	// batch: the records alias it until they are written. Sized for a
	// syslog sender's (identifier, host, address, time) so that it
	// rarely grows.
	arena := bb.arena[:0]
	if want := min(len(es), 1024) * 64; cap(arena) < want {
		arena = make([]byte, 0, want)
	}
	used := 0 // the most records a run held: what keep clears
	defer func() { bb.keep(recs[:used], arena) }()
	var first error
	// One reading of the clocks for the batch: it arrived at once.
	var rt time.Time
	var mono time.Duration
	// Each entry by pointer: a copy of the ~270-byte Entry per message
	// showed in a syslog flood's profile.
	for i := range es {
		e := &es[i]
		if (e.Realtime.IsZero() || e.Monotonic == 0) && rt.IsZero() {
			rt, mono = j.opts.Clock(), j.opts.Monotonic()
		}
		recs = j.recordsAt(recs, e, rt, mono, &arena)
		if i+1 == len(es) || es[i+1].Unit != e.Unit {
			if err := j.commit(e.Unit, recs); err != nil && first == nil {
				first = err
			}
			used = max(used, len(recs))
			recs = recs[:0]
		}
	}
	return first
}

// batchBuf is AppendBatch's reusable memory.
type batchBuf struct {
	recs  []rec
	arena []byte
}

// maxBatchBuf bounds the arena kept after a batch of huge identifiers
// or origins.
const maxBatchBuf = 1 << 20

// keep takes back a batch's records and arena. The records used are
// cleared so that a pooled buffer does not hold the batch's messages
// alive (only those: a small batch in a big buffer clears little).
func (bb *batchBuf) keep(recs []rec, arena []byte) {
	clear(recs)
	bb.recs = recs[:0]
	bb.arena = nil
	if cap(arena) <= maxBatchBuf {
		bb.arena = arena[:0]
	}
}

// records appends e's records (more than one when it is split at LineMax)
// to dst. With an arena the identifier and ext block are copied into it,
// else allocated.
func (j *Journal) records(dst []rec, e Entry, arena *[]byte) []rec {
	var rt time.Time
	var mono time.Duration
	if e.Realtime.IsZero() {
		rt = j.opts.Clock()
	}
	if e.Monotonic == 0 {
		mono = j.opts.Monotonic()
	}
	return j.recordsAt(dst, &e, rt, mono, arena)
}

// recordsAt is records with the clock readings for an entry that has
// none of its own.
func (j *Journal) recordsAt(dst []rec, e *Entry, rt time.Time, mono time.Duration, arena *[]byte) []rec {
	if !e.Realtime.IsZero() {
		rt = e.Realtime
	}
	if e.Monotonic != 0 {
		mono = e.Monotonic
	}
	base := rec{
		rt:     rt.UnixNano(),
		mono:   int64(mono),
		pid:    uint32(max(e.PID, 0)),
		uid:    uidField(e.UID),
		pri:    uint8(min(max(e.Priority, 0), 7)),
		fac:    uint8(min(max(e.Facility, 0), 23)),
		stream: uint8(min(e.Stream, streamLast)),
	}
	ident := e.Identifier[:min(len(e.Identifier), maxIdentLen)]
	if arena == nil {
		base.ident, base.ext = []byte(ident), e.Origin.encode()
	} else {
		// Earlier records keep pointing into the old array if append
		// moves the arena; only their own bytes are read.
		a := *arena
		n := len(a)
		a = append(a, ident...)
		m := len(a)
		a = e.Origin.appendTo(a)
		base.ident, base.ext = a[n:m:m], a[m:len(a):len(a)]
		*arena = a
	}
	msg := e.Message
	for {
		r := base
		r.msg = msg[:min(len(msg), j.opts.LineMax)]
		msg = msg[len(r.msg):]
		if len(msg) > 0 || e.Partial {
			r.flags = flagPartial
		}
		dst = append(dst, r)
		if len(msg) == 0 {
			return dst
		}
	}
}

func uidField(uid int) uint32 {
	if uid < 0 || uid > 1<<32-2 {
		return uidUnknown
	}
	return uint32(uid)
}
