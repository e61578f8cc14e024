package journal

import (
	"bytes"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// The output modes, each as journalctl(1) writes it. Timestamps follow
// journalctl's: short "Jan 02 15:04:05", short-full and with-unit
// "Mon 2006-01-02 15:04:05 MST", short-iso "2006-01-02T15:04:05-0700",
// short-unix seconds.microseconds since the epoch, short-monotonic
// "[ seconds.microseconds]" since boot, verbose the short-full time with
// microseconds followed by the cursor.

// appendMode appends e in mode to b; t is its realtime in the output's
// location.
func appendMode(b []byte, e Entry, t time.Time, mode string, o FormatOptions) ([]byte, error) {
	switch mode {
	case "short", "":
		return appendShort(b, e, t.AppendFormat(nil, "Jan 02 15:04:05"), o), nil
	case "short-precise":
		return appendShort(b, e, t.AppendFormat(nil, "Jan 02 15:04:05.000000"), o), nil
	case "short-iso":
		return appendShort(b, e, t.AppendFormat(nil, "2006-01-02T15:04:05-0700"), o), nil
	case "short-iso-precise":
		return appendShort(b, e, t.AppendFormat(nil, "2006-01-02T15:04:05.000000-0700"), o), nil
	case "short-full":
		return appendShort(b, e, t.AppendFormat(nil, "Mon 2006-01-02 15:04:05 MST"), o), nil
	case "with-unit":
		ident := e.Unit
		if ident == "" {
			ident = e.Identifier
		}
		return appendShortIdent(b, e, t.AppendFormat(nil, "Mon 2006-01-02 15:04:05 MST"), ident, o), nil
	case "short-unix":
		us := e.Realtime.UnixMicro()
		return appendShort(b, e, fmt.Appendf(nil, "%10d.%06d", us/1e6, us%1e6), o), nil
	case "short-monotonic":
		us := e.Monotonic.Microseconds()
		return appendShort(b, e, fmt.Appendf(nil, "[%5d.%06d]", us/1e6, us%1e6), o), nil
	case "verbose":
		return appendVerbose(b, e, t, o), nil
	case "cat":
		return append(append(b, e.Message...), '\n'), nil
	case "export":
		return appendExport(b, selectFields(fields(e, o.Hostname), o.OutputFields, true)), nil
	case "json", "json-pretty":
		return appendJSON(b, selectFields(fields(e, o.Hostname), o.OutputFields, true), mode == "json-pretty"), nil
	case "json-sse":
		b = append(b, "data: "...)
		b = appendJSON(b, selectFields(fields(e, o.Hostname), o.OutputFields, true), false)
		return append(b, '\n'), nil
	case "json-seq":
		b = append(b, 0x1e)
		return appendJSON(b, selectFields(fields(e, o.Hostname), o.OutputFields, true), false), nil
	}
	return nil, fmt.Errorf("unknown output format %q", mode)
}

// alwaysWritten are the fields journalctl writes in export and JSON
// whatever --output-fields says.
var alwaysWritten = []string{"__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM", "_BOOT_ID"}

// selectFields keeps the fields named in only (all when only is empty),
// and with addr also the addressing fields.
func selectFields(fs []field, only []string, addr bool) []field {
	if len(only) == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if contains(only, f.key) || addr && contains(alwaysWritten, f.key) {
			out = append(out, f)
		}
	}
	return out
}

// appendVerbose writes the time with microseconds and the cursor, then
// every field of the entry on its own line, indented by four spaces. A
// value that is not printable text is shown as "[N blob data]" unless
// o.All; the lines of a multi-line value after the first are indented to
// line up with the value.
func appendVerbose(b []byte, e Entry, t time.Time, o FormatOptions) []byte {
	b = t.AppendFormat(b, "Mon 2006-01-02 15:04:05.000000 MST")
	b = append(append(append(b, " ["...), FormatCursor(e)...), "]\n"...)
	for _, f := range selectFields(fields(e, o.Hostname), o.OutputFields, false) {
		if len(f.key) > 1 && f.key[0] == '_' && f.key[1] == '_' {
			continue // shown in the header line
		}
		b = append(append(b, "    "...), f.key...)
		b = append(b, '=')
		if !o.All && !printableText(f.val) {
			b = fmt.Appendf(b, "[%s blob data]\n", formatBytes(len(f.val)))
			continue
		}
		indent := 4 + len(f.key) + 1
		val := bytes.TrimSuffix(f.val, []byte("\n"))
		for i, line := range bytes.Split(val, []byte("\n")) {
			if i > 0 {
				b = append(b, bytes.Repeat([]byte(" "), indent)...)
			}
			b = append(append(b, line...), '\n')
		}
	}
	return b
}

// printableText is printable with newlines allowed, as journalctl's
// verbose mode judges values.
func printableText(v []byte) bool {
	for len(v) > 0 {
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n <= 1 || r != '\t' && r != '\n' && unicode.IsControl(r) {
			return false
		}
		v = v[n:]
	}
	return true
}
