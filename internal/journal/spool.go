package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The spool closes the last window of a crash (docs/design.md, "Crash
// and re-exec"). Read with read(2), bytes leave the pipe for tend's
// memory; a kill before they are committed loses them. With a spool
// directory, the ingest loop moves them with splice(2) from the pipe into
// a file of its own (one per pipe, named by the pipe's inode), and reads
// them from there. splice moves exactly what it wrote into the file, even
// when a kill interrupts it, so every byte is at each instant either in
// the pipe (which the fd holder keeps) or in the spool, and the file's
// size counts what ever left the pipe.
//
// What is committed is known from the journal itself: the spool's header
// holds a committed offset O and a sequence number E such that every
// line of the pipe before O is in the journal with a sequence number up
// to E, and the lines from O on are the pipe's records after E, in order.
// A manager taking the pipe back replays the spool from O and skips as
// many records as the journal has of that pipe (its unit, pid and
// stream) after E: those were committed before the kill — even by a
// write(2) the kill cut short — and the rest were not. The header is
// rewritten, and the committed part of the spool punched out of the
// file, once spoolMarkEvery bytes were committed and the pipe ran dry,
// or every spoolMarkMax bytes while it stays full: a pipe at rest costs
// at most spoolMarkEvery bytes of memory or disk beyond its unterminated
// line, and a burst pays a header write and a punch per megabyte rather
// than per 64 KiB.

// spoolHdr is the room of the header at the start of a spool file; the
// pipe's byte at offset x is at spoolHdr+x.
const spoolHdr = 4096

// spoolMarkEvery is how many committed bytes a spool keeps before its
// header moves on and they are punched out.
const spoolMarkEvery = 64 << 10

// spoolMarkMax is how many committed bytes a spool keeps at most, while
// its pipe is read full read after full read: a pipe's capacity.
const spoolMarkMax = pipeSize

const spoolMagic = "TNDSPL01"

// spool is one pipe's spool file; owned by the ingest loop once the pipe
// is polled.
type spool struct {
	f         *os.File
	end       int64  // bytes moved from the pipe so far
	read      int64  // bytes of those given to the line batcher
	committed int64  // bytes of lines committed (or dropped by policy)
	lastSeq   uint64 // last sequence number committed from the pipe
	marked    int64  // committed offset the header holds
	dry       bool   // the last splice emptied the pipe (took less than asked)
	pid       int
	stream    Stream
}

// spoolHeader is the header's content.
type spoolHeader struct {
	committed int64
	lastSeq   uint64
	pid       uint32
	stream    uint8
}

func (h spoolHeader) encode() []byte {
	b := []byte(spoolMagic)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.committed))
	b = binary.LittleEndian.AppendUint64(b, h.lastSeq)
	b = binary.LittleEndian.AppendUint32(b, h.pid)
	b = append(b, h.stream)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

const spoolHeaderLen = len(spoolMagic) + 8 + 8 + 4 + 1 + 4

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
		committed: int64(binary.LittleEndian.Uint64(p)),
		lastSeq:   binary.LittleEndian.Uint64(p[8:]),
		pid:       binary.LittleEndian.Uint32(p[16:]),
		stream:    p[20],
	}
	if h.committed < 0 {
		return spoolHeader{}, errSpoolHeader
	}
	return h, nil
}

// spoolPath is the spool file of the pipe with inode ino.
func (j *Journal) spoolPath(ino uint64) string {
	return filepath.Join(j.opts.SpoolDir, strconv.FormatUint(ino, 10))
}

// newSpool creates the spool of a new pipe (replacing a stale file of a
// pipe that had the same inode). Every record of the pipe will have a
// sequence number above the journal's current one.
func (j *Journal) newSpool(ino uint64, pid int, stream Stream) (*spool, error) {
	if err := os.MkdirAll(j.opts.SpoolDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(j.spoolPath(ino), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	s := &spool{f: f, lastSeq: j.committed.Load(), pid: pid, stream: stream}
	if err := s.mark(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// takeSpool opens the spool a previous manager left for the pipe with
// inode ino, when adopting a pipe; nil if there is none or it cannot be
// trusted.
func (j *Journal) takeSpool(adopt bool, ino uint64) *spool {
	if !adopt || j.opts.SpoolDir == "" {
		return nil
	}
	f, err := os.OpenFile(j.spoolPath(ino), os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	hb := make([]byte, spoolHeaderLen)
	st, serr := f.Stat()
	_, rerr := f.ReadAt(hb, 0)
	h, herr := decodeSpoolHeader(hb)
	err = errors.Join(serr, rerr, herr)
	end := int64(0)
	if err == nil {
		end = max(st.Size()-spoolHdr, 0) // the header only: nothing spooled
		if end < h.committed {
			err = fmt.Errorf("%d bytes spooled, %d committed", end, h.committed)
		}
	}
	if err != nil {
		j.log.Warn("journal: spool of a kept pipe unusable; its pipe is read from where it is", "spool", f.Name(), "err", err)
		f.Close()
		return nil
	}
	return &spool{f: f, end: end, read: h.committed, committed: h.committed, marked: h.committed,
		lastSeq: h.lastSeq, pid: int(h.pid), stream: Stream(h.stream)}
}

// backlog reports whether the spool holds bytes not yet given to the
// line batcher (taken back from a previous manager).
func (s *spool) backlog() bool { return s.read < s.end }

// fill gives dst what the spool holds beyond what was read, or else
// moves what the pipe fd holds into the spool first. 0 bytes and a nil
// error is the pipe's end.
func (s *spool) fill(fd int, dst []byte) (int, error) {
	if !s.backlog() {
		off := spoolHdr + s.end
		n, err := unix.Splice(fd, nil, int(s.f.Fd()), &off, len(dst), unix.SPLICE_F_NONBLOCK)
		if n <= 0 {
			s.dry = true
			return 0, err
		}
		s.end += n
		s.dry = n < int64(len(dst))
	}
	n := int(min(int64(len(dst)), s.end-s.read))
	if _, err := s.f.ReadAt(dst[:n], spoolHdr+s.read); err != nil {
		return 0, fmt.Errorf("spool %s: %w", s.f.Name(), err)
	}
	s.read += int64(n)
	return n, nil
}

// done notes that every byte before committed is in the journal, with
// sequence numbers up to seq (0: none new), and moves the header on
// (see spoolMarkEvery, spoolMarkMax).
func (s *spool) done(committed int64, seq uint64) {
	s.committed = committed
	if seq > 0 {
		s.lastSeq = seq
	}
	if d := s.committed - s.marked; d >= spoolMarkMax || d >= spoolMarkEvery && (s.dry || s.backlog()) {
		_ = s.mark()
	}
}

// mark writes the header, then punches what it says is committed out of
// the file. In that order: the header never names bytes already gone.
func (s *spool) mark() error {
	h := spoolHeader{committed: s.committed, lastSeq: s.lastSeq, pid: uint32(max(s.pid, 0)), stream: uint8(s.stream)}
	if _, err := s.f.WriteAt(h.encode(), 0); err != nil {
		return err
	}
	if pages := s.committed / spoolHdr * spoolHdr; pages > 0 {
		_ = unix.Fallocate(int(s.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, spoolHdr, pages)
	}
	s.marked = s.committed
	return nil
}

// remove deletes the spool: its pipe ended and all it carried is stored.
func (s *spool) remove() {
	_ = os.Remove(s.f.Name())
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
		if !live[e.Name()] {
			_ = os.Remove(filepath.Join(j.opts.SpoolDir, e.Name()))
		}
	}
}
