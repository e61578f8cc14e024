package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON strings cannot hold arbitrary bytes (encoding/json would replace
// invalid UTF-8 with U+FFFD), and log messages may hold anything. Like
// journalctl's JSON output, a message that is not valid UTF-8 travels as an
// array of byte values, so nothing is lost on the wire.
//
// Log entries are the API's bulk traffic, so they are encoded by hand:
// the reflective encoder plus the re-validation of a MarshalJSON result
// cost three times as much.

// MarshalJSON encodes e, writing a binary message as an array of bytes.
func (e LogEntry) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 160+len(e.Message))), nil
}

// AppendJSON appends e's JSON encoding to b (see MarshalJSON).
func (e LogEntry) AppendJSON(b []byte) []byte {
	b = append(b, `{"cursor":`...)
	b = appendString(b, e.Cursor)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Monotonic != 0 {
		b = append(b, `,"monotonic_usec":`...)
		b = strconv.AppendUint(b, e.Monotonic, 10)
	}
	b = appendOptString(b, `,"boot_id":`, e.BootID)
	b = appendOptString(b, `,"unit":`, e.Unit)
	b = appendOptInt(b, `,"pid":`, e.PID)
	b = appendOptInt(b, `,"uid":`, e.UID)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(e.Priority), 10)
	b = appendOptInt(b, `,"facility":`, e.Facility)
	b = appendOptString(b, `,"identifier":`, e.Identifier)
	b = appendOptString(b, `,"stream":`, e.Stream)
	b = appendOptString(b, `,"hostname":`, e.Hostname)
	b = appendOptString(b, `,"source_address":`, e.SourceAddress)
	if !e.SenderTime.IsZero() {
		b = append(b, `,"sender_time":"`...)
		b = e.SenderTime.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendOptString(b, `,"msgid":`, e.MsgID)
	b = appendOptString(b, `,"structured_data":`, e.StructuredData)
	b = append(b, `,"message":`...)
	if utf8.ValidString(e.Message) {
		b = appendString(b, e.Message)
	} else {
		b = append(b, '[')
		for i := 0; i < len(e.Message); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(e.Message[i]), 10)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendOptInt(b []byte, key string, n int) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), int64(n), 10)
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON decodes e, accepting a message as a string or as an array
// of byte values.
func (e *LogEntry) UnmarshalJSON(b []byte) error {
	type plain LogEntry
	// Fast path: a string message decodes in one pass; only a byte array
	// (rare) fails on "message" and takes the second.
	var p plain
	err := json.Unmarshal(b, &p)
	var te *json.UnmarshalTypeError
	if err == nil {
		*e = LogEntry(p)
		return nil
	}
	if !errors.As(err, &te) || te.Field != "message" {
		return err
	}
	var aux struct {
		plain
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = LogEntry(aux.plain)
	if len(aux.Message) == 0 || string(aux.Message) == "null" {
		e.Message = ""
		return nil
	}
	if aux.Message[0] != '[' {
		return json.Unmarshal(aux.Message, &e.Message)
	}
	var raw []int
	if err := json.Unmarshal(aux.Message, &raw); err != nil {
		return fmt.Errorf("log entry message: %w", err)
	}
	msg := make([]byte, len(raw))
	for i, v := range raw {
		if v < 0 || v > 255 {
			return fmt.Errorf("log entry message: byte %d out of range", v)
		}
		msg[i] = byte(v)
	}
	e.Message = string(msg)
	return nil
}
