package syslog

import (
	"bytes"
	"strconv"
	"time"
)

// bom is the UTF-8 byte order mark RFC 5424 allows in front of MSG.
var bom = []byte{0xEF, 0xBB, 0xBF}

// parse5424 parses b, the part after "<PRI>1 ", into m. It reports false
// when b does not follow the RFC 5424 header grammar; m is then garbage.
func parse5424(m *Message, b []byte, sc *scratch) bool {
	ts, b, ok := field(b, sc)
	if !ok {
		return false
	}
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return false
		}
		m.Time = t
	}
	for _, dst := range []*string{&m.Hostname, &m.AppName, &m.ProcID, &m.MsgID} {
		if *dst, b, ok = field(b, sc); !ok {
			return false
		}
	}
	n, ok := structuredDataLen(b)
	if !ok {
		return false
	}
	if sd := string(b[:n]); sd != "-" {
		m.StructuredData = sd
	}
	switch b = b[n:]; {
	case len(b) == 0:
	case b[0] == ' ':
		m.Msg = bytes.TrimPrefix(b[1:], bom)
	default:
		return false
	}
	m.Format = FormatRFC5424
	return true
}

// field takes one space-terminated header field of printable US-ASCII from
// b. NILVALUE ("-") yields "". ok is false for an empty or invalid field or
// a missing separator.
func field(b []byte, sc *scratch) (f string, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] != ' ' {
		if b[i] < 33 || b[i] > 126 {
			return "", nil, false
		}
		i++
	}
	if i == 0 || i == len(b) {
		return "", nil, false
	}
	if i == 1 && b[0] == '-' {
		return "", b[2:], true
	}
	return sc.str(b[:i]), b[i+1:], true
}

// structuredDataLen returns the length of the STRUCTURED-DATA at the start
// of b: "-" or one or more [ID param="value" ...] elements, where values
// may contain \" \\ and \] escapes.
func structuredDataLen(b []byte) (int, bool) {
	if len(b) > 0 && b[0] == '-' {
		return 1, len(b) == 1 || b[1] == ' '
	}
	i := 0
	for i < len(b) && b[i] == '[' {
		n, ok := sdElementLen(b[i:])
		if !ok {
			return 0, false
		}
		i += n
	}
	return i, i > 0
}

// sdElementLen returns the length of one [ID param="value" ...] element.
func sdElementLen(b []byte) (int, bool) {
	i := 1
	if n := sdNameLen(b[i:]); n == 0 {
		return 0, false
	} else {
		i += n
	}
	for {
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ' ':
			i++
		default:
			return 0, false
		}
		n := sdNameLen(b[i:])
		if n == 0 || i+n+1 >= len(b) || b[i+n] != '=' || b[i+n+1] != '"' {
			return 0, false
		}
		i += n + 2
		v, ok := sdValueLen(b[i:])
		if !ok {
			return 0, false
		}
		i += v
	}
}

// sdNameLen returns the length of an SD-NAME: printable US-ASCII except
// '=', ' ', ']' and '"'.
func sdNameLen(b []byte) int {
	i := 0
	for i < len(b) && b[i] > 32 && b[i] < 127 && b[i] != '=' && b[i] != ']' && b[i] != '"' {
		i++
	}
	return i
}

// sdValueLen returns the length of a PARAM-VALUE including its closing
// quote; a backslash escapes the byte after it.
func sdValueLen(b []byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// Append5424 appends m in RFC 5424 syntax to dst, without transport framing.
// Empty header fields become NILVALUE; fields are not validated, so callers
// that did not get m from Parse should sanitize them (see the Forwarder).
// For a Message Parse returned with FormatRFC5424, Parse of the result
// yields the same Message.
func Append5424(dst []byte, m Message) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(m.Facility*8+m.Severity), 10)
	dst = append(dst, ">1 "...)
	if m.Time.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = m.Time.AppendFormat(dst, time.RFC3339Nano)
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID, m.StructuredData} {
		dst = append(dst, ' ')
		if f == "" {
			f = "-"
		}
		dst = append(dst, f...)
	}
	if len(m.Msg) > 0 {
		dst = append(dst, ' ')
		if bytes.HasPrefix(m.Msg, bom) {
			// Parse strips one BOM; keep a BOM that is part of the text.
			dst = append(dst, bom...)
		}
		dst = append(dst, m.Msg...)
	}
	return dst
}
