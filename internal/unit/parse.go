package unit

import (
	"fmt"
	"io"
	"strings"
)

// File is the raw content of one unit file or drop-in: its assignments
// in order, after continuation lines were joined and comments dropped.
type File struct {
	Path     string
	Sections []string // section names in order of first appearance
	Entries  []Entry
	// OverLimit is set when the file broke one of the limits below; the
	// parse stopped there and the file (and the unit) must not be used.
	OverLimit bool
}

// Limits on what one unit may hold, its fragment and drop-ins together.
// They keep the work every request does on a unit bounded and a runaway
// generator from exhausting the manager's memory; a unit over a limit is
// not loaded at all (as systemd refuses a file with an overlong line),
// rather than run with part of what its author wrote.
const (
	// MaxLine bounds one logical line, continuations included: systemd's
	// LONG_LINE_MAX.
	MaxLine = 1 << 20
	// MaxAssignments bounds the lines other than blanks and comments.
	MaxAssignments = 1 << 16
	// MaxUnitBytes bounds the size of the unit's files.
	MaxUnitBytes = 16 << 20
)

// budget is what the limits leave while a unit's files are read in turn.
type budget struct {
	assignments int
	bytes       int64
}

func newBudget() *budget { return &budget{assignments: MaxAssignments, bytes: MaxUnitBytes} }

// ParseFile reads the syntax of a unit file: "[Section]" headers,
// "Key=Value" assignments, '#' and ';' comment lines, and lines ending in
// an unescaped backslash that continue on the next line (comment lines
// inside a continuation are skipped, as systemd does). Problems become
// Diags and the offending line is skipped; the rest of the file is kept.
// A file over the limits above comes back with OverLimit set.
func ParseFile(path string, r io.Reader) (*File, []Diag) {
	return parse(path, r, newBudget())
}

// readAll reads r up to limit bytes plus one, so that a caller can tell
// a source over the limit from one at it. A unit file is read with one
// buffer and converted to one string whose substrings become the
// entries: a line scanner's buffer and a string per line were most of
// the parse's allocations, at boot a thousand files' worth.
func readAll(r io.Reader, limit int64) (string, error) {
	if limit < 0 {
		limit = 0
	}
	buf := make([]byte, 0, min(limit+1, 1024))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return string(buf), nil
		case err != nil:
			return string(buf), err
		case int64(len(buf)) > limit:
			return string(buf), nil
		}
	}
}

// nextLine splits the first line off s as bufio.ScanLines does: the
// newline and a carriage return before it are dropped, and a last line
// without a newline is still a line.
func nextLine(s string) (line, rest string) {
	line, rest, found := strings.Cut(s, "\n")
	if !found {
		rest = ""
	}
	return strings.TrimSuffix(line, "\r"), rest
}

// parse is ParseFile drawing on b, which it reduces by what the file used.
func parse(path string, r io.Reader, b *budget) (*File, []Diag) {
	f := &File{Path: path}
	var diags []Diag
	diag := func(line int, sev Severity, msg string) {
		diags = append(diags, Diag{File: path, Line: line, Severity: sev, Msg: msg})
	}
	over := func(line int, msg string) (*File, []Diag) {
		diag(line, Error, msg+"; the unit is not loaded")
		f.OverLimit = true
		f.Entries = nil // nothing of a refused file is kept
		return f, diags
	}
	// Read at most one byte more than the budget: enough to know the
	// unit is too large without reading all of it.
	text, readErr := readAll(r, b.bytes)
	b.bytes -= int64(len(text))
	// Room for a small file's entries up front; a large one grows as usual.
	f.Entries = make([]Entry, 0, min(strings.Count(text, "\n")+1, 32))
	section := ""
	var cont strings.Builder
	inCont := false
	contStart := 0
	lineNo := 0
	for rest := text; rest != ""; {
		var raw string
		raw, rest = nextLine(rest)
		lineNo++
		if lineNo == 1 {
			raw = strings.TrimPrefix(raw, "\uFEFF")
		}
		trimmed := strings.TrimLeft(raw, " \t")
		if inCont && trimmed != "" && (trimmed[0] == '#' || trimmed[0] == ';') {
			continue
		}
		line := raw
		if !inCont {
			line = trimmed
			contStart = lineNo
		}
		if cont.Len()+len(line) > MaxLine {
			if inCont {
				return over(lineNo, "continuation line longer than 1 MiB")
			}
			return over(lineNo, "line longer than 1 MiB")
		}
		if endsInBackslash(line) {
			cont.WriteString(line[:len(line)-1])
			cont.WriteByte(' ')
			inCont = true
			continue
		}
		if inCont {
			cont.WriteString(line)
			line = cont.String()
			cont.Reset()
			inCont = false
		}
		if counts(line) {
			if b.assignments--; b.assignments < 0 {
				return over(contStart, fmt.Sprintf("more than %d assignments in the unit", MaxAssignments))
			}
		}
		section = parseLine(f, section, line, contStart, path, diag)
	}
	if b.bytes < 0 {
		return over(max(lineNo, 1), fmt.Sprintf("the unit's files are larger than %d MiB", MaxUnitBytes>>20))
	}
	if readErr != nil {
		diag(lineNo+1, Error, "read error: "+readErr.Error())
	}
	if inCont {
		if counts(cont.String()) {
			if b.assignments--; b.assignments < 0 {
				return over(contStart, fmt.Sprintf("more than %d assignments in the unit", MaxAssignments))
			}
		}
		parseLine(f, section, cont.String(), contStart, path, diag)
	}
	return f, diags
}

// counts reports whether a logical line counts against MaxAssignments:
// anything but blanks and comments, malformed lines included, so that
// bad lines cannot pile up diagnostics without bound either.
func counts(line string) bool {
	line = strings.TrimSpace(line)
	return line != "" && line[0] != '#' && line[0] != ';'
}

// endsInBackslash reports whether s ends in an odd number of backslashes,
// that is an unescaped one.
func endsInBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// parseLine handles one logical line and returns the current section.
func parseLine(f *File, section, line string, lineNo int, path string, diag func(int, Severity, string)) string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' || line[0] == ';' {
		return section
	}
	if line[0] == '[' {
		if line[len(line)-1] != ']' || len(line) < 3 {
			diag(lineNo, Error, "invalid section header '"+line+"'")
			return ""
		}
		name := line[1 : len(line)-1]
		if strings.ContainsAny(name, "[]") {
			diag(lineNo, Error, "invalid section header '"+line+"'")
			return ""
		}
		seen := false
		for _, s := range f.Sections {
			seen = seen || s == name
		}
		if !seen {
			f.Sections = append(f.Sections, name)
		}
		return name
	}
	if section == "" {
		diag(lineNo, Error, "assignment outside of section, ignoring")
		return section
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		diag(lineNo, Error, "missing '=', ignoring line")
		return section
	}
	key = strings.TrimSpace(key)
	if key == "" {
		diag(lineNo, Error, "empty key, ignoring line")
		return section
	}
	f.Entries = append(f.Entries, Entry{
		Section: section, Key: key, Value: strings.TrimSpace(value),
		File: path, Line: lineNo,
	})
	return section
}
