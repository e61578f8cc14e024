// Package journal is tend's log store: it ingests the output of every unit
// through pipes it owns, keeps it in append-only, crash-safe segment files
// (one directory per unit, length+CRC32C framed records, a sparse block index
// per segment), applies rotation and retention, and answers queries (units,
// time ranges, priorities, grep, last N, cursors, follow).
//
// The on-disk format and the crash-safety argument are described in
// docs/journal.md.
package journal

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stream tells where an entry came from.
type Stream uint8

// Streams of an entry.
const (
	StreamStdout Stream = iota // a unit's standard output
	StreamStderr               // a unit's standard error
	StreamSyslog               // a message received on /dev/log
	StreamTend                 // tend's own event about the unit
	StreamKernel               // a kernel message read from /dev/kmsg

	streamLast = StreamKernel
)

var streamNames = [...]string{"stdout", "stderr", "syslog", "tend", "kernel"}

// String returns "stdout", "stderr", "syslog", "tend" or "kernel".
func (s Stream) String() string {
	if int(s) < len(streamNames) {
		return streamNames[s]
	}
	return "stream" + strconv.Itoa(int(s))
}

// ParseStream is the inverse of Stream.String.
func ParseStream(s string) (Stream, error) {
	for i, n := range streamNames {
		if n == s {
			return Stream(i), nil
		}
	}
	return 0, fmt.Errorf("unknown stream %q", s)
}

// Syslog priorities (levels), as in syslog(3).
const (
	PriEmerg = iota
	PriAlert
	PriCrit
	PriErr
	PriWarning
	PriNotice
	PriInfo
	PriDebug
)

// Entry is one journal entry.
type Entry struct {
	Seq        uint64        // global sequence number, strictly increasing across boots
	Realtime   time.Time     // wall clock when tend received the line
	Monotonic  time.Duration // CLOCK_MONOTONIC when tend received the line
	BootID     string        // boot the entry was written in (set by the journal)
	Unit       string        // unit the entry belongs to; "" for none
	PID, UID   int           // sender; 0 when unknown (UID -1 is stored as unknown)
	Priority   int           // 0 emerg … 7 debug
	Facility   int           // syslog facility number (3 = daemon)
	Identifier string        // SyslogIdentifier=, or the program name
	Stream     Stream        // where the entry came from
	// Partial is set when the line was longer than LineMax (or ended
	// without a newline at a split point) and continues in the next entry.
	Partial bool
	// Origin holds what a syslog sender said about itself beyond the
	// local credentials: remote host, source address, its own timestamp,
	// RFC 5424 MSGID and structured data. Zero for other entries.
	Origin  Origin
	Message []byte // raw bytes, never reinterpreted (NUL and invalid UTF-8 kept)
}

// Cursor returns an opaque, stable position of e: a later query with
// Cursor or AfterCursor set to it starts there.
func (j *Journal) Cursor(e Entry) string { return FormatCursor(e) }

// FormatCursor is Journal.Cursor without a journal, for readers.
func FormatCursor(e Entry) string {
	return fmt.Sprintf("s=%x;b=%s;t=%x", e.Seq, e.BootID, e.Realtime.UnixMicro())
}

// ParseCursor returns the sequence number a cursor designates. Only the
// sequence number positions; the boot id and time are informative.
func ParseCursor(c string) (uint64, error) {
	for _, f := range strings.Split(c, ";") {
		if v, ok := strings.CutPrefix(f, "s="); ok {
			seq, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid cursor %q: %w", c, err)
			}
			return seq, nil
		}
	}
	return 0, fmt.Errorf("invalid cursor %q: no sequence number", c)
}
