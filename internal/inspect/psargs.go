package inspect

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PsArgsEnv is what parsing a ps command line needs from its surroundings.
type PsArgsEnv struct {
	// Screen is the terminal's width, or Unlimited when the output is not
	// a terminal (before COLUMNS, --cols and -w apply).
	Screen int
	Getenv func(string) string
	// Lookup resolves a user name or number to a uid.
	Lookup func(string) (int, bool)
	// SelfTTY is the device number of ps's own terminal (BSD T, bare t).
	SelfTTY uint64
	// DevRoot is where terminal names are looked up ("/dev").
	DevRoot string
}

// PsArgs is a parsed ps command line.
type PsArgs struct {
	Options PsOptions
	JSON    bool   // -o json (tend's)
	Help    bool   // --help
	Version bool   // -V, V, --version
	Socket  string // --socket (tend's)
	UserIns bool   // --user-instance (tend's)
}

// PsUsageError is a command line procps would refuse; the message is
// procps's.
type PsUsageError struct{ Msg string }

func (e *PsUsageError) Error() string { return e.Msg }

// Simple-selection options.
const (
	ssUa = 1 << iota // -a
	ssUd             // -d
	ssBa             // a
	ssBx             // x
)

// Format options.
const (
	ffUf = 1 << iota // -f, -F
	ffUl             // -l
	ffBj             // j
	ffBl             // l
	ffBu             // u
	ffBv             // v
	ffBs             // s
)

// Format modifiers.
const (
	fmF = 1 << iota // -F
	fmJ             // -j
	fmY             // -y
	fmC             // -c
	fmP             // -P
)

// psParser reads a ps command line as procps does: first as UNIX options
// (single dash), and when that fails, again with single-dash words read
// as BSD options ("ps -aux" is "ps aux").
type psParser struct {
	env        PsArgsEnv
	args       []string
	i          int
	forceBSD   bool
	bsdDefault bool // a BSD option or a bare pid was given
	simple     int
	formats    int
	modifiers  int
	threadsL   bool
	wide       int
	screen     int
	header     int // 0 default, 1 none, 2 every page (treated as one)
	specs      []string
	out        PsArgs
}

// ParsePsArgs parses ps's arguments (without the command name).
func ParsePsArgs(args []string, env PsArgsEnv) (*PsArgs, error) {
	p := &psParser{env: env, args: args}
	res, err := p.run()
	if err == nil {
		return res, nil
	}
	if _, usage := err.(*PsUsageError); !usage {
		return nil, err
	}
	// procps's second chance: BSD syntax throughout; its error, if it fails
	// too, is the first one.
	q := &psParser{env: env, args: args, forceBSD: true}
	if res, err2 := q.run(); err2 == nil {
		return res, nil
	}
	return nil, err
}

func (p *psParser) run() (*PsArgs, error) {
	p.screen = p.env.Screen
	if c := p.env.Getenv("COLUMNS"); c != "" {
		if n, err := strconv.Atoi(c); err == nil && n > 0 && n < Unlimited {
			p.screen = n
		}
	}
	for ; p.i < len(p.args); p.i++ {
		a := p.args[p.i]
		var err error
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2 && isLetter(a[2]):
			err = p.long(a[2:])
		case len(a) > 1 && a[0] == '-' && isLetter(a[1]) && !p.forceBSD:
			err = p.unix(a[1:])
		case len(a) > 1 && a[0] == '-' && isLetter(a[1]):
			p.bsdDefault = true
			err = p.bsd(a[1:])
		case a != "" && isLetter(a[0]):
			p.bsdDefault = true
			err = p.bsd(a)
		case a != "" && a[0] >= '0' && a[0] <= '9':
			p.bsdDefault = true
			err = p.pidList(a, &p.out.Options.PIDs)
		case a != "" && a[0] == '+':
			p.bsdDefault = true
			err = p.pidList(a[1:], &p.out.Options.Sessions)
		default:
			err = usage("garbage option")
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return &p.out, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func usage(msg string) error { return &PsUsageError{Msg: msg} }

// optArg is the argument of the option at s[j]: the rest of the word, or
// the next word.
func (p *psParser) optArg(word string, j int) (string, bool) {
	if j+1 < len(word) {
		return word[j+1:], true
	}
	if p.i+1 >= len(p.args) || p.args[p.i+1] == "" {
		return "", false
	}
	p.i++
	return p.args[p.i], true
}

func (p *psParser) unix(word string) error {
	o := &p.out.Options
	for j := 0; j < len(word); j++ {
		arg := func(msg string) (string, error) {
			a, ok := p.optArg(word, j)
			if !ok {
				return "", usage(msg)
			}
			j = len(word)
			return a, nil
		}
		var err error
		var a string
		switch word[j] {
		case 'A', 'e':
			o.All = true
		case 'a':
			p.simple |= ssUa
		case 'd':
			p.simple |= ssUd
		case 'N':
			o.Negate = true
		case 'f':
			p.formats |= ffUf
		case 'F':
			p.formats |= ffUf
			p.modifiers |= fmF
		case 'l':
			p.formats |= ffUl
		case 'j':
			p.modifiers |= fmJ
		case 'y':
			p.modifiers |= fmY
		case 'c':
			p.modifiers |= fmC
		case 'P':
			p.modifiers |= fmP
		case 'H':
			o.Forest = 'u'
		case 'L':
			p.threadsL = true
		case 'w':
			p.wide++
		case 'V':
			p.out.Version = true
		case 'C':
			if a, err = arg("list of command names must follow -C"); err == nil {
				err = p.list(a, func(s string) error { o.Commands = append(o.Commands, s); return nil })
			}
		case 'o':
			if a, err = arg("format specification must follow -o"); err == nil {
				p.format(a)
			}
		case 'p', 'q':
			if a, err = arg("list of process IDs must follow -" + word[j:j+1]); err == nil {
				err = p.pidList(a, &o.PIDs)
			}
		case 's':
			if a, err = arg("list of session IDs must follow -s"); err == nil {
				err = p.pidList(a, &o.Sessions)
			}
		case 't':
			if a, err = arg("list of terminals (pty, tty...) must follow -t"); err == nil {
				err = p.ttyList(a)
			}
		case 'u':
			if a, err = arg("list of users must follow -u"); err == nil {
				err = p.userList(a, &o.Users)
			}
		case 'U':
			if a, err = arg("list of real users must follow -U"); err == nil {
				err = p.userList(a, &o.RUsers)
			}
		case '-':
			return usage("embedded '-' among SysV options makes no sense")
		default:
			return usage("unsupported SysV option")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *psParser) bsd(word string) error {
	o := &p.out.Options
	for j := 0; j < len(word); j++ {
		arg := func() (string, bool) {
			a, ok := p.optArg(word, j)
			j = len(word)
			return a, ok
		}
		var err error
		switch c := word[j]; c {
		case 'a':
			p.simple |= ssBa
		case 'x':
			p.simple |= ssBx
		case 'g':
		case 'r':
			o.Running = true
		case 'f':
			o.Forest = 'f'
		case 'h':
			if p.header != 0 {
				return usage("only one heading option may be specified")
			}
			p.header = 1
		case 'j':
			p.formats |= ffBj
		case 'l':
			p.formats |= ffBl
		case 'u':
			p.formats |= ffBu
		case 'v':
			p.formats |= ffBv
		case 's':
			p.formats |= ffBs
		case 'w':
			p.wide++
		case 'V':
			p.out.Version = true
		case 'T':
			o.TTYs = append(o.TTYs, p.env.SelfTTY)
		case 't':
			a, ok := arg()
			if !ok {
				o.TTYs = append(o.TTYs, p.env.SelfTTY)
				break
			}
			err = p.ttyList(a)
		case 'o':
			a, ok := arg()
			if !ok {
				return usage("format specification must follow o")
			}
			p.format(a)
		case 'p', 'q':
			a, ok := arg()
			if !ok {
				return usage("list of process IDs must follow " + string(c))
			}
			err = p.pidList(a, &o.PIDs)
		case 'U':
			a, ok := arg()
			if !ok {
				return usage("list of users must follow U")
			}
			err = p.userList(a, &o.Users)
		case 'k':
			a, ok := arg()
			if !ok {
				return usage("long sort specification must follow 'k'")
			}
			o.Sort = append(o.Sort, a)
		case '-':
			return usage("embedded '-' among BSD options makes no sense")
		default:
			if c >= '0' && c <= '9' {
				err = p.pidList(word[j:], &o.PIDs)
				j = len(word)
				break
			}
			return usage("unsupported option (BSD syntax)")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// long parses a GNU long option, procps's and tend's own.
func (p *psParser) long(word string) error {
	o := &p.out.Options
	name, val, inline := strings.Cut(word, "=")
	if !inline {
		name, val, inline = strings.Cut(word, ":")
	}
	arg := func() (string, bool) {
		if inline {
			return val, val != ""
		}
		if p.i+1 >= len(p.args) || p.args[p.i+1] == "" {
			return "", false
		}
		p.i++
		return p.args[p.i], true
	}
	flag := func(what string, set func()) error {
		if inline {
			return usage("option --" + what + " does not take an argument")
		}
		set()
		return nil
	}
	listOpt := func(msg string, parse func(string) error) error {
		a, ok := arg()
		if !ok {
			return usage(msg)
		}
		return parse(a)
	}
	switch name {
	case "pid", "quick-pid":
		return listOpt("list of process IDs must follow --"+name, func(a string) error { return p.pidList(a, &o.PIDs) })
	case "ppid":
		return listOpt("list of process IDs must follow --ppid", func(a string) error { return p.pidList(a, &o.PPIDs) })
	case "sid":
		return listOpt("some sid thing(s) must follow --sid", func(a string) error { return p.pidList(a, &o.Sessions) })
	case "tty":
		return listOpt("list of ttys must follow --tty", p.ttyList)
	case "user":
		return listOpt("list of effective users must follow --user", func(a string) error { return p.userList(a, &o.Users) })
	case "User":
		return listOpt("list of real users must follow --User", func(a string) error { return p.userList(a, &o.RUsers) })
	case "format":
		return listOpt("format specification must follow --format", func(a string) error { p.format(a); return nil })
	case "sort":
		return listOpt("long sort specification must follow --sort", func(a string) error { o.Sort = append(o.Sort, a); return nil })
	case "cols", "columns", "width":
		a, _ := arg()
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 || n >= 2000000000 {
			return usage("number of columns must follow --cols, --width, or --columns")
		}
		p.screen = n
		return nil
	case "rows", "lines":
		a, _ := arg()
		if n, err := strconv.Atoi(a); err != nil || n <= 0 {
			return usage("number of rows must follow --rows or --lines")
		}
		return nil
	case "forest":
		return flag("forest", func() { o.Forest = 'f' })
	case "deselect":
		return flag("deselect", func() { o.Negate = true })
	case "no-header", "no-headers", "no-heading", "no-headings", "noheader", "noheaders", "noheading", "noheadings":
		if inline {
			return usage("option --no-heading does not take an argument")
		}
		if p.header != 0 {
			return usage("only one heading option may be specified")
		}
		p.header = 1
		return nil
	case "header", "headers", "heading", "headings":
		if inline {
			return usage("option --heading does not take an argument")
		}
		if p.header != 0 {
			return usage("only one heading option may be specified")
		}
		p.header = 2
		return nil
	case "help":
		p.out.Help = true
		return nil
	case "version":
		p.out.Version = true
		return nil
	// tend's own.
	case "unit":
		return listOpt("list of units must follow --unit", func(a string) error {
			o.Units = append(o.Units, strings.Split(a, ",")...)
			return nil
		})
	case "daemons":
		return flag(name, func() { o.Daemons = true })
	case "zombies":
		return flag(name, func() { o.Zombies = true })
	case "orphans":
		return flag(name, func() { o.Orphans = true })
	case "user-instance":
		return flag(name, func() { p.out.UserIns = true })
	case "socket":
		return listOpt("a path must follow --socket", func(a string) error { p.out.Socket = a; return nil })
	case "every", "all":
		return flag(name, func() { o.All = true })
	}
	return usage("unknown gnu long option")
}

// format records a -o list; "json" is tend's JSON output.
func (p *psParser) format(spec string) {
	if strings.EqualFold(spec, "json") {
		p.out.JSON = true
		return
	}
	p.specs = append(p.specs, spec)
}

// list splits a selection list as procps does: items separated by
// commas, spaces or tabs, none empty.
func (p *psParser) list(s string, add func(string) error) error {
	isSep := func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }
	items := strings.FieldsFunc(s, isSep)
	if len(items) == 0 || strings.IndexFunc(s[:1], isSep) == 0 || strings.IndexFunc(s[len(s)-1:], isSep) == 0 ||
		strings.Contains(strings.Map(func(r rune) rune {
			if isSep(r) {
				return ','
			}
			return r
		}, s), ",,") {
		return usage("improper list")
	}
	for _, it := range items {
		if err := add(it); err != nil {
			return err
		}
	}
	return nil
}

func (p *psParser) pidList(s string, into *[]int) error {
	return p.list(s, func(it string) error {
		n, err := strconv.ParseUint(it, 0, 64)
		if err != nil {
			return usage("process ID list syntax error")
		}
		if n < 1 || n > 0x7fffffff {
			return usage("process ID out of range")
		}
		*into = append(*into, int(n))
		return nil
	})
}

func (p *psParser) userList(s string, into *[]string) error {
	return p.list(s, func(it string) error {
		if _, err := strconv.ParseUint(it, 0, 32); err != nil {
			if _, ok := p.env.Lookup(it); !ok {
				return usage("user name does not exist")
			}
		}
		*into = append(*into, it)
		return nil
	})
}

func (p *psParser) ttyList(s string) error {
	o := &p.out.Options
	dev := p.env.DevRoot
	if dev == "" {
		dev = "/dev"
	}
	return p.list(s, func(it string) error {
		if it == "-" || it == "?" {
			o.TTYs = append(o.TTYs, 0)
			return nil
		}
		var cands []string
		if strings.HasPrefix(it, "/") {
			cands = []string{it}
		} else {
			cands = []string{dev + "/pts/" + it, dev + "/" + it, dev + "/tty" + it, dev + "/pty" + it, dev + "/" + it + "nsole"}
		}
		for _, c := range cands {
			var st unix.Stat_t
			if unix.Stat(c, &st) != nil {
				continue
			}
			if st.Mode&unix.S_IFMT != unix.S_IFCHR {
				return usage("list member was not a TTY")
			}
			o.TTYs = append(o.TTYs, st.Rdev)
			return nil
		}
		return usage("TTY could not be found")
	})
}

// hasLists reports whether any list selects processes by name.
func (o *PsOptions) hasLists() bool {
	return len(o.Users) > 0 || len(o.RUsers) > 0 || len(o.PIDs) > 0 || len(o.PPIDs) > 0 || len(o.Sessions) > 0 ||
		len(o.TTYs) > 0 || len(o.Commands) > 0 || len(o.Units) > 0
}

// finish turns the options into a selection and a column list.
func (p *psParser) finish() error {
	o := &p.out.Options
	if p.threadsL && o.Forest != 0 {
		return usage("thread display conflicts with forest display")
	}
	o.Threads = p.threadsL
	if err := p.selection(); err != nil {
		return err
	}
	if err := p.columns(); err != nil {
		return err
	}
	if p.wide > 0 && p.screen < 132 {
		p.screen = 132
	}
	if p.wide > 1 {
		p.screen = Unlimited
	}
	o.Width = p.screen
	o.NoHeader = p.header == 1
	return nil
}

// selection sets procps's simple-selection table from -a -d a x.
func (p *psParser) selection() error {
	o := &p.out.Options
	if p.simple == 0 && !p.bsdDefault {
		return nil // the default (our tty and euid) unless lists are given
	}
	switch p.simple {
	case ssUa | ssUd:
		o.Table = 0x3f3f
	case ssUa:
		o.Table = 0x0303
	case ssUd:
		o.Table = 0x3333
	case 0: // BSD without a or x: our processes with a terminal
		// procps consults this table only when no list (p, U, t, …)
		// is given: "ps u p 42" is process 42 alone, not it and
		// every process of ours on a terminal.
		if !o.hasLists() {
			o.Table = 0x0a0a
		}
	case ssBa:
		o.Table = 0x0f0f
	case ssBx:
		o.Table = 0xaaaa
	case ssBa | ssBx:
		o.All = true
	default:
		return usage("process selection options conflict")
	}
	return nil
}

// columns builds the column list the format options ask for, as procps
// composes them.
func (p *psParser) columns() error {
	o := &p.out.Options
	if len(p.specs) > 0 {
		if p.formats != 0 {
			return usage("conflicting format options")
		}
		if p.modifiers != 0 {
			return usage("can not use output modifiers with user-defined output")
		}
		if _, err := ParseColumns(p.specs); err != nil {
			return usage(err.Error())
		}
		o.Columns = p.specs
		return nil
	}
	if p.formats == 0 && p.modifiers == 0 && !p.bsdDefault && !p.threadsL && o.Forest == 0 {
		return nil // tend's default: ps -f's columns and the unit
	}
	if p.modifiers&fmY != 0 && p.formats&ffUl == 0 {
		return usage("modifier -y without format -l makes no sense")
	}
	var spec string
	switch p.formats {
	case 0, ffUf, ffUl, ffUf | ffUl:
		o.Columns = []string{p.sysvColumns()}
		return nil
	case ffBj:
		spec = "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args"
	case ffBl:
		spec = "flags,uid,pid,ppid,priority,nice,vsz,rss,wchan,stat,tname,bsdtime,args"
	case ffBu:
		spec = "user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args"
	default:
		if p.formats&(ffBv|ffBs) != 0 {
			return usage("format options v and s are not supported by tend ps")
		}
		return usage("conflicting format options")
	}
	cols := strings.Split(spec, ",")
	if p.modifiers&fmJ != 0 {
		cols = insertAfter(cols, "pgid", "ppid", "pid")
		cols = insertAfter(cols, "sid", "pgid")
	}
	if p.threadsL {
		cols = insertAfter(cols, "lwp", "sid", "sess", "pgid", "pgrp", "ppid", "pid")
		cols = insertAfter(cols, "nlwp", "pcpu")
	}
	o.Columns = []string{strings.Join(cols, ",")}
	return nil
}

// insertAfter puts col after the first of after that cols has.
func insertAfter(cols []string, col string, after ...string) []string {
	for _, a := range after {
		for i, c := range cols {
			if c == a {
				return append(cols[:i+1], append([]string{col}, cols[i+1:]...)...)
			}
		}
	}
	return cols
}

// sysvColumns composes the UNIX formats (default, -f, -F, -l, with -j, -y,
// -c, -P, -L) in procps's order.
func (p *psParser) sysvColumns() string {
	f, l := p.formats&ffUf != 0, p.formats&ffUl != 0
	m := p.modifiers
	var c []string
	add := func(s ...string) { c = append(c, s...) }
	if l {
		if m&fmY == 0 {
			add("f")
		}
		add("s")
	}
	switch {
	case f:
		add("uid_hack")
	case l:
		add("uid")
	}
	add("pid")
	if f || l {
		add("ppid")
	}
	if m&fmJ != 0 {
		add("pgid", "sid")
	}
	if p.threadsL {
		add("lwp")
	}
	if m&fmP != 0 {
		add("psr")
	}
	if (f || l) && m&fmC == 0 {
		add("c")
	}
	if p.threadsL && f {
		add("nlwp")
	}
	switch {
	case m&fmC != 0:
		add("class", "pri")
	case l:
		add("opri", "ni")
	}
	if l {
		if m&fmY != 0 {
			add("rss")
		} else {
			add("addr_1")
		}
	}
	if m&fmF != 0 || l {
		add("sz")
	}
	if l {
		add("wchan")
	}
	if m&fmF != 0 {
		if !(l && m&fmY != 0) {
			add("rss")
		}
		if m&fmP == 0 {
			add("psr")
		}
	}
	if f {
		add("stime")
	}
	add("tname")
	switch {
	case p.bsdDefault && !l:
		add("stat", "bsdtime")
	case p.bsdDefault:
		add("bsdtime")
	default:
		add("time")
	}
	switch {
	case p.bsdDefault && p.formats != 0, !p.bsdDefault && f:
		add("cmd")
	case p.bsdDefault:
		add("args")
	default:
		add("ucmd")
	}
	return strings.Join(c, ",")
}

// SelfTTY is the controlling terminal of this process (0 for none).
func SelfTTY(c *Collector) uint64 {
	st, err := c.FS.NewReader().Stat(os.Getpid())
	if err != nil {
		return 0
	}
	return st.TTY
}

// PsUsage is the text printed after a usage error, as procps prints its
// own (with the command name given).
func PsUsage(name string) string {
	return fmt.Sprintf("\nUsage:\n %s [options]\n\n Try '%s --help'\n for additional help text.\n\nFor more details see ps(1).\n", name, name)
}
