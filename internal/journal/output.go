package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// OutputModes lists the formats Format writes, as `-o` names them.
var OutputModes = []string{"short", "short-full", "short-iso", "short-iso-precise", "short-precise",
	"short-monotonic", "short-unix", "with-unit", "verbose", "export", "json", "json-pretty", "json-sse", "json-seq", "cat"}

// FormatOptions tune Format.
type FormatOptions struct {
	Hostname string         // shown by the short formats and in _HOSTNAME
	Location *time.Location // for the short formats; nil means Local
	// All prints messages with control characters or invalid UTF-8 as they
	// are; otherwise the short formats show "[N B blob data]".
	All bool
	// OutputFields, when set, limits verbose, export and the JSON modes to
	// these fields (--output-fields); the cursor, timestamps and boot id
	// are always written, as journalctl does.
	OutputFields []string
}

// Format writes e in mode (one of OutputModes) to w.
func Format(w io.Writer, e Entry, mode string, o FormatOptions) error {
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	t := e.Realtime.In(loc)
	b, err := appendMode(nil, e, t, mode, o)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func appendShort(b []byte, e Entry, ts []byte, o FormatOptions) []byte {
	return appendShortIdent(b, e, ts, e.Identifier, o)
}

// appendShortIdent writes a short line naming the sender ident (the
// identifier, or the unit for with-unit).
func appendShortIdent(b []byte, e Entry, ts []byte, ident string, o FormatOptions) []byte {
	b = append(b, ts...)
	if e.Origin.Hostname != "" && o.Hostname != "" {
		b = append(append(b, ' '), e.Origin.Hostname...)
	} else if o.Hostname != "" {
		b = append(append(b, ' '), o.Hostname...)
	}
	b = append(b, ' ')
	if ident == "" {
		ident = e.Unit
	}
	if ident == "" {
		ident = "tend"
	}
	b = append(b, ident...)
	if e.PID > 0 {
		b = append(strconv.AppendInt(append(b, '['), int64(e.PID), 10), ']')
	}
	b = append(b, ": "...)
	if o.All || printable(e.Message) {
		b = append(b, e.Message...)
	} else {
		b = fmt.Appendf(b, "[%s blob data]", formatBytes(len(e.Message)))
	}
	return append(b, '\n')
}

// printable reports whether msg is valid UTF-8 without control characters
// other than tab.
func printable(msg []byte) bool {
	for len(msg) > 0 {
		r, n := utf8.DecodeRune(msg)
		if r == utf8.RuneError && n <= 1 || r != '\t' && unicode.IsControl(r) {
			return false
		}
		msg = msg[n:]
	}
	return true
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// field is one journald-style field of an entry.
type field struct {
	key string
	val []byte
}

// fields lists e's fields with journald's names where one exists.
func fields(e Entry, host string) []field {
	num := func(n int64) []byte { return strconv.AppendInt(nil, n, 10) }
	fs := []field{
		{"__CURSOR", []byte(FormatCursor(e))},
		{"__REALTIME_TIMESTAMP", num(e.Realtime.UnixMicro())},
		{"__MONOTONIC_TIMESTAMP", num(e.Monotonic.Microseconds())},
		{"__SEQNUM", strconv.AppendUint(nil, e.Seq, 10)},
		{"_BOOT_ID", []byte(e.BootID)},
	}
	if e.Origin.Hostname != "" {
		host = e.Origin.Hostname
	}
	if host != "" {
		fs = append(fs, field{"_HOSTNAME", []byte(host)})
	}
	fs = append(fs, field{"_TRANSPORT", []byte(transportOf(e.Stream))}, field{"TEND_STREAM", []byte(e.Stream.String())})
	if e.Unit != "" {
		fs = append(fs, field{"_SYSTEMD_UNIT", []byte(e.Unit)})
	}
	if e.PID > 0 {
		fs = append(fs, field{"_PID", num(int64(e.PID))})
	}
	if e.UID >= 0 {
		fs = append(fs, field{"_UID", num(int64(e.UID))})
	}
	fs = append(fs, field{"PRIORITY", num(int64(e.Priority))}, field{"SYSLOG_FACILITY", num(int64(e.Facility))})
	if e.Identifier != "" {
		fs = append(fs, field{"SYSLOG_IDENTIFIER", []byte(e.Identifier)})
	}
	fs = appendOriginFields(fs, e.Origin)
	if e.Partial {
		fs = append(fs, field{"_LINE_BREAK", []byte("line-max")})
	}
	return append(fs, field{"MESSAGE", e.Message})
}

// appendJSON writes journalctl's JSON: every value a string, except a
// value that is not valid UTF-8, which becomes an array of byte values.
func appendJSON(b []byte, fs []field, pretty bool) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		if pretty {
			b = append(b, "\n\t"...)
		}
		k, _ := json.Marshal(f.key)
		b = append(b, k...)
		b = append(b, ':')
		if pretty {
			b = append(b, ' ')
		}
		if utf8.Valid(f.val) {
			v, _ := json.Marshal(string(f.val))
			b = append(b, v...)
			continue
		}
		b = append(b, '[')
		for i, c := range f.val {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(c), 10)
		}
		b = append(b, ']')
	}
	if pretty {
		b = append(b, '\n')
	}
	return append(b, "}\n"...)
}

// appendExport writes the journal export format: KEY=value lines, binary
// values (newline or control characters) as KEY, newline, little-endian
// 64-bit length, the bytes, newline; an empty line ends the entry.
func appendExport(b []byte, fs []field) []byte {
	for _, f := range fs {
		b = append(b, f.key...)
		if bytes.IndexByte(f.val, '\n') < 0 && printable(f.val) {
			b = append(append(append(b, '='), f.val...), '\n')
			continue
		}
		b = append(b, '\n')
		b = binary.LittleEndian.AppendUint64(b, uint64(len(f.val)))
		b = append(append(b, f.val...), '\n')
	}
	return append(b, '\n')
}
