package syslog

import (
	"errors"
	"time"
)

// Message formats reported in Message.Format.
const (
	FormatRFC3164 = "rfc3164"
	FormatRFC5424 = "rfc5424"
	FormatRaw     = "raw"
)

// Default facility and severity for packets without a valid PRI part:
// user.notice, as RFC 3164 section 4.3.3 prescribes for relays.
const (
	DefaultFacility = 1
	DefaultSeverity = 5
)

// maxPRI is the largest valid PRI value (facility 23, severity 7).
const maxPRI = 23*8 + 7

// ErrEmpty is returned by Parse for a packet that holds nothing but
// whitespace or NUL bytes; there is no message to keep.
var ErrEmpty = errors.New("empty syslog message")

// Message is one parsed syslog message. Fields the sender did not provide
// are zero: Time is the zero time when the packet carried no timestamp and
// the header strings are empty for absent or NILVALUE ("-") fields.
type Message struct {
	Facility, Severity int
	// Time is the sender's timestamp; RFC 3164 timestamps, which have no
	// year and no zone, are placed in the zone of the receive time and the
	// year that puts them closest to it.
	Time                      time.Time
	Hostname, AppName, ProcID string
	MsgID                     string
	// StructuredData is the RFC 5424 STRUCTURED-DATA element as sent,
	// brackets and escapes included, or "" for NILVALUE.
	StructuredData string
	// Msg is the free-form message with a leading UTF-8 BOM and trailing
	// newlines and NULs removed. Parse returns a slice of its input.
	Msg []byte
	// Format tells which grammar matched: FormatRFC3164, FormatRFC5424 or
	// FormatRaw when no header was recognised.
	Format string
}

// Parse parses one syslog message as sent over /dev/log, UDP or one TCP
// frame. It accepts RFC 5424, RFC 3164 with and without the hostname (the
// local form glibc's syslog(3) sends), and anything else as FormatRaw with
// the whole text after an optional PRI as message: the only error is
// ErrEmpty. A missing or invalid PRI means user.notice. now supplies the
// year and zone of RFC 3164 timestamps.
func Parse(b []byte, now time.Time) (Message, error) { return parse(b, now, nil) }

// parse is Parse taking header strings from sc.
func parse(b []byte, now time.Time, sc *scratch) (Message, error) {
	b = trimTrailer(b)
	if len(b) == 0 {
		return Message{Format: FormatRaw}, ErrEmpty
	}
	m := Message{Facility: DefaultFacility, Severity: DefaultSeverity}
	rest := b
	if pri, n, ok := parsePRI(b); ok {
		m.Facility, m.Severity = pri/8, pri%8
		rest = b[n:]
	}
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		if parse5424(&m, rest[2:], sc) {
			return m, nil
		}
		m = resetHeader(m)
	}
	if parse3164(&m, rest, now, sc) {
		return m, nil
	}
	m = resetHeader(m)
	m.Msg = rest
	m.Format = FormatRaw
	return m, nil
}

// resetHeader clears what a failed grammar may have filled in, keeping PRI.
func resetHeader(m Message) Message {
	return Message{Facility: m.Facility, Severity: m.Severity}
}

// trimTrailer drops trailing LF, CR and NUL bytes, which senders append
// inconsistently and which are never part of the message.
func trimTrailer(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

// parsePRI parses "<N>" at the start of b, N in 0..191 with 1 to 3 digits
// and no leading zero (except "<0>"). It returns the value and its length.
func parsePRI(b []byte) (pri, n int, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for ; i < len(b) && i <= 4 && isDigit(b[i]); i++ {
		pri = pri*10 + int(b[i]-'0')
	}
	digits := i - 1
	if digits == 0 || digits > 3 || i >= len(b) || b[i] != '>' {
		return 0, 0, false
	}
	if digits > 1 && b[1] == '0' || pri > maxPRI {
		return 0, 0, false
	}
	return pri, i + 1, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
