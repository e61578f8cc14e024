package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk framing (little endian). See docs/journal.md.
//
//	segment = header record*
//	header  = "TNDJSEG2" u32:len u32:crc32c(len‖payload) payload
//	payload = u16:len bootID u16:len unit i64:created-ns
//	record  = u32:len u32:crc32c(len‖payload) payload
//	payload = u64:seq i64:realtime-ns i64:monotonic-ns u32:pid u32:uid
//	          u8:priority u8:facility u8:stream u8:flags u16:identlen ident
//	          [u16:extlen ext, when flags has flagExt] message
//	          | the same fixed part and ident with flags = flagBatch, then
//	          uvarint:ncuts (uvarint:(pos<<1 | partial))*ncuts text
//	          (a batch: one record per line of text, seq, seq+1, …)
//	text    = the lines as the pipe carried them: each ends at a '\n'
//	          (not part of it) or at a cut position (no '\n': cut at
//	          LineMax, partial; or the last line at the pipe's end)
//	ext     = (u8:tag u16:len value)*   (see origin.go)
//
// "TNDJSEG1" segments hold no batches; readers take both.
const (
	segMagic      = "TNDJSEG2"
	segMagicV1    = "TNDJSEG1"
	frameHdr      = 8  // u32 len + u32 crc
	recFixed      = 38 // fixed part of a record payload
	maxRecPayload = 16 << 20
	flagPartial   = 1 << 0
	flagExt       = 1 << 1 // an ext block (Origin fields) follows ident
	// flagBatch marks a frame of several lines that share everything but
	// their text (one pipe read): the text as read, newlines included,
	// instead of a 46-byte record per line; one CRC per frame.
	flagBatch = 1 << 2
	// flagBare marks, in memory only, a batch's line that ends without a
	// newline and is not partial (the last one at a pipe's end).
	flagBare = 1 << 3
	// maxBatch bounds a batch's payload, so that the index's blocks
	// (a new one at the first frame 64 KiB after the last) stay small.
	maxBatch    = blockSize
	maxIdentLen = 1 << 10
	uidUnknown  = ^uint32(0)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the checksum of a frame: it covers the length field too, so a
// corrupted length cannot pass as a shorter valid record.
func frameCRC(lenField, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenField), castagnoli, payload)
}

// rec is a decoded record; ident and msg alias the buffer it was decoded
// from.
type rec struct {
	off      int64 // offset of the frame in its segment
	size     int   // frame size in bytes
	seq      uint64
	rt, mono int64
	pid, uid uint32
	pri, fac uint8
	stream   uint8
	flags    uint8
	ident    []byte
	ext      []byte // encoded Origin fields, nil for none
	msg      []byte
	// inner is set on a batch's records but its last: off and size are
	// the whole frame's.
	inner bool
	// ends makes the record a run of lines (one pipe read's, on the
	// write side only): msg holds them and ends their end offsets in
	// msg, with endCut set for a line cut at LineMax (no newline follows
	// it). Their sequence numbers are seq, seq+1, …; nil for one line.
	ends []uint32
}

// endCut marks, in rec.ends, a line cut at LineMax (no newline follows);
// endBare a line without newline that is not cut (at the pipe's end).
const (
	endCut  = 1 << 31
	endBare = 1 << 30
	endMask = endBare - 1
)

// count is how many entries r stands for.
func (r *rec) count() int {
	if r.ends == nil {
		return 1
	}
	return len(r.ends)
}

// entries is how many entries recs stand for.
func entries(recs []rec) int {
	n := 0
	for i := range recs {
		n += recs[i].count()
	}
	return n
}

// lastSeq is the sequence number of r's last entry.
func (r *rec) lastSeq() uint64 { return r.seq + uint64(r.count()) - 1 }

// runLine returns line i of the run r (starting at msg offset from),
// its end flags (endCut, endBare) and where the next one starts.
func (r *rec) runLine(i int, from uint32) (line []byte, flags uint32, next uint32) {
	e := r.ends[i]
	end := e & endMask
	if e&(endCut|endBare) != 0 {
		return r.msg[from:end], e &^ endMask, end
	}
	return r.msg[from:end], 0, end + 1
}

// dropLines returns recs without their first k entries.
func dropLines(recs []rec, k int) []rec {
	for k > 0 && len(recs) > 0 {
		r := &recs[0]
		if n := r.count(); n <= k {
			recs, k = recs[1:], k-n
			continue
		}
		var from uint32
		for i := range k {
			_, _, from = r.runLine(i, from)
		}
		for i, e := range r.ends[k:] {
			r.ends[i] = (e&endMask - from) | e&^endMask
		}
		r.ends = r.ends[:len(r.ends)-k]
		r.msg = r.msg[from:]
		break
	}
	return recs
}

// appendRecord encodes r (ident and msg included) as a frame onto dst.
func appendRecord(dst []byte, r *rec) []byte {
	flags := r.flags &^ flagExt
	if len(r.ext) > 0 {
		flags |= flagExt
	}
	start := len(dst)
	dst = appendFixed(dst, r, flags)
	if len(r.ext) > 0 {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r.ext)))
		dst = append(dst, r.ext...)
	}
	return sealFrame(append(dst, r.msg...), start)
}

// appendFixed starts a frame for r with the given flags: room for its
// length and CRC, the fixed part and the ident.
func appendFixed(dst []byte, r *rec, flags uint8) []byte {
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // len and crc: sealFrame
	dst = binary.LittleEndian.AppendUint64(dst, r.seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.rt))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.mono))
	dst = binary.LittleEndian.AppendUint32(dst, r.pid)
	dst = binary.LittleEndian.AppendUint32(dst, r.uid)
	dst = append(dst, r.pri, r.fac, r.stream, flags)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r.ident)))
	return append(dst, r.ident...)
}

// sealFrame fills in the length and CRC of the frame at dst[start:].
func sealFrame(dst []byte, start int) []byte {
	sealHead(dst[start:], nil)
	return dst
}

// sealHead fills in the length and CRC of a frame made of head (from
// its length field on) followed by text.
func sealHead(head, text []byte) {
	binary.LittleEndian.PutUint32(head, uint32(len(head)-frameHdr+len(text)))
	crc := crc32.Update(frameCRC(head[:4], head[frameHdr:]), castagnoli, text)
	binary.LittleEndian.PutUint32(head[4:], crc)
}

// appendBatchHead appends the head of a batch frame for h's fields
// (seq: its first line's) whose lines end without a newline at cuts
// (pos<<1 | partial, in text); the text follows it (sealHead).
func appendBatchHead(dst []byte, h *rec, cuts []uint64) []byte {
	dst = appendFixed(dst, h, flagBatch)
	dst = binary.AppendUvarint(dst, uint64(len(cuts)))
	for _, c := range cuts {
		dst = binary.AppendUvarint(dst, c)
	}
	return dst
}

// uvarint reads a minimally encoded uvarint, reporting its length (0:
// malformed).
func uvarint(b []byte) (uint64, int) {
	v, k := binary.Uvarint(b)
	if k <= 0 || k > 1 && b[k-1] == 0 {
		return 0, 0
	}
	return v, k
}

// batchLines walks the lines of a batch's body (after its ident),
// reporting each with its flags (flagPartial, flagBare); it returns
// false when the body is malformed.
func batchLines(body []byte, fn func(msg []byte, flags uint8, last bool) bool) bool {
	n, k := uvarint(body)
	if k == 0 || n > uint64(len(body)) {
		return false
	}
	body = body[k:]
	cuts := body // n uvarints, read as the walk reaches them
	for range n {
		_, k := uvarint(body)
		if k == 0 {
			return false
		}
		body = body[k:]
	}
	text := body
	if len(text) == 0 && n == 0 {
		return false
	}
	from, cut, left := 0, -1, n
	var cutFlags uint8
	nextCut := func() bool {
		v, k := uvarint(cuts)
		cuts, left = cuts[k:], left-1
		if v>>1 < uint64(max(cut, from)) || v>>1 > uint64(len(text)) {
			return false // not increasing, or past the text
		}
		cut, cutFlags = int(v>>1), flagBare
		if v&1 != 0 {
			cutFlags = flagPartial
		}
		return true
	}
	if left > 0 && !nextCut() {
		return false
	}
	for from < len(text) || cut == from {
		nl := bytes.IndexByte(text[from:], '\n')
		var line []byte
		var flags uint8
		switch {
		case cut >= from && (nl < 0 || from+nl >= cut):
			line, flags, from = text[from:cut], cutFlags, cut
			cut = -1
			if left > 0 && !nextCut() {
				return false
			}
		case nl >= 0:
			line, from = text[from:from+nl], from+nl+1
		default:
			return false // text that ends neither at a newline nor at a cut
		}
		if fn != nil && !fn(line, flags, from == len(text) && cut < 0) {
			return true
		}
	}
	return cut < 0 && left == 0
}

// plausible checks the cheap invariants of a frame at buf[p:] before its
// CRC is computed; it keeps resynchronisation over garbage fast.
func plausible(buf []byte, p int) (n int, ok bool) {
	if len(buf)-p < frameHdr+recFixed {
		return 0, false
	}
	n = int(binary.LittleEndian.Uint32(buf[p:]))
	if n < recFixed || n > maxRecPayload || n > len(buf)-p-frameHdr {
		return n, false
	}
	pl := buf[p+frameHdr:]
	if pl[32] > 7 || pl[33] > 23 || pl[34] > byte(streamLast) || pl[35]&^(flagPartial|flagExt) != 0 && pl[35] != flagBatch {
		return n, false
	}
	if il := int(binary.LittleEndian.Uint16(pl[36:])); il > maxIdentLen || il > n-recFixed {
		return n, false
	}
	return n, true
}

// decodeAt decodes the frame at buf[p:], reporting whether it is intact.
func decodeAt(buf []byte, p int, base int64, r *rec) bool {
	return decodeFrame(buf, p, base, r, true)
}

// decodeFrame is decodeAt that checks the CRC only with checkCRC: frames
// that never left memory (a tap's) need not be checked.
func decodeFrame(buf []byte, p int, base int64, r *rec, checkCRC bool) bool {
	n, ok := plausible(buf, p)
	if !ok {
		return false
	}
	pl := buf[p+frameHdr : p+frameHdr+n]
	if checkCRC && frameCRC(buf[p:p+4], pl) != binary.LittleEndian.Uint32(buf[p+4:]) {
		return false
	}
	il := int(binary.LittleEndian.Uint16(pl[36:]))
	msgAt, ext := recFixed+il, []byte(nil)
	if pl[35] == flagBatch && !batchLines(pl[msgAt:], nil) {
		return false
	}
	if pl[35]&flagExt != 0 {
		if msgAt+2 > n {
			return false
		}
		el := int(binary.LittleEndian.Uint16(pl[msgAt:]))
		if msgAt+2+el > n {
			return false
		}
		ext, msgAt = pl[msgAt+2:msgAt+2+el], msgAt+2+el
	}
	*r = rec{
		off:    base + int64(p),
		size:   frameHdr + n,
		seq:    binary.LittleEndian.Uint64(pl[0:]),
		rt:     int64(binary.LittleEndian.Uint64(pl[8:])),
		mono:   int64(binary.LittleEndian.Uint64(pl[16:])),
		pid:    binary.LittleEndian.Uint32(pl[24:]),
		uid:    binary.LittleEndian.Uint32(pl[28:]),
		pri:    pl[32],
		fac:    pl[33],
		stream: pl[34],
		flags:  pl[35],
		ident:  pl[recFixed : recFixed+il],
		ext:    ext,
		msg:    pl[msgAt:],
	}
	return true
}

// eachLine calls fn with one record per line of the batch b (decoded by
// decodeAt: its msg is the batch's body); it reports whether fn wants
// more.
func eachLine(b *rec, fn func(*rec) bool) bool {
	l := *b
	l.seq--
	more := true
	batchLines(b.msg, func(msg []byte, flags uint8, last bool) bool {
		l.seq++
		l.msg, l.flags, l.inner = msg, flags, !last
		more = fn(&l)
		return more
	})
	return more
}

// Damage describes a region of a segment that held no intact record and
// was skipped.
type Damage struct {
	Path   string // segment file
	Offset int64  // first byte skipped
	Length int64  // bytes skipped
	Reason string // "torn tail", "corrupt record", "bad header"
}

// String describes d as "file: reason: skipped N bytes at offset O".
func (d Damage) String() string {
	return fmt.Sprintf("%s: %s: skipped %d bytes at offset %d", d.Path, d.Reason, d.Length, d.Offset)
}

// decodeRange decodes every intact record of buf, which holds complete
// bytes of a segment starting at file offset base; a batch is one record
// per line. Damaged regions are skipped: after a bad frame the decoder
// resynchronises on the next offset holding a frame whose length,
// invariants and CRC all check out. fn may stop the walk by returning
// false.
func decodeRange(buf []byte, base int64, fn func(*rec) bool, bad func(off, n int64, reason string)) {
	var r rec
	p := 0
	for p < len(buf) {
		if decodeAt(buf, p, base, &r) {
			if r.flags == flagBatch {
				if !eachLine(&r, fn) {
					return
				}
			} else if !fn(&r) {
				return
			}
			p += r.size
			continue
		}
		q := p + 1
		for q < len(buf) && !decodeAt(buf, q, base, &r) {
			q++
		}
		if bad != nil {
			reason := "corrupt record"
			if q >= len(buf) {
				reason = "torn tail"
			}
			bad(base+int64(p), int64(q-p), reason)
		}
		p = q
	}
}

// segHeader is the first frame of every segment.
type segHeader struct {
	boot    string
	unit    string
	created int64
	v1      bool // "TNDJSEG1": written before batch frames
}

func appendSegHeader(dst []byte, h segHeader) []byte {
	var pl []byte
	pl = binary.LittleEndian.AppendUint16(pl, uint16(len(h.boot)))
	pl = append(pl, h.boot...)
	pl = binary.LittleEndian.AppendUint16(pl, uint16(len(h.unit)))
	pl = append(pl, h.unit...)
	pl = binary.LittleEndian.AppendUint64(pl, uint64(h.created))
	dst = append(dst, segMagic...)
	lenField := binary.LittleEndian.AppendUint32(nil, uint32(len(pl)))
	dst = append(dst, lenField...)
	dst = binary.LittleEndian.AppendUint32(dst, frameCRC(lenField, pl))
	return append(dst, pl...)
}

var errBadHeader = errors.New("bad segment header")

// parseSegHeader returns the header at the start of buf and its size.
func parseSegHeader(buf []byte) (segHeader, int, error) {
	const fixed = len(segMagic) + frameHdr
	if len(buf) < fixed || string(buf[:len(segMagic)]) != segMagic && string(buf[:len(segMagic)]) != segMagicV1 {
		return segHeader{}, 0, errBadHeader
	}
	n := int(binary.LittleEndian.Uint32(buf[len(segMagic):]))
	if n < 12 || n > 4096 || len(buf) < fixed+n {
		return segHeader{}, 0, errBadHeader
	}
	pl := buf[fixed : fixed+n]
	if frameCRC(buf[len(segMagic):len(segMagic)+4], pl) != binary.LittleEndian.Uint32(buf[len(segMagic)+4:]) {
		return segHeader{}, 0, errBadHeader
	}
	h := segHeader{v1: string(buf[:len(segMagic)]) == segMagicV1}
	bl := int(binary.LittleEndian.Uint16(pl))
	if 2+bl+2 > n {
		return segHeader{}, 0, errBadHeader
	}
	h.boot = string(pl[2 : 2+bl])
	pl = pl[2+bl:]
	ul := int(binary.LittleEndian.Uint16(pl))
	if 2+ul+8 != len(pl) {
		return segHeader{}, 0, errBadHeader
	}
	h.unit = string(pl[2 : 2+ul])
	h.created = int64(binary.LittleEndian.Uint64(pl[2+ul:]))
	return h, fixed + n, nil
}
