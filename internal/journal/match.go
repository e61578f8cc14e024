package journal

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Field matches, as journalctl(1) takes them: "FIELD=VALUE" words, where
// terms on the same field are alternatives, terms on different fields must
// all hold, and a "+" word between terms ORs the groups before and after
// it. An absolute path stands for _EXE=PATH.

// Matches is a parsed match expression. The zero Matches matches every
// entry.
type Matches struct {
	groups []matchGroup // any group may match
}

// matchGroup is one conjunction: every field's value must be one of its
// alternatives.
type matchGroup []fieldAlt

type fieldAlt struct {
	field  string
	values []string
}

// ParseMatches parses journalctl's match words.
func ParseMatches(words []string) (Matches, error) {
	var m Matches
	var g matchGroup
	for i, w := range words {
		if w == "+" {
			if len(g) == 0 || i == len(words)-1 {
				return Matches{}, fmt.Errorf(`"+" can only be used between terms`)
			}
			m.groups = append(m.groups, g)
			g = nil
			continue
		}
		field, value, err := parseTerm(w)
		if err != nil {
			return Matches{}, err
		}
		g = g.add(field, value)
	}
	if len(g) > 0 {
		m.groups = append(m.groups, g)
	}
	return m, nil
}

func parseTerm(w string) (field, value string, err error) {
	if strings.HasPrefix(w, "/") {
		return "_EXE", filepath.Clean(w), nil
	}
	field, value, ok := strings.Cut(w, "=")
	if !ok || !ValidFieldName(field) {
		return "", "", fmt.Errorf("failed to add match %q: not FIELD=VALUE (FIELD of A-Z, 0-9 and _, not starting with a digit or __) or an absolute path", w)
	}
	return field, value, nil
}

func (g matchGroup) add(field, value string) matchGroup {
	for i := range g {
		if g[i].field == field {
			g[i].values = append(g[i].values, value)
			return g
		}
	}
	return append(g, fieldAlt{field: field, values: []string{value}})
}

// ValidFieldName says whether name is a journal field name a match may
// use: 1 to 64 characters of A-Z, 0-9 and _, not starting with a digit,
// and not one of the "__" addressing fields.
func ValidFieldName(name string) bool {
	if name == "" || len(name) > 64 || name[0] >= '0' && name[0] <= '9' || strings.HasPrefix(name, "__") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Empty says whether m matches everything.
func (m Matches) Empty() bool { return len(m.groups) == 0 }

// Fields lists the fields m tests, each once.
func (m Matches) Fields() []string {
	var out []string
	for _, g := range m.groups {
		for _, a := range g {
			if !contains(out, a.field) {
				out = append(out, a.field)
			}
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// match evaluates m; get returns a field's value and whether the entry
// has that field.
func (m Matches) match(get func(field string) ([]byte, bool)) bool {
	if len(m.groups) == 0 {
		return true
	}
	for _, g := range m.groups {
		if g.match(get) {
			return true
		}
	}
	return false
}

func (g matchGroup) match(get func(field string) ([]byte, bool)) bool {
	for _, a := range g {
		v, ok := get(a.field)
		if !ok {
			return false
		}
		found := false
		for _, want := range a.values {
			if string(v) == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Match says whether entry e (with host as its _HOSTNAME) satisfies m.
func (m Matches) Match(e Entry, host string) bool {
	return m.match(func(f string) ([]byte, bool) { return EntryField(e, f, host) })
}

// transportOf is journald's _TRANSPORT for a stream: "stdout" for a
// unit's output, "syslog" for /dev/log and "driver" for tend's own
// messages, as journald marks systemd's, "kernel" for /dev/kmsg.
func transportOf(s Stream) string {
	switch s {
	case StreamSyslog:
		return "syslog"
	case StreamTend:
		return "driver"
	case StreamKernel:
		return "kernel"
	}
	return "stdout"
}

// recordField is a field of a stored record, without building an Entry.
// scratch holds numbers formatted for comparison.
func recordField(field string, r *rec, unit, boot, host string, scratch *[]byte) ([]byte, bool) {
	num := func(n int64) ([]byte, bool) {
		*scratch = strconv.AppendInt((*scratch)[:0], n, 10)
		return *scratch, true
	}
	switch field {
	case "MESSAGE":
		return r.msg, true
	case "PRIORITY":
		return num(int64(r.pri))
	case "SYSLOG_FACILITY":
		return num(int64(r.fac))
	case "SYSLOG_IDENTIFIER":
		return r.ident, len(r.ident) > 0
	case "_PID":
		if r.pid == 0 {
			return nil, false
		}
		return num(int64(r.pid))
	case "_UID":
		if r.uid == uidUnknown {
			return nil, false
		}
		return num(int64(r.uid))
	case "_SYSTEMD_UNIT":
		return []byte(unit), unit != ""
	case "_BOOT_ID":
		return []byte(boot), true
	case "_HOSTNAME":
		if h, ok := extField(r.ext, extHostname); ok {
			return h, true
		}
		return []byte(host), host != ""
	case "_TRANSPORT":
		return []byte(transportOf(Stream(r.stream))), true
	case "TEND_STREAM":
		return []byte(Stream(r.stream).String()), true
	case "_LINE_BREAK":
		return []byte("line-max"), r.flags&flagPartial != 0
	}
	return originRecordField(field, r.ext, scratch)
}

// EntryField returns the value of the journald field name of e, with host
// as _HOSTNAME, and whether e has that field.
func EntryField(e Entry, name, host string) ([]byte, bool) {
	for _, f := range fields(e, host) {
		if f.key == name {
			return f.val, true
		}
	}
	return nil, false
}

// FieldNames lists the fields tend's entries carry (docs/journal.md maps
// them to tend's entry), as `-N` shows them.
var FieldNames = []string{
	"__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM",
	"_BOOT_ID", "_HOSTNAME", "_TRANSPORT", "TEND_STREAM", "_SYSTEMD_UNIT", "_PID", "_UID",
	"PRIORITY", "SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "TEND_SOURCE_ADDRESS", "SYSLOG_TIMESTAMP",
	"SYSLOG_MSGID", "SYSLOG_STRUCTURED_DATA", "_LINE_BREAK", "MESSAGE",
}

// Recorded says whether tend's entries can carry field name; matches on
// other fields select nothing.
func Recorded(name string) bool { return contains(FieldNames, name) }

// CheckQuery reports what is wrong with q (a bad pattern, cursor, regular
// expression or match) without running it.
func CheckQuery(q Query) error {
	_, err := compile(q, noLimit)
	return err
}
