package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/svdir"
)

// sv is runit's sv(8) without runit: it speaks the supervise/ protocol
// (write a command to supervise/control, read supervise/status) to
// tend's service directories, or to any runsv's. `tend sv VERB SVC…`, or
// tend called as sv. Exit status: the number of services that failed
// (at most 99), 100 for a usage error, as sv's.

func svCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{{
		Use:   "sv [-v] [-w SEC] VERB SERVICE...",
		Short: "Control runit/daemontools service directories as runit's sv does",
		Long: `Control service directories through their supervise/ files, as runit's sv(8)
does and with its verbs and exit codes (status, up, down, once, pause, cont, hup,
alarm, interrupt, quit, 1, 2, term, kill, exit, start, stop, reload, restart,
shutdown, try-restart, check); works against tend (tend run --svdir) and runsv.
A SERVICE without a leading / or . is looked up in $SVDIR (default /etc/service).`,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := svMain(env, args); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}}
}

// svVerb is what one verb writes and, with -w, waits for.
type svVerb struct {
	cmds string // control bytes
	wait byte   // 'u' up, 'd' down, 'x' supervisor gone, 'c' check, 0 none
	verb bool   // always reports (start/stop/…), with sv's 7 s default
}

var svVerbs = map[string]svVerb{
	"status": {}, "up": {cmds: "u", wait: 'u'}, "down": {cmds: "d", wait: 'd'}, "once": {cmds: "o", wait: 'u'},
	"pause": {cmds: "p"}, "cont": {cmds: "c"}, "hup": {cmds: "h"}, "alarm": {cmds: "a"}, "interrupt": {cmds: "i"},
	"quit": {cmds: "q"}, "1": {cmds: "1"}, "2": {cmds: "2"}, "term": {cmds: "t"}, "kill": {cmds: "k"},
	"exit":  {cmds: "x", wait: 'x'},
	"start": {cmds: "u", wait: 'u', verb: true}, "stop": {cmds: "d", wait: 'd', verb: true},
	"reload": {cmds: "h", wait: 'u', verb: true}, "restart": {cmds: "tcu", wait: 'u', verb: true},
	"shutdown": {cmds: "x", wait: 'x', verb: true}, "check": {wait: 'c', verb: true},
	"try-restart": {cmds: "tc", wait: 'u', verb: true},
}

// svArgs is sv's command line, parsed.
type svArgs struct {
	problem  string // why the options are wrong, as sv says it before its usage
	verbose  bool
	wait     time.Duration
	verb     svVerb
	services []string
}

// svMaxWait bounds -w so that the duration cannot overflow.
const svMaxWait = 1 << 30 // seconds, about 34 years

// parseSvArgs reads sv's options as runit's sv reads them with getopt
// ("w:vV": -v, -w SEC, -wSEC, grouped as -vw5, -- ends them; -V is
// accepted and ignored; SEC is its leading digits, as scan_ulong reads
// it), then the verb (or a verb's initial) and at least one service. ok
// is false for a usage error.
func parseSvArgs(args []string) (a svArgs, ok bool) {
	a.wait = 7 * time.Second
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		opt := args[0][1:]
		args = args[1:]
		if opt == "-" {
			break
		}
		for len(opt) > 0 {
			c := opt[0]
			opt = opt[1:]
			switch c {
			case 'v':
				a.verbose = true
			case 'V':
			case 'w':
				val := opt
				if val == "" {
					if len(args) == 0 {
						a.problem = "option requires an argument -- w"
						return a, false
					}
					val, args = args[0], args[1:]
				}
				a.wait, a.verbose = time.Duration(leadingNumber(val, svMaxWait))*time.Second, true
				opt = ""
			default:
				a.problem = "illegal option -- " + string(c)
				return a, false
			}
		}
	}
	if len(args) < 2 {
		return a, false
	}
	verb, ok := svVerbs[args[0]]
	if !ok {
		// sv takes any unique prefix letter of the verbs it writes.
		verb, ok = svVerbs[svLetter(args[0])]
	}
	if !ok {
		return a, false
	}
	a.verb, a.services = verb, args[1:]
	return a, true
}

// leadingNumber is the number s starts with (0 if none), at most limit.
func leadingNumber(s string, limit int) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = min(n*10+int(s[i]-'0'), limit)
	}
	return n
}

// svServiceDir is where sv looks for the service called name: as given
// when it starts with / or . or ends with /, else in base ($SVDIR).
func svServiceDir(base, name string) string {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "/") {
		return name
	}
	return filepath.Join(base, name)
}

// svMain runs sv's command line (without argv[0]).
func svMain(env *Env, args []string) int {
	a, ok := parseSvArgs(args)
	if !ok {
		if a.problem != "" {
			fmt.Fprintf(env.Stderr, "sv: %s\n", a.problem)
		}
		return svUsage(env.Stderr)
	}
	base := env.Getenv("SVDIR")
	if base == "" {
		base = "/etc/service"
	}
	failed := 0
	for _, name := range a.services {
		if !svOne(env, name, svServiceDir(base, name), a.verb, a.verbose || a.verb.verb, a.wait) {
			failed++
		}
	}
	return min(failed, 99)
}

// svByLetter is what runit's sv does with a verb it does not know by
// name: it goes by the first letter (so "s…" is status, "e…" exit,
// "c…" other than check is cont); r and the force- verbs are only taken
// by name.
var svByLetter = map[byte]string{
	'x': "exit", 'e': "exit", 'c': "cont", 's': "status",
	'u': "up", 'd': "down", 'o': "once", 't': "term", 'p': "pause", 'h': "hup",
	'a': "alarm", 'i': "interrupt", 'k': "kill", 'q': "quit", '1': "1", '2': "2",
}

func svLetter(s string) string {
	if s == "" {
		return ""
	}
	return svByLetter[s[0]]
}

func svUsage(w io.Writer) int {
	fmt.Fprint(w, "usage: sv [-v] [-w sec] command service ...\n\n")
	return 100
}

// svOne acts on one service; false when it failed.
func svOne(env *Env, name, dir string, v svVerb, report bool, wait time.Duration) bool {
	fail := func(format string, a ...any) bool {
		fmt.Fprintf(env.Stdout, "fail: %s: "+format+"\n", append([]any{name}, a...)...)
		return false
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fail("unable to change to service directory: %s", svErr(err, "not a directory"))
	}
	if !svRunning(dir) {
		if v.wait == 'x' {
			return true
		}
		return fail("runsv not running")
	}
	start := time.Now()
	if v.cmds != "" {
		f, err := os.OpenFile(filepath.Join(dir, "supervise", "control"), os.O_WRONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return fail("unable to open supervise/control: %s", svErr(err, ""))
		}
		_, err = f.Write([]byte(v.cmds))
		f.Close()
		if err != nil {
			return fail("unable to write to supervise/control: %s", svErr(err, ""))
		}
	}
	if v.cmds == "" && v.wait == 0 || !report {
		if v.cmds == "" {
			return svPrint(env.Stdout, "", name, dir)
		}
		return true
	}
	if v.wait == 0 {
		return svPrint(env.Stdout, "ok: ", name, dir)
	}
	deadline := start.Add(wait)
	for {
		if svReached(dir, v.wait, start) {
			if v.wait == 'x' {
				fmt.Fprintf(env.Stdout, "ok: %s: runsv not running\n", name)
				return true
			}
			return svPrint(env.Stdout, "ok: ", name, dir)
		}
		if time.Now().After(deadline) {
			svPrint(env.Stdout, "timeout: ", name, dir)
			return false
		}
		time.Sleep(50 * time.Millisecond) // sv polls too: the protocol has no change notification
	}
}

func svErr(err error, def string) string {
	switch {
	case err == nil:
		return def
	case errors.Is(err, os.ErrNotExist):
		return "file does not exist"
	case errors.Is(err, unix.ENXIO):
		return "runsv not running"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// svRunning: a supervisor holds supervise/ok open for reading.
func svRunning(dir string) bool {
	fd, err := unix.Open(filepath.Join(dir, "supervise", "ok"), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

func svStatus(dir string) (svdir.Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, "supervise", "status"))
	if err != nil {
		return svdir.Status{}, err
	}
	return svdir.DecodeStatus(b)
}

// svReached reports whether the service reached what the verb waits for.
func svReached(dir string, what byte, since time.Time) bool {
	if what == 'x' {
		return !svRunning(dir)
	}
	st, err := svStatus(dir)
	if err != nil {
		return false
	}
	switch what {
	case 'd':
		return st.PID == 0
	case 'u', 'c':
		if st.PID == 0 || st.State != svdir.StateRun {
			return what == 'c' && st.Want != svdir.WantUp
		}
		return svCheck(dir)
	}
	return false
}

// svCheck runs ./check when there is one: exit 0 means ready.
func svCheck(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "check")); err != nil {
		return true
	}
	pid, err := forkCheck(dir)
	if err != nil {
		return false
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return false
	}
	return ws.Exited() && ws.ExitStatus() == 0
}

func forkCheck(dir string) (int, error) {
	attr := &os.ProcAttr{Dir: dir, Files: []*os.File{nil, nil, os.Stderr}}
	p, err := os.StartProcess(filepath.Join(dir, "check"), []string{"./check"}, attr)
	if err != nil {
		return 0, err
	}
	return p.Pid, nil
}

// svPrint writes sv's status line for dir, prefixed; the plain status
// (no prefix) adds its log/ as sv does.
func svPrint(w io.Writer, prefix, name, dir string) bool {
	line, ok := svLine(name, dir)
	if ok && prefix == "" {
		if _, err := os.Stat(filepath.Join(dir, "log")); err == nil {
			if l, lok := svLine("log", filepath.Join(dir, "log")); lok {
				line += "; " + l
			}
		}
	}
	fmt.Fprintf(w, "%s%s\n", prefix, line)
	return ok
}

func svLine(name, dir string) (string, bool) {
	if !svRunning(dir) {
		return "fail: " + name + ": runsv not running", false
	}
	st, err := svStatus(dir)
	if err != nil {
		return "warning: " + name + ": unable to read supervise/status: " + svErr(err, ""), false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: ", st.State, name)
	if st.PID != 0 {
		fmt.Fprintf(&b, "(pid %d) ", st.PID)
	}
	fmt.Fprintf(&b, "%ds", max(int(time.Since(st.Since).Seconds()), 0))
	_, downFile := os.Stat(filepath.Join(dir, "down"))
	normallyUp := downFile != nil
	if st.PID != 0 && !normallyUp {
		b.WriteString(", normally down")
	}
	if st.PID == 0 && normallyUp {
		b.WriteString(", normally up")
	}
	if st.PID != 0 && st.Paused {
		b.WriteString(", paused")
	}
	if st.PID != 0 && st.Want == svdir.WantDown {
		b.WriteString(", want down")
	}
	if st.PID == 0 && st.Want == svdir.WantUp {
		b.WriteString(", want up")
	}
	if st.PID != 0 && st.Term {
		b.WriteString(", got TERM")
	}
	return b.String(), true
}
