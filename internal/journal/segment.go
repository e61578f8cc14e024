package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// blockSize is the spacing of the sparse index: a new block starts at the
// first record at least this many bytes after the previous block's start.
// Queries read whole blocks, so it bounds the bytes read for `-n` and
// `--since` beyond what they return.
const blockSize = 64 << 10

// block is one entry of a segment's sparse index.
type block struct {
	off               int64 // first record's offset
	firstSeq, lastSeq uint64
	minRT, maxRT      int64
	count             uint32
}

// segment is one segment file and its index. The journal's writer mutates
// the active segment under its unit's lock; queries work on views.
type segment struct {
	path    string
	unit    string
	boot    string
	hdrSize int64
	v1      bool  // of the format before batch frames: not appended to
	size    int64 // bytes of intact data (the writer's next offset)
	blocks  []block
	sealed  bool // index written; no more appends
}

// note adds an appended or scanned record to the index.
func (s *segment) note(r *rec) {
	n := len(s.blocks)
	if n == 0 || r.off-s.blocks[n-1].off >= blockSize {
		s.blocks = append(s.blocks, block{off: r.off, firstSeq: r.seq, lastSeq: r.seq, minRT: r.rt, maxRT: r.rt, count: 1})
	} else {
		b := &s.blocks[n-1]
		b.lastSeq = r.seq
		b.minRT = min(b.minRT, r.rt)
		b.maxRT = max(b.maxRT, r.rt)
		b.count++
	}
	s.size = r.off + int64(r.size)
}

// noteFrame adds a frame written to the index: its entries share its
// offset and realtime.
func (s *segment) noteFrame(f *frameNote) {
	s.note(&rec{off: f.off, size: int(f.size), seq: f.firstSeq, rt: f.rt})
	if f.last > f.firstSeq {
		b := &s.blocks[len(s.blocks)-1]
		b.lastSeq = f.last
		b.count += uint32(f.last - f.firstSeq)
	}
}

func (s *segment) empty() bool { return len(s.blocks) == 0 }

func (s *segment) lastSeq() uint64 {
	if s.empty() {
		return 0
	}
	return s.blocks[len(s.blocks)-1].lastSeq
}

func (s *segment) maxRT() int64 {
	var m int64
	for _, b := range s.blocks {
		m = max(m, b.maxRT)
	}
	return m
}

// view returns a copy of s safe to read while the writer keeps appending:
// the blocks of an unsealed segment are copied, because the writer mutates
// the last one; a sealed segment's blocks never change and are shared.
// Only the blocks holding sequence numbers from lo on are copied: a
// follower's query after each commit wants the last one or two, and
// copying a whole active segment's index each time would cost more than
// reading the new entries.
func (s *segment) view(lo uint64) segment {
	v := *s
	if n := len(s.blocks); n > 0 && !s.sealed {
		i := sort.Search(n-1, func(i int) bool { return s.blocks[i].lastSeq >= lo })
		v.blocks = append([]block(nil), s.blocks[i:]...)
	}
	return v
}

// blockEnd returns where block i ends.
func (s *segment) blockEnd(i int) int64 {
	if i+1 < len(s.blocks) {
		return s.blocks[i+1].off
	}
	return s.size
}

func indexPath(seg string) string { return strings.TrimSuffix(seg, ".seg") + ".idx" }

const (
	idxMagic    = "TNDJIDX1"
	idxBlockLen = 44
	idxHdrLen   = len(idxMagic) + 4 + 8 + 4
)

// writeIndex persists s's index next to it, atomically (write, fsync,
// rename). The directory is synced by the caller.
func writeIndex(s *segment) error {
	buf := make([]byte, idxHdrLen, idxHdrLen+len(s.blocks)*idxBlockLen)
	copy(buf, idxMagic)
	binary.LittleEndian.PutUint32(buf[8:], uint32(len(s.blocks)))
	binary.LittleEndian.PutUint64(buf[12:], uint64(s.size))
	for _, b := range s.blocks {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(b.off))
		buf = binary.LittleEndian.AppendUint64(buf, b.firstSeq)
		buf = binary.LittleEndian.AppendUint64(buf, b.lastSeq)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(b.minRT))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(b.maxRT))
		buf = binary.LittleEndian.AppendUint32(buf, b.count)
	}
	crc := frameCRC(buf[8:20], buf[idxHdrLen:])
	binary.LittleEndian.PutUint32(buf[20:], crc)
	tmp := indexPath(s.path) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, indexPath(s.path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write index of %s: %w", s.path, err)
	}
	return nil
}

// readIndex loads the index of the segment at path if it is intact and
// covers at most the file's size bytes.
func readIndex(path string, size int64) ([]block, int64, bool) {
	buf, err := os.ReadFile(indexPath(path))
	if err != nil || len(buf) < idxHdrLen || string(buf[:8]) != idxMagic {
		return nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(buf[8:]))
	if int64(binary.LittleEndian.Uint64(buf[12:])) > size || len(buf) != idxHdrLen+n*idxBlockLen {
		return nil, 0, false
	}
	if frameCRC(buf[8:20], buf[idxHdrLen:]) != binary.LittleEndian.Uint32(buf[20:]) {
		return nil, 0, false
	}
	blocks := make([]block, n)
	p := buf[idxHdrLen:]
	for i := range blocks {
		blocks[i] = block{
			off:      int64(binary.LittleEndian.Uint64(p)),
			firstSeq: binary.LittleEndian.Uint64(p[8:]),
			lastSeq:  binary.LittleEndian.Uint64(p[16:]),
			minRT:    int64(binary.LittleEndian.Uint64(p[24:])),
			maxRT:    int64(binary.LittleEndian.Uint64(p[32:])),
			count:    binary.LittleEndian.Uint32(p[40:]),
		}
		p = p[idxBlockLen:]
	}
	return blocks, int64(binary.LittleEndian.Uint64(buf[12:])), true
}

// loadSegment opens the segment at path: from its index when one is intact,
// else by scanning every record, skipping and reporting damaged regions.
func loadSegment(path, dirUnit string) (*segment, []Damage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	s := &segment{path: path, unit: dirUnit}
	if blocks, idxSize, ok := readIndex(path, st.Size()); ok {
		head := make([]byte, min(st.Size(), 4096+20))
		if _, err := f.ReadAt(head, 0); err == nil {
			if h, n, err := parseSegHeader(head); err == nil {
				s.unit, s.boot, s.hdrSize, s.v1 = h.unit, h.boot, int64(n), h.v1
				s.size, s.blocks, s.sealed = idxSize, blocks, true
				return s, nil, nil
			}
		}
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var dmg []Damage
	start := 0
	if h, n, err := parseSegHeader(buf); err == nil {
		s.unit, s.boot, s.hdrSize, s.v1, start = h.unit, h.boot, int64(n), h.v1, n
	} else {
		dmg = append(dmg, Damage{Path: path, Offset: 0, Length: 0, Reason: "bad header"})
	}
	s.size = int64(start)
	decodeRange(buf[start:], int64(start), func(r *rec) bool {
		s.note(r)
		return true
	}, func(off, n int64, reason string) {
		dmg = append(dmg, Damage{Path: path, Offset: off, Length: n, Reason: reason})
	})
	return s, dmg, nil
}

// catalog is every segment of a journal directory, by unit name, each
// unit's segments in sequence order.
type catalog map[string][]*segment

// loadCatalog reads dir's layout: one subdirectory per unit holding
// segment files named <first-seq>-<created>.seg.
func loadCatalog(dir string) (catalog, []Damage, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	cat := catalog{}
	var dmg []Damage
	for _, de := range ents {
		if !de.IsDir() {
			continue
		}
		unit, ok := unescapeUnit(de.Name())
		if !ok {
			continue
		}
		segs, err := filepath.Glob(filepath.Join(dir, de.Name(), "*.seg"))
		if err != nil {
			return nil, nil, err
		}
		sort.Strings(segs)
		for _, p := range segs {
			s, d, err := loadSegment(p, unit)
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed by retention meanwhile
			}
			if err != nil {
				return nil, nil, fmt.Errorf("journal %s: %w", dir, err)
			}
			dmg = append(dmg, d...)
			cat[unit] = append(cat[unit], s)
		}
	}
	return cat, dmg, nil
}

// escapeUnit maps a unit name to a directory name: bytes outside the unit
// name alphabet become %XX, and the empty name (entries without a unit)
// is a lone "%".
func escapeUnit(u string) string {
	if u == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ':' || c == '_' || c == '@' || c == '-' || c == '\\' || (c == '.' && i > 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unescapeUnit(d string) (string, bool) {
	if d == "%" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(d); i++ {
		if d[i] != '%' {
			b.WriteByte(d[i])
			continue
		}
		if i+2 >= len(d) {
			return "", false
		}
		var c byte
		if _, err := fmt.Sscanf(d[i+1:i+3], "%02X", &c); err != nil {
			return "", false
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), true
}
