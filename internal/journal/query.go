package journal

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"math"
	"os"
	"path"
	"slices"
	"time"
)

// Query selects entries. The zero Query selects everything, oldest first.
type Query struct {
	// Units are glob patterns (path.Match syntax) on unit names; a bare
	// name without a dot also matches NAME.service, like journalctl -u.
	// Empty selects every unit, and entries without a unit.
	Units []string
	// Since and Until bound the entries' realtime, both inclusive.
	Since, Until time.Time
	// Lines > 0 keeps only the last Lines matching entries (the first
	// Lines, newest first, with Reverse).
	Lines int
	// Grep is a regular expression (RE2 syntax) the message must match;
	// case-insensitive unless CaseSensitive.
	Grep          string
	CaseSensitive bool
	// Priorities has bit p set for each priority p to show; 0 shows all.
	// PriorityMask builds it from a range.
	Priorities uint8
	Boot       string // boot id; "" for every boot
	Reverse    bool   // newest first
	// Cursor starts at the entry it designates, AfterCursor just after it.
	Cursor, AfterCursor string
	// Matches are journalctl match expressions (ParseMatches' words, such
	// as "_PID=12", "+"); an entry must satisfy every one of them.
	Matches [][]string
	// UIDs, when not empty, keeps only the entries of processes running
	// as one of these uids: what a reader who may not read everything is
	// shown (its own), as journald does.
	UIDs []int

	// follow is a follower's memory between its queries (FollowIdle).
	follow *followState
}

// PriorityMask returns the Priorities mask for levels lo..hi inclusive
// (0 emerg … 7 debug), e.g. PriorityMask(0, 3) for `-p err`.
func PriorityMask(lo, hi int) uint8 {
	var m uint8
	for p := max(lo, 0); p <= min(hi, 7); p++ {
		m |= 1 << p
	}
	return m
}

// matcher is a compiled Query.
type matcher struct {
	lo, hi       uint64 // sequence range, inclusive
	since, until int64  // realtime range, inclusive
	pri          uint8
	boot         string
	units        []string
	uids         []uint32
	grep         func([]byte) bool
	matches      []Matches
	host         string // _HOSTNAME, when a match asks for it
	scratch      []byte
	follow       *followState // Query.follow
}

func compile(q Query, hi uint64) (*matcher, error) {
	m := &matcher{lo: 1, hi: hi, since: math.MinInt64, until: math.MaxInt64, pri: q.Priorities, boot: q.Boot, units: q.Units,
		follow: q.follow}
	if m.pri == 0 {
		m.pri = 0xff
	}
	if !q.Since.IsZero() {
		m.since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		m.until = q.Until.UnixNano()
	}
	for _, u := range q.UIDs {
		// An unknown uid (-1) matches the entries whose uid is unknown.
		m.uids = append(m.uids, uidField(u))
	}
	for _, u := range q.Units {
		if _, err := path.Match(u, ""); err != nil {
			return nil, fmt.Errorf("bad unit pattern %q: %w", u, err)
		}
	}
	if q.Cursor != "" {
		seq, err := ParseCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		m.lo = max(m.lo, seq)
	}
	if q.AfterCursor != "" {
		seq, err := ParseCursor(q.AfterCursor)
		if err != nil {
			return nil, err
		}
		m.lo = max(m.lo, seq+1)
	}
	for _, words := range q.Matches {
		mm, err := ParseMatches(words)
		if err != nil {
			return nil, err
		}
		if !mm.Empty() {
			m.matches = append(m.matches, mm)
		}
		if contains(mm.Fields(), "_HOSTNAME") {
			m.host, _ = os.Hostname()
		}
	}
	if q.Grep != "" {
		g, err := compileGrep(q.Grep, q.CaseSensitive)
		if err != nil {
			return nil, err
		}
		m.grep = g
	}
	return m, nil
}

func (m *matcher) unit(name string) bool {
	if len(m.units) == 0 {
		return true
	}
	for _, p := range m.units {
		if unitPattern(p, name) {
			return true
		}
	}
	return false
}

func (m *matcher) segment(s *segment) bool {
	if s.empty() || (m.boot != "" && s.boot != m.boot) {
		return false
	}
	// Blocks are in sequence order: the ends decide the sequence range
	// at once (follow's catch-up queries skip old segments here).
	if s.blocks[len(s.blocks)-1].lastSeq < m.lo || s.blocks[0].firstSeq > m.hi {
		return false
	}
	if m.since == math.MinInt64 && m.until == math.MaxInt64 {
		return true
	}
	for i := range s.blocks {
		if m.block(&s.blocks[i]) {
			return true
		}
	}
	return false
}

func (m *matcher) block(b *block) bool {
	return b.lastSeq >= m.lo && b.firstSeq <= m.hi && b.maxRT >= m.since && b.minRT <= m.until
}

func (m *matcher) record(r *rec, s *segment) bool {
	if !(r.seq >= m.lo && r.seq <= m.hi && r.rt >= m.since && r.rt <= m.until &&
		m.pri&(1<<r.pri) != 0 && (m.uids == nil || slices.Contains(m.uids, r.uid)) &&
		(m.grep == nil || m.grep(r.msg))) {
		return false
	}
	unit := s.unit
	if (len(m.units) > 0 || len(m.matches) > 0) && isTemplate(unit) {
		// A shared stream: each record says whose it is.
		if unit = recUnit(r, s.unit); !m.unit(unit) {
			return false
		}
	}
	for _, mm := range m.matches {
		if !mm.match(func(f string) ([]byte, bool) {
			return recordField(f, r, unit, s.boot, m.host, &m.scratch)
		}) {
			return false
		}
	}
	return true
}

// store is what queries read: a snapshot of segments per unit.
type store interface {
	views(m *matcher) map[string][]segment
	// damaged is told about damage a query skipped in a segment that
	// was believed intact (bit rot, a damaged sealed segment).
	damaged(d Damage)
}

func (j *Journal) damaged(d Damage) {
	j.log.Warn("journal damage skipped", "file", d.Path, "offset", d.Offset, "bytes", d.Length, "reason", d.Reason)
}

func (j *Journal) views(m *matcher) map[string][]segment {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	out := map[string][]segment{}
	for name, u := range j.units {
		if !m.store(name) {
			continue
		}
		for _, s := range u.segs {
			if m.segment(s) {
				out[name] = append(out[name], s.view(m.lo))
			}
		}
	}
	return out
}

// Query calls fn for every entry q selects, in sequence order (reverse
// with q.Reverse), across units merged. Entry.Message is only valid during
// the call; copy it to keep it. An error from fn stops the query and is
// returned.
func (j *Journal) Query(ctx context.Context, q Query, fn func(Entry) error) error {
	_, err := runQuery(ctx, j, q, j.committed.Load(), fn)
	return err
}

// runQuery runs q over entries up to sequence number hi.
func runQuery(ctx context.Context, st store, q Query, hi uint64, fn func(Entry) error) (int, error) {
	m, err := compile(q, hi)
	if err != nil {
		return 0, err
	}
	segs := st.views(m)
	if q.Lines > 0 && !q.Reverse {
		// The last N: walk backwards, keep copies, hand them out oldest first.
		var keep []Entry
		_, err := merge(ctx, st, segs, m, true, q.Lines, func(e Entry) error {
			e.Message = bytes.Clone(e.Message)
			keep = append(keep, e)
			return nil
		})
		if err != nil {
			return 0, err
		}
		for i := len(keep) - 1; i >= 0; i-- {
			if err := fn(keep[i]); err != nil {
				return 0, err
			}
		}
		return len(keep), nil
	}
	return merge(ctx, st, segs, m, q.Reverse, q.Lines, fn)
}

// merge walks every unit's segments at once and emits their matching
// entries in sequence order, at most limit (0: all).
func merge(ctx context.Context, st store, segs map[string][]segment, m *matcher, rev bool, limit int, fn func(Entry) error) (int, error) {
	h := &iterHeap{rev: rev}
	defer func() {
		for _, it := range h.its {
			it.release()
		}
	}()
	for _, ss := range segs {
		it := &unitIter{segs: ss, m: m, rev: rev, st: st}
		if m.follow != nil {
			it.buf, it.recs = m.follow.lend()
		}
		if it.advance() {
			h.its = append(h.its, it)
		} else {
			it.release()
			if it.err != nil {
				return 0, it.err
			}
		}
	}
	heap.Init(h)
	n := 0
	var e Entry
	for h.Len() > 0 && (limit <= 0 || n < limit) {
		it := h.its[0]
		it.entry(&e)
		if err := fn(e); err != nil {
			return n, err
		}
		if m.follow != nil && !rev && !it.cur.inner {
			m.follow.pos[it.seg().path] = it.cur.off + int64(it.cur.size)
		}
		n++
		if n%1024 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		if it.advance() {
			heap.Fix(h, 0)
		} else {
			if it.err != nil {
				return n, it.err
			}
			it.release()
			heap.Pop(h)
		}
	}
	return n, ctx.Err()
}

type iterHeap struct {
	its []*unitIter
	rev bool
}

func (h *iterHeap) Len() int { return len(h.its) }
func (h *iterHeap) Less(a, b int) bool {
	if h.rev {
		return h.its[a].cur.seq > h.its[b].cur.seq
	}
	return h.its[a].cur.seq < h.its[b].cur.seq
}
func (h *iterHeap) Swap(a, b int) { h.its[a], h.its[b] = h.its[b], h.its[a] }
func (h *iterHeap) Push(x any)    { h.its = append(h.its, x.(*unitIter)) }
func (h *iterHeap) Pop() any {
	it := h.its[len(h.its)-1]
	h.its = h.its[:len(h.its)-1]
	return it
}

// chunkMax bounds one read of consecutive blocks.
const chunkMax = 1 << 20

// unitIter walks one unit's segments, forwards or backwards, reading
// runs of blocks that may match and decoding only those.
type unitIter struct {
	segs []segment
	m    *matcher
	rev  bool
	st   store // told about damage

	si     int // current segment (counted from the end when rev)
	bi     int // next block to read (forwards) / last block read (backwards)
	opened bool
	f      *os.File
	// borrowed: f belongs to the follower's state, which closes it.
	borrowed bool
	buf      []byte
	recs     []rec
	ri       int
	cur      *rec
	err      error

	identB []byte
	ident  string
	origin Origin // of the last entry, whose strings the next may share
}

func (it *unitIter) seg() *segment {
	if it.rev {
		return &it.segs[len(it.segs)-1-it.si]
	}
	return &it.segs[it.si]
}

// advance moves to the next matching record; false at the end or on error.
func (it *unitIter) advance() bool {
	for {
		if it.ri < len(it.recs) {
			if it.rev {
				it.cur = &it.recs[len(it.recs)-1-it.ri]
			} else {
				it.cur = &it.recs[it.ri]
			}
			it.ri++
			return true
		}
		if it.si >= len(it.segs) {
			return false
		}
		if !it.loadChunk() {
			if it.err != nil {
				return false
			}
			it.close()
			it.si++
			it.opened = false
		}
	}
}

// loadChunk reads and decodes the next run of blocks of the current
// segment; false when the segment has no more.
func (it *unitIter) loadChunk() bool {
	s := it.seg()
	if !it.opened {
		it.opened = true
		it.bi = 0
		if it.rev {
			it.bi = len(s.blocks)
		}
	}
	from, to := -1, -1 // block run [from, to)
	if it.rev {
		for it.bi > 0 && !it.m.block(&s.blocks[it.bi-1]) {
			it.bi--
		}
		if it.bi == 0 {
			return false
		}
		to, from = it.bi, it.bi-1
		for from > 0 && it.m.block(&s.blocks[from-1]) && s.blockEnd(to-1)-s.blocks[from-1].off <= chunkMax {
			from--
		}
		it.bi = from
	} else {
		for it.bi < len(s.blocks) && !it.m.block(&s.blocks[it.bi]) {
			it.bi++
		}
		if it.bi == len(s.blocks) {
			return false
		}
		from, to = it.bi, it.bi+1
		for to < len(s.blocks) && it.m.block(&s.blocks[to]) && s.blockEnd(to)-s.blocks[from].off <= chunkMax {
			to++
		}
		it.bi = to
	}
	if it.f == nil && it.m.follow != nil && !s.sealed {
		// A follower reads the active segment after every commit: keep
		// it open between its queries.
		it.f, it.borrowed = it.m.follow.file(s.path), true
	}
	if it.f == nil {
		f, err := os.Open(s.path)
		if err != nil {
			if os.IsNotExist(err) { // removed by retention meanwhile
				it.bi = 0
				if !it.rev {
					it.bi = len(s.blocks)
				}
				return false
			}
			it.err = fmt.Errorf("journal: %w", err)
			return false
		}
		it.f, it.borrowed = f, false
		if it.m.follow != nil && !s.sealed {
			it.m.follow.keep(s.path, f)
			it.borrowed = true
		}
	}
	start, end := s.blocks[from].off, s.blockEnd(to-1)
	if it.m.follow != nil && !it.rev {
		start = it.m.follow.resumeAt(s.path, start, end)
	}
	if n := int(end - start); cap(it.buf) < n {
		it.buf = make([]byte, n)
	} else {
		it.buf = it.buf[:n]
	}
	n, err := it.f.ReadAt(it.buf, start)
	it.buf = it.buf[:n] // a truncated file: decode what is there
	if err != nil && n == 0 {
		it.err = fmt.Errorf("journal: read %s: %w", s.path, err)
		return false
	}
	it.recs, it.ri = it.recs[:0], 0
	decodeRange(it.buf, start, func(r *rec) bool {
		if it.m.record(r, s) {
			it.recs = append(it.recs, *r)
		}
		return true
	}, func(off, n int64, reason string) {
		it.st.damaged(Damage{Path: s.path, Offset: off, Length: n, Reason: reason})
	})
	return true
}

// release closes the iterator for good: a follower's buffers go back to
// it for its next query.
func (it *unitIter) release() {
	it.close()
	if it.m.follow != nil {
		it.m.follow.giveBack(it.buf, it.recs)
		it.buf, it.recs = nil, nil
	}
}

func (it *unitIter) close() {
	if it.f != nil && !it.borrowed {
		it.f.Close()
	}
	it.f = nil
}

// entry fills e from the current record; e.Message aliases the iterator's
// buffer.
func (it *unitIter) entry(e *Entry) {
	r, s := it.cur, it.seg()
	if !bytes.Equal(r.ident, it.identB) || it.identB == nil {
		it.identB = append(it.identB[:0], r.ident...)
		it.ident = string(r.ident)
	}
	it.origin = decodeOriginLike(r.ext, it.origin)
	*e = r.entry(s.boot, recUnit(r, s.unit), it.ident, it.origin)
}

// entry is r as an Entry of unit in boot; ident and origin are its
// decoded identifier and Origin, which the caller may share between
// records. Message aliases r's buffer.
func (r *rec) entry(boot, unit, ident string, origin Origin) Entry {
	uid := int(r.uid)
	if r.uid == uidUnknown {
		uid = -1
	}
	return Entry{
		Seq:        r.seq,
		Realtime:   time.Unix(0, r.rt),
		Monotonic:  time.Duration(r.mono),
		BootID:     boot,
		Unit:       unit,
		PID:        int(r.pid),
		UID:        uid,
		Priority:   int(r.pri),
		Facility:   int(r.fac),
		Identifier: ident,
		Stream:     Stream(r.stream),
		Partial:    r.flags&flagPartial != 0,
		Origin:     origin,
		Message:    r.msg,
	}
}
