package unit

import (
	"bufio"
	"io"
	"strings"
)

// File is the raw content of one unit file or drop-in: its assignments
// in order, after continuation lines were joined and comments dropped.
type File struct {
	Path     string
	Sections []string // section names in order of first appearance
	Entries  []Entry
}

// maxLine bounds one logical line (continuations included), as systemd's
// LONG_LINE_MAX does, so a runaway file cannot exhaust memory.
const maxLine = 1 << 20

// ParseFile reads the syntax of a unit file: "[Section]" headers,
// "Key=Value" assignments, '#' and ';' comment lines, and lines ending in
// an unescaped backslash that continue on the next line (comment lines
// inside a continuation are skipped, as systemd does). Problems become
// Diags and the offending line is skipped; the rest of the file is kept.
func ParseFile(path string, r io.Reader) (*File, []Diag) {
	f := &File{Path: path}
	var diags []Diag
	diag := func(line int, sev Severity, msg string) {
		diags = append(diags, Diag{File: path, Line: line, Severity: sev, Msg: msg})
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine+1)
	section := ""
	var cont strings.Builder
	inCont := false
	contStart := 0
	lineNo := 0
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
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
		if cont.Len()+len(line) > maxLine {
			diag(contStart, Error, "line too long, ignoring")
			cont.Reset()
			inCont = false
			continue
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
		section = parseLine(f, section, line, contStart, path, diag)
	}
	if err := sc.Err(); err != nil {
		diag(lineNo+1, Error, "read error: "+err.Error())
	}
	if inCont {
		section = parseLine(f, section, cont.String(), contStart, path, diag)
	}
	_ = section
	return f, diags
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
