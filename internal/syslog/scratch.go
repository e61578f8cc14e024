package syslog

import "bytes"

// scratch is the memory a serve loop delivers messages from. Messages are
// copied into a shared slab rather than allocated one by one, and header
// strings that repeat from message to message (host names, app names,
// pids, MSGIDs) are made once: a busy TCP sender otherwise costs four
// allocations per message. Each serve loop has its own; a nil *scratch
// allocates as Parse does.
type scratch struct {
	strs map[string]string
	slab []byte
}

const (
	// maxInterned bounds the strings kept; past it the table starts over,
	// so that a sender varying its header cannot grow it.
	maxInterned = 1024
	// maxInternLen is the longest string interned: header fields are
	// short, and a long one is unlikely to repeat.
	maxInternLen = 64
	// slabSize is what one allocation holds for message bytes. A message
	// a handler keeps keeps its slab alive with it; the journal's handler
	// keeps none past its write.
	slabSize = 64 << 10
)

// str returns b as a string, the same string for the same bytes while it
// is in the table.
func (s *scratch) str(b []byte) string {
	if s == nil || len(b) > maxInternLen {
		return string(b)
	}
	if v, ok := s.strs[string(b)]; ok {
		return v
	}
	if s.strs == nil || len(s.strs) >= maxInterned {
		s.strs = make(map[string]string, 64)
	}
	v := string(b)
	s.strs[v] = v
	return v
}

// clone copies b into the slab; the copy is capped, so appending to it
// never writes over a neighbour.
func (s *scratch) clone(b []byte) []byte {
	if s == nil || len(b) > slabSize/4 {
		return bytes.Clone(b)
	}
	if len(s.slab)+len(b) > cap(s.slab) {
		s.slab = make([]byte, 0, slabSize)
	}
	n := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[n:len(s.slab):len(s.slab)]
}
