package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The spool closes the last window of a crash (docs/design.md, "Crash
// and re-exec"). Read with read(2), bytes leave the pipe for tend's
// memory; a kill before they are committed loses them. With a spool, the
// ingest loop never reads the service's pipe S itself: it duplicates
// S's head into a private pipe with tee(2) (page references, no copy),
// moves the same bytes from S into a spool pipe X with splice(2) (page
// references again), and reads the duplicate. X is a FIFO in the spool
// directory that the fd holder keeps open, so every byte is at each
// instant in S or in X, both outliving tend, and a manager taking the
// pipe back opens X by its path. X's bytes are copied once, by the read,
// as without a spool.
//
// What is committed is known from the journal itself and from a small
// header file next to X: it holds a sequence number E such that the
// lines at X's head are the pipe's records after E (same unit, pid and
// stream), in order. A manager taking the pipe back replays X from its
// head and skips as many records as the journal has of that pipe after
// E: those were committed before the kill — even by a write(2) the kill
// cut short — and the rest were not. X is emptied of committed bytes
// (spliced to /dev/null) when it runs short of room, when its writer
// changes, or once spoolMarkEvery committed bytes wait in it and the
// pipe ran dry; around that, the header says "drain X down to K bytes"
// (K: the unterminated line read, not committed), which a manager taking
// over after a kill finishes — it cannot be done twice, as nothing is
// added to X until the header says so again. So a burst pays two header
// writes and a splice per X's capacity, and a pipe at rest costs at most
// spoolMarkEvery bytes beyond its unterminated line.

// spoolMarkEvery is how many committed bytes a spool keeps, once its
// pipe ran dry, before it is emptied of them.
const spoolMarkEvery = 64 << 10

// spoolPipeSize is X's capacity (root only, as growPipe): room for two
// of its service pipe's fill between two drains.
const spoolPipeSize = 2 * pipeSize

const spoolMagic = "TNDSPL02"

// spoolHeldPrefix begins the holder names of spool pipes:
// "journal-spool:INODE", the inode of the service's pipe.
const spoolHeldPrefix = "journal-spool:"

// spool is one pipe's spool; owned by the ingest loop once the pipe is
// polled.
type spool struct {
	f         *os.File // the header
	x         *os.File // the spool pipe, opened for reading and writing
	xcap      int64
	io        *spoolIO
	end       int64  // bytes in x
	read      int64  // bytes of those given to the line batcher
	committed int64  // bytes at x's head of lines committed (or dropped by policy)
	back      []byte // x's bytes from read on, taken back from a previous manager
	lastSeq   uint64 // last sequence number committed from the pipe
	dry       bool   // the last fill emptied the pipe (took less than asked)
	short     bool   // x took less than the tee gave: empty it first
	pid       int
	stream    Stream
}

// spoolIO is what the ingest loop's spools share: the pipe S's head is
// duplicated into (r, w) and /dev/null, where committed bytes go.
type spoolIO struct {
	r, w, null int
}

func newSpoolIO() (*spoolIO, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, ingestBufSize)
	}
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, err
	}
	return &spoolIO{r: p[0], w: p[1], null: null}, nil
}

func (sio *spoolIO) close() {
	unix.Close(sio.r)
	unix.Close(sio.w)
	unix.Close(sio.null)
}

// spoolHeader is the header's content.
type spoolHeader struct {
	drain   bool  // x is to be drained down to keep bytes
	keep    int64 // with drain: the bytes at x's tail not committed
	lastSeq uint64
	pid     uint32
	stream  uint8
}

func (h spoolHeader) encode() []byte {
	b := []byte(spoolMagic)
	d := byte(0)
	if h.drain {
		d = 1
	}
	b = append(b, d)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.keep))
	b = binary.LittleEndian.AppendUint64(b, h.lastSeq)
	b = binary.LittleEndian.AppendUint32(b, h.pid)
	b = append(b, h.stream)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

const spoolHeaderLen = len(spoolMagic) + 1 + 8 + 8 + 4 + 1 + 4

var errSpoolHeader = errors.New("bad spool header")

func decodeSpoolHeader(b []byte) (spoolHeader, error) {
	if len(b) < spoolHeaderLen || string(b[:len(spoolMagic)]) != spoolMagic {
		return spoolHeader{}, errSpoolHeader
	}
	n := spoolHeaderLen - 4
	if crc32.Checksum(b[:n], castagnoli) != binary.LittleEndian.Uint32(b[n:]) {
		return spoolHeader{}, errSpoolHeader
	}
	p := b[len(spoolMagic):]
	h := spoolHeader{
		drain:   p[0] == 1,
		keep:    int64(binary.LittleEndian.Uint64(p[1:])),
		lastSeq: binary.LittleEndian.Uint64(p[9:]),
		pid:     binary.LittleEndian.Uint32(p[17:]),
		stream:  p[21],
	}
	if p[0] > 1 || h.keep < 0 {
		return spoolHeader{}, errSpoolHeader
	}
	return h, nil
}

// spoolPath is the header file of the spool of the pipe with inode ino;
// its spool pipe is spoolPath + ".fifo".
func (j *Journal) spoolPath(ino uint64) string {
	return filepath.Join(j.opts.SpoolDir, strconv.FormatUint(ino, 10))
}

// openSpoolPipe opens (with create, making) the FIFO of the spool at
// path, for reading and writing, without blocking.
func openSpoolPipe(path string, create bool) (*os.File, int64, error) {
	fifo := path + ".fifo"
	if create {
		_ = os.Remove(fifo) // a stale one of a pipe with the same inode
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			return nil, 0, err
		}
	}
	fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s: not a FIFO", fifo)
	}
	if create && os.Geteuid() == 0 {
		// Beyond fs.pipe-max-size (1 MiB by default) only with
		// CAP_SYS_RESOURCE, which root in a container may lack: then
		// the largest size allowed. Left at 64 KiB, X would cap every
		// read at 64 KiB and be drained, two header writes, at each.
		for sz := spoolPipeSize; sz > 64<<10; sz /= 2 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, sz); err == nil {
				break
			}
		}
	}
	c, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), fifo), int64(c), nil
}

// newSpool creates the spool of a new pipe (replacing stale files of a
// pipe that had the same inode), holding pending. Every record of the
// pipe will have a sequence number above the journal's current one.
func (j *Journal) newSpool(sio *spoolIO, ino uint64, pid int, stream Stream, pending []byte) (*spool, error) {
	if err := os.MkdirAll(j.opts.SpoolDir, 0o700); err != nil {
		return nil, err
	}
	path := j.spoolPath(ino)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	x, xcap, err := openSpoolPipe(path, true)
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	s := &spool{f: f, x: x, xcap: xcap, io: sio, lastSeq: j.committed.Load(), pid: pid, stream: stream}
	// Held before a byte is moved into it: X's bytes are nowhere else.
	j.opts.Holder.Hold(spoolHeldName(ino), int(x.Fd()))
	if w, ok := j.opts.Holder.(interface{ Wait() }); ok {
		w.Wait()
	}
	if err := s.mark(); err != nil {
		s.remove(j.opts.Holder)
		return nil, err
	}
	if len(pending) > 0 {
		if err := s.put(pending); err != nil {
			s.remove(j.opts.Holder)
			return nil, err
		}
	}
	return s, nil
}

func spoolHeldName(ino uint64) string { return spoolHeldPrefix + strconv.FormatUint(ino, 10) }

// put writes b (bytes already read, not committed) into x.
func (s *spool) put(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(int(s.x.Fd()), b)
		if err != nil {
			return fmt.Errorf("spool %s: %w", s.x.Name(), err)
		}
		b = b[n:]
		s.end += int64(n)
	}
	return nil
}

// takeSpool opens the spool a previous manager left for the pipe with
// inode ino, when adopting a pipe, and takes its uncommitted bytes back;
// nil if there is none or it cannot be trusted. pending is what the
// previous manager handed over as read and not committed (a re-exec):
// the same bytes as X's, unless X was lost with the holder.
func (j *Journal) takeSpool(sio *spoolIO, ino uint64, pending []byte) *spool {
	path := j.spoolPath(ino)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	hb := make([]byte, spoolHeaderLen)
	_, rerr := f.ReadAt(hb, 0)
	h, herr := decodeSpoolHeader(hb)
	x, xcap, xerr := openSpoolPipe(path, false)
	err = errors.Join(rerr, herr, xerr)
	var s *spool
	if err == nil {
		s = &spool{f: f, x: x, xcap: xcap, io: sio, lastSeq: h.lastSeq, pid: int(h.pid), stream: Stream(h.stream)}
		err = s.takeBack(h, pending)
	}
	if err != nil {
		j.log.Warn("journal: spool of a kept pipe unusable; its pipe is read from where it is", "spool", path, "err", err)
		if x != nil {
			x.Close()
		}
		f.Close()
		return nil
	}
	return s
}

// takeBack finishes a drain the header announced and reads what x
// holds, leaving it there until committed.
func (s *spool) takeBack(h spoolHeader, pending []byte) error {
	have, err := unix.IoctlGetInt(int(s.x.Fd()), unix.TIOCINQ)
	if err != nil {
		return err
	}
	if h.drain {
		if int64(have) < h.keep {
			return fmt.Errorf("%d bytes spooled, %d to keep", have, h.keep)
		}
		if err := s.drop(int64(have) - h.keep); err != nil {
			return err
		}
		have = int(h.keep)
	}
	s.end = int64(have)
	if err := s.mark(); err != nil {
		return err
	}
	if have == 0 {
		// X was lost (its holder too): what the previous manager
		// handed over is all there is.
		s.back = bytes.Clone(pending)
		return s.put(pending)
	}
	// A duplicate of x's bytes, read without taking them out of x.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, int(s.xcap))
	if n, err := unix.Tee(int(s.x.Fd()), p[1], have, unix.SPLICE_F_NONBLOCK); err != nil || n != int64(have) {
		return fmt.Errorf("duplicating %d spooled bytes: %d, %v", have, n, err)
	}
	s.back = make([]byte, have)
	return readFull(p[0], s.back)
}

// readFull reads len(b) bytes from the pipe fd, which holds them.
func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		b = b[n:]
	}
	return nil
}

// backlog reports whether the spool holds bytes not yet given to the
// line batcher (taken back from a previous manager).
func (s *spool) backlog() bool { return len(s.back) > 0 }

// fill gives dst what the spool took back and was not read yet, or else
// moves what the pipe fd holds into x and a copy of it into dst. 0 bytes
// and a nil error is the pipe's end.
func (s *spool) fill(fd int, dst []byte) (int, error) {
	if s.backlog() {
		n := copy(dst, s.back)
		s.back = s.back[n:]
		if len(s.back) == 0 {
			s.back = nil
		}
		s.read += int64(n)
		return n, nil
	}
	if s.committed > 0 && (s.short || s.end+int64(len(dst)) > s.xcap) {
		if err := s.mark(); err != nil {
			return 0, err
		}
	}
	want := int(min(int64(len(dst)), s.xcap-s.end))
	if want <= 0 {
		want = len(dst) // x's fill is not all committed: let it say what fits
	}
	n, err := unix.Tee(fd, s.io.w, want, unix.SPLICE_F_NONBLOCK)
	if n <= 0 {
		s.dry = true
		return 0, err
	}
	k, serr := unix.Splice(fd, nil, int(s.x.Fd()), nil, int(n), unix.SPLICE_F_NONBLOCK)
	if err := readFull(s.io.r, dst[:n]); err != nil {
		return 0, fmt.Errorf("spool: reading the duplicate: %w", err)
	}
	if serr != nil && !errors.Is(serr, unix.EAGAIN) {
		return 0, fmt.Errorf("spool %s: %w", s.x.Name(), serr)
	}
	k = max(k, 0)
	s.short = k < n
	if k == 0 {
		return 0, unix.EAGAIN
	}
	s.end += k
	s.read += k
	s.dry = k < int64(want)
	return int(k), nil
}

// done notes that every byte of x before committed is in the journal,
// with sequence numbers up to seq (0: none new), and empties x of them
// once spoolMarkEvery bytes wait and the pipe ran dry.
func (s *spool) done(committed int64, seq uint64) {
	s.committed = committed
	if seq > 0 {
		s.lastSeq = seq
	}
	if s.committed >= spoolMarkEvery && (s.dry || s.backlog()) {
		_ = s.mark()
	}
}

// mark empties x of its committed bytes and writes the header: first
// "drain down to what is not committed", then the drain, then "X's head
// is the first line after lastSeq". A kill between the two writes
// leaves the drain to the next manager, which can tell how far it got.
func (s *spool) mark() error {
	h := spoolHeader{lastSeq: s.lastSeq, pid: uint32(max(s.pid, 0)), stream: uint8(s.stream)}
	if s.committed > 0 {
		h.drain, h.keep = true, s.end-s.committed
		if _, err := s.f.WriteAt(h.encode(), 0); err != nil {
			return err
		}
		if err := s.drop(s.committed); err != nil {
			return err
		}
		s.end -= s.committed
		s.read -= s.committed
		s.committed = 0
		h.drain, h.keep = false, 0
	}
	s.short = false
	_, err := s.f.WriteAt(h.encode(), 0)
	return err
}

// drop takes n bytes from x's head to /dev/null.
func (s *spool) drop(n int64) error {
	for n > 0 {
		k, err := unix.Splice(int(s.x.Fd()), nil, s.io.null, nil, int(n), unix.SPLICE_F_NONBLOCK)
		if err != nil {
			return fmt.Errorf("spool %s: draining: %w", s.x.Name(), err)
		}
		if k == 0 {
			return fmt.Errorf("spool %s: %d bytes missing", s.x.Name(), n)
		}
		n -= k
	}
	return nil
}

// remove deletes the spool's files and tells h to drop its pipe.
func (s *spool) remove(h Holder) {
	name := s.f.Name()
	if ino, err := strconv.ParseUint(filepath.Base(name), 10, 64); err == nil && h != nil {
		h.Release(spoolHeldName(ino))
	}
	_ = os.Remove(name + ".fifo")
	_ = os.Remove(name)
	s.x.Close()
	s.f.Close()
}

// pipeRecords returns the sequence numbers of the records the journal
// has from the pipe of unit, pid and stream after sequence number seq.
func (j *Journal) pipeRecords(unit string, pid int, stream Stream, seq uint64) []uint64 {
	var seqs []uint64
	q := Query{Units: []string{globQuote(unit)}, AfterCursor: "s=" + strconv.FormatUint(seq, 16)}
	err := j.Query(context.Background(), q, func(e Entry) error {
		if e.PID == pid && e.Stream == stream && e.Unit == unit {
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if err != nil {
		j.log.Warn("journal: counting a kept pipe's records", "unit", unit, "err", err)
	}
	return seqs
}

// globQuote escapes the pattern characters of a unit name.
func globQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// SweepSpool removes the spool files of pipes no longer read (their
// pipe ended, or its last reader died before it could remove the file).
// Call it once the pipes kept across a crash or a re-exec are adopted.
func (j *Journal) SweepSpool() {
	if j.opts.SpoolDir == "" {
		return
	}
	live := map[string]bool{}
	j.wmu.Lock()
	in := j.in
	j.wmu.Unlock()
	if in != nil {
		// A spool the loop makes meanwhile is not taken for a dead one.
		in.spoolMu.Lock()
		defer in.spoolMu.Unlock()
		in.mu.Lock()
		for _, p := range in.byFD {
			if p.sp != nil {
				live[filepath.Base(p.sp.f.Name())] = true
			}
		}
		in.mu.Unlock()
	}
	ents, _ := os.ReadDir(j.opts.SpoolDir)
	for _, e := range ents {
		name, fifo := strings.CutSuffix(e.Name(), ".fifo")
		if live[name] {
			continue
		}
		_ = os.Remove(filepath.Join(j.opts.SpoolDir, e.Name()))
		if ino, err := strconv.ParseUint(name, 10, 64); fifo && err == nil && j.opts.Holder != nil {
			j.opts.Holder.Release(spoolHeldName(ino)) // its pipe is gone: so are its bytes' use
		}
	}
}
