package syslog

import (
	"bytes"
	"time"
)

// scratch is the memory a serve loop delivers messages from. Messages are
// copied into a shared slab rather than allocated one by one, and header
// strings that repeat from message to message (host names, app names,
// pids, MSGIDs) are made once: a busy TCP sender otherwise costs four
// allocations per message. Each serve loop has its own; a nil *scratch
// allocates as Parse does.
type scratch struct {
	strs map[string]string
	slab []byte
	// recent are the last strings str returned, checked before the map:
	// one sender's app name and pid repeat message after message.
	recent [4]string
	next   int
	// The last RFC 3164 timestamp parsed, with the clock reading it was
	// read against and its result: the messages of one read mostly carry
	// the same second.
	stampKey  [15]byte
	stampNow  time.Time
	stampTime time.Time
	stampOK   bool
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
	for _, v := range s.recent {
		if v == string(b) && len(v) > 0 {
			return v
		}
	}
	v, ok := s.strs[string(b)]
	if !ok {
		if s.strs == nil || len(s.strs) >= maxInterned {
			s.strs = make(map[string]string, 64)
		}
		v = string(b)
		s.strs[v] = v
	}
	s.recent[s.next] = v
	s.next = (s.next + 1) % len(s.recent)
	return v
}

// cachedStamp is the result for a "Mmm dd hh:mm:ss" timestamp b read at
// now, if it is the last one parsed (hit).
func (s *scratch) cachedStamp(b []byte, now time.Time) (t time.Time, ok, hit bool) {
	// The same reading of the clock (==, not Equal: the location counts
	// too) gives the same result.
	if s == nil || s.stampNow != now || now.IsZero() || string(s.stampKey[:]) != string(b) {
		return time.Time{}, false, false
	}
	return s.stampTime, s.stampOK, true
}

// keepStamp remembers the result for b (15 bytes) read at now.
func (s *scratch) keepStamp(b []byte, now, t time.Time, ok bool) {
	if s == nil || len(b) != len(s.stampKey) {
		return
	}
	copy(s.stampKey[:], b)
	s.stampNow, s.stampTime, s.stampOK = now, t, ok
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
