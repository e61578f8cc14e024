package syslogconf

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Config is what the files say.
type Config struct {
	Rules []Rule
	// FileMode, DirMode, FileOwner and FileGroup are rsyslog's
	// $FileCreateMode, $DirCreateMode, $FileOwner and $FileGroup (with
	// $Umask applied to the modes): how files and directories tend
	// creates look. The zero values mean 0644, 0755 and root.
	FileMode, DirMode    fs.FileMode
	FileOwner, FileGroup string
	// Files lists the files read, includes too, in order.
	Files []string
}

// Defaults are the files the system instance reads when they exist.
var Defaults = []string{"/etc/syslog.conf", "/etc/rsyslog.conf", "/etc/rsyslog.d/*.conf"}

// Load reads the files (glob patterns allowed) in order; a file reached a
// second time, by a pattern or an include, is read once. Problems are
// returned as "file:line: message" errors, each costing only its line; a
// file that cannot be read is an error too and the others still load.
func Load(paths []string) (*Config, []error) {
	l := &loader{cfg: &Config{}, seen: map[string]bool{}, umask: 0o022}
	for _, p := range paths {
		l.include(p, "")
	}
	l.finish()
	return l.cfg, l.errs
}

// Parse reads one file's text, for tests and tools; includes are followed.
func Parse(name string, r io.Reader) (*Config, []error) {
	l := &loader{cfg: &Config{}, seen: map[string]bool{name: true}, umask: 0o022}
	l.parse(name, r)
	l.finish()
	return l.cfg, l.errs
}

// loader accumulates rules, settings and errors across files.
type loader struct {
	cfg   *Config
	errs  []error
	seen  map[string]bool
	umask fs.FileMode
	depth int
	last  *Selector // the previous rule's selector, for "&" lines
}

func (l *loader) errorf(origin, format string, a ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", origin, fmt.Sprintf(format, a...)))
}

func (l *loader) finish() {
	if l.cfg.FileMode == 0 {
		l.cfg.FileMode = 0o644
	}
	if l.cfg.DirMode == 0 {
		l.cfg.DirMode = 0o755
	}
	l.cfg.FileMode &^= l.umask
	l.cfg.DirMode &^= l.umask
}

// include reads the files pattern names, in lexical order. from is the
// including line ("" for the command line), for the error of a pattern
// that names nothing.
func (l *loader) include(pattern, from string) {
	names := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		names, _ = filepath.Glob(pattern)
		sort.Strings(names)
	}
	for _, name := range names {
		if l.seen[name] {
			continue
		}
		l.seen[name] = true
		f, err := os.Open(name)
		if err != nil {
			if from != "" {
				l.errorf(from, "include: %v", err)
			} else {
				l.errs = append(l.errs, err)
			}
			continue
		}
		l.cfg.Files = append(l.cfg.Files, name)
		l.depth++
		if l.depth > 16 {
			l.errorf(from, "includes nested too deep")
		} else {
			l.parse(name, f)
		}
		l.depth--
		f.Close()
	}
}

// parse reads the lines of one file.
func (l *loader) parse(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line, start := sc.Text(), n
		// A backslash at the end continues the line, as in sysklogd.
		for strings.HasSuffix(line, "\\") && sc.Scan() {
			n++
			line = line[:len(line)-1] + sc.Text()
		}
		origin := name + ":" + strconv.Itoa(start)
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if isScript(line) {
			l.errorf(origin, "rsyslog RainerScript is not supported (%s); tend reads the legacy selector lines only", firstWord(line))
			n += skipStatement(line, sc)
			continue
		}
		l.line(origin, line)
	}
	if err := sc.Err(); err != nil {
		l.errorf(name, "%v", err)
	}
}

// line handles one logical line that is not RainerScript.
func (l *loader) line(origin, line string) {
	switch line[0] {
	case '$':
		l.directive(origin, line)
		return
	case ':':
		l.errorf(origin, "rsyslog property-based filters are not supported")
		return
	}
	sel, action := cutSelector(line)
	if action == "" {
		l.errorf(origin, "selector %q without an action", sel)
		return
	}
	r := Rule{Origin: origin}
	if sel == "&" {
		if l.last == nil {
			l.errorf(origin, "\"&\" without a selector line before it")
			return
		}
		r.Selector = *l.last
	} else {
		l.last = nil // an "&" after a bad line has nothing to repeat
		s, err := ParseSelector(sel)
		if err != nil {
			l.errorf(origin, "%v", err)
			return
		}
		r.Selector = s
	}
	tmpl, err := parseAction(&r, action)
	if err != nil {
		l.last = nil
		l.errorf(origin, "%v", err)
		return
	}
	if tmpl != "" {
		l.errorf(origin, "template %q is not applied: tend writes the traditional format", tmpl)
	}
	l.cfg.Rules = append(l.cfg.Rules, r)
	l.last = &l.cfg.Rules[len(l.cfg.Rules)-1].Selector
}

// cutSelector splits a selector line at the whitespace that ends the
// selector; whitespace right after ";" or "," continues it, as a
// continued line's indentation does.
func cutSelector(line string) (sel, action string) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != ' ' && c != '\t' {
			b.WriteByte(c)
			continue
		}
		if s := b.String(); strings.HasSuffix(s, ";") || strings.HasSuffix(s, ",") {
			continue
		}
		return b.String(), strings.TrimSpace(line[i:])
	}
	return b.String(), ""
}

// cutField splits a line into its first whitespace-separated field and the
// trimmed rest.
func cutField(line string) (first, rest string) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], strings.TrimSpace(line[i:])
}

// directive applies a legacy "$Name value" line; those tend has no use
// for are warned about by name.
func (l *loader) directive(origin, line string) {
	name, val := cutField(line[1:])
	switch strings.ToLower(name) {
	case "includeconfig":
		if err := absPath(val); err != nil {
			l.errorf(origin, "$IncludeConfig %v", err)
			return
		}
		l.include(val, origin)
	case "filecreatemode", "dircreatemode", "umask":
		m, err := strconv.ParseUint(val, 8, 32)
		if err != nil || m > 0o7777 {
			l.errorf(origin, "$%s %q: want an octal mode", name, val)
			return
		}
		switch strings.ToLower(name) {
		case "filecreatemode":
			l.cfg.FileMode = fs.FileMode(m)
		case "dircreatemode":
			l.cfg.DirMode = fs.FileMode(m)
		default:
			l.umask = fs.FileMode(m)
		}
	case "fileowner":
		l.cfg.FileOwner = val
	case "filegroup":
		l.cfg.FileGroup = val
	default:
		l.errorf(origin, "$%s is not applied by tend", name)
	}
}

// isScript reports whether a line starts a RainerScript statement: a word
// followed by "(" (module, input, template, action, ruleset, include, …),
// "if …", or a block brace.
func isScript(line string) bool {
	if strings.HasPrefix(line, "if ") || strings.HasPrefix(line, "if(") || line[0] == '{' || line[0] == '}' {
		return true
	}
	w := firstWord(line)
	return w != "" && len(w) < len(line) && line[len(w)] == '('
}

// firstWord returns the leading run of letters of line.
func firstWord(line string) string {
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z' || line[i] == '_') {
		i++
	}
	if i == 0 {
		return line[:min(len(line), 20)]
	}
	return line[:i]
}

// skipStatement consumes the lines of a RainerScript statement that
// continues after its first line, until its parentheses and braces
// balance, so that its parameters are not read as selector lines. It
// returns the number of lines consumed.
func skipStatement(first string, sc *bufio.Scanner) int {
	depth, quoted := 0, false
	count := func(s string) {
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && quoted:
				i++
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == '#':
				return // a comment to the end of the line
			case c == '(' || c == '{':
				depth++
			case c == ')' || c == '}':
				depth--
			}
		}
	}
	count(first)
	n := 0
	for depth > 0 && sc.Scan() {
		n++
		count(sc.Text())
	}
	return n
}
