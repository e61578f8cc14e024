package cron

import (
	"fmt"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/spawn"
)

// Kind tells which crontab grammar a file uses.
type Kind int

const (
	// System files (/etc/crontab, /etc/cron.d/*) name the user to run as
	// after the time fields.
	System Kind = iota
	// User crontabs (/var/spool/cron/crontabs/USER) run as their owner.
	User
)

// Entry is one job line of a crontab.
type Entry struct {
	File string // the crontab's path
	Line int    // 1-based line of the entry
	Kind Kind
	User string // run as
	Home string // the user's home directory, from passwd

	// Schedule says when the job runs; nil for @reboot.
	Schedule *Schedule
	Reboot   bool // @reboot: once, when the manager starts

	Command string // the shell command, up to the first unescaped %
	Stdin   string // what follows the first %, each further % a newline; "" if none
	// Env is the environment the crontab set before this line, in
	// order (SHELL=, PATH=, MAILTO=, CRON_TZ=, others); later wins.
	Env []string
	// Self: run as the manager's own user, without User= (Options.Self).
	Self bool
}

// Lookup returns the value of an environment line in effect for e.
func (e *Entry) Lookup(name string) (string, bool) {
	v, ok := "", false
	for _, kv := range e.Env {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			v, ok = val, true
		}
	}
	return v, ok
}

// Shell is SHELL= or /bin/sh, what cron runs the command with.
func (e *Entry) Shell() string {
	if s, ok := e.Lookup("SHELL"); ok && s != "" {
		return s
	}
	return "/bin/sh"
}

// Error is a line cron would refuse: "file:line: message".
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Options are what parsing needs from the machine.
type Options struct {
	// Etc is where passwd and group are read to check users ("/etc").
	Etc string
	// Owner is the user of a User crontab.
	Owner string
	// Local is the zone of entries without CRON_TZ= (time.Local if nil).
	Local *time.Location
	// Self: the jobs run as the manager's own user (a user instance
	// reading its user's crontab), so the services name no User=.
	Self bool
	// Accounts answers the user lookups (Etc's passwd and group); nil:
	// one for this crontab. A caller loading several crontabs passes one
	// for all: each line of a system crontab names a user.
	Accounts *spawn.Accounts
}

// withAccounts is opt with an Accounts for Etc if it has none.
func (opt Options) withAccounts() Options {
	if opt.Accounts == nil {
		opt.Accounts = spawn.NewAccounts(opt.Etc)
	}
	return opt
}

var keywords = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// Parse reads a crontab. Bad lines become errors; every other line still
// loads.
func Parse(file string, data []byte, kind Kind, opt Options) ([]Entry, []error) {
	if opt.Local == nil {
		opt.Local = time.Local
	}
	opt = opt.withAccounts()
	var entries []Entry
	var errs []error
	var env []string
	text := string(data)
	lines := strings.Split(text, "\n")
	if !strings.HasSuffix(text, "\n") && text != "" {
		errs = append(errs, &Error{file, len(lines), "missing newline at end of file: line ignored, as cron does"})
	}
	lines = lines[:len(lines)-1] // the text after the last newline (or the unterminated line)
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimLeft(raw, " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		if name, value, ok := envLine(line); ok {
			env = append(env, name+"="+value)
			continue
		}
		e, err := parseEntry(line, kind, opt, env)
		if err != nil {
			errs = append(errs, &Error{file, n, err.Error()})
			continue
		}
		e.File, e.Line, e.Kind = file, n, kind
		entries = append(entries, e)
	}
	return entries, errs
}

// envLine recognizes "NAME = VALUE" (spaces around = optional; VALUE may
// be quoted with ' or " to keep its spaces).
func envLine(line string) (string, string, bool) {
	i := strings.IndexAny(line, "= \t")
	if i <= 0 {
		return "", "", false
	}
	name := line[:i]
	rest := strings.TrimLeft(line[i:], " \t")
	if rest == "" || rest[0] != '=' {
		return "", "", false
	}
	value := strings.TrimRight(strings.TrimLeft(rest[1:], " \t"), " \t\r")
	if len(value) >= 2 && (value[0] == '\'' || value[0] == '"') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return name, value, true
}

func parseEntry(line string, kind Kind, opt Options, env []string) (Entry, error) {
	e := Entry{Env: append([]string(nil), env...), Self: opt.Self}
	var timeFields []string
	rest := line
	if line[0] == '@' {
		word, r := nextWord(line)
		rest = r
		if strings.EqualFold(word, "@reboot") {
			e.Reboot = true
		} else if f, ok := keywords[strings.ToLower(word)]; ok {
			timeFields = strings.Fields(f)
		} else {
			return e, fmt.Errorf("bad time keyword %q", word)
		}
	} else {
		for i := 0; i < 5; i++ {
			var w string
			w, rest = nextWord(rest)
			if w == "" {
				return e, fmt.Errorf("bad %s: line ends early", [...]string{"minute", "hour", "day-of-month", "month", "day-of-week"}[i])
			}
			timeFields = append(timeFields, w)
		}
	}
	switch kind {
	case System:
		var u string
		u, rest = nextWord(rest)
		if u == "" {
			return e, fmt.Errorf("bad username: line ends early")
		}
		e.User = u
	default:
		e.User = opt.Owner
	}
	u, err := opt.Accounts.User(e.User)
	if err != nil {
		return e, fmt.Errorf("bad username %q: %v", e.User, err)
	}
	e.Home = u.Home
	e.Command, e.Stdin = splitPercent(strings.TrimRight(rest, "\r"))
	if strings.TrimSpace(e.Command) == "" {
		return e, fmt.Errorf("bad command: empty")
	}
	if e.Reboot {
		return e, nil
	}
	loc := opt.Local
	tz, hasTZ := e.Lookup("CRON_TZ")
	if hasTZ && tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return e, fmt.Errorf("bad CRON_TZ %q: %v", tz, err)
		}
		loc = l
	} else {
		tz = ""
	}
	s, err := newSchedule(timeFields, tz, loc)
	if err != nil {
		return e, err
	}
	e.Schedule = s
	return e, nil
}

func nextWord(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// splitPercent applies cron's % rules: "\%" is a literal %, the first
// other % ends the command and the rest is standard input with each %
// a newline (and a final newline, as cron writes it).
func splitPercent(s string) (cmd, stdin string) {
	var b strings.Builder
	inStdin := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '%':
			b.WriteByte('%')
			i++
		case s[i] == '%' && !inStdin:
			cmd = b.String()
			b.Reset()
			inStdin = true
		case s[i] == '%':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	if !inStdin {
		return b.String(), ""
	}
	stdin = b.String()
	if !strings.HasSuffix(stdin, "\n") {
		stdin += "\n"
	}
	return cmd, stdin
}

func lookupUID(accounts *spawn.Accounts, name string) (uint32, error) {
	u, err := accounts.User(name)
	if err != nil {
		return 0, fmt.Errorf("crontab of unknown user %q: %v", name, err)
	}
	return uint32(u.UID), nil
}

// Environ is the job's environment as cron builds it: SHELL=/bin/sh,
// PATH=/usr/bin:/bin, HOME and LOGNAME from passwd, then the crontab's
// lines (which may override all but LOGNAME).
func (e *Entry) Environ() []string {
	env := []string{"SHELL=/bin/sh", "PATH=/usr/bin:/bin", "HOME=" + e.Home, "LOGNAME=" + e.User}
	for _, kv := range e.Env {
		if !strings.HasPrefix(kv, "LOGNAME=") {
			env = append(env, kv)
		}
	}
	return env
}
