package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/journal"
)

// logsFlags are `tend logs`'s flags, named as journalctl names them.
type logsFlags struct {
	units         []string
	follow        bool
	lines         int
	since, until  string
	priority      string
	grep          string
	caseSensitive bool
	boot          string
	bootSet       bool
	output        string
	reverse       bool
	cursor        string
	afterCursor   string
	showCursor    bool
	diskUsage     bool
	listBoots     bool
	vacuumSize    string
	vacuumTime    string
	directory     string
	noPager       bool
	all           bool
	utc           bool
	noHostname    bool
	quiet         bool
	user          bool
	socket        string
}

func logCommands(env *Env) []*cobra.Command {
	f := &logsFlags{}
	cmd := &cobra.Command{
		Use:   "logs [-u UNIT]… [flags]",
		Short: "Show the journal: the output of units and tend's events",
		Long: "Show journal entries like journalctl. Without a running daemon, or with\n" +
			"--directory, the journal files are read directly (default " + journal.DefaultDir(false, env.Getenv) + ",\n" +
			"with --user $XDG_STATE_HOME/tend/journal).",
		// Flags are parsed here, after optionalValues, because -n and -b
		// take optional values that may follow as separate words
		// ("-n 20", "-b -1"), which pflag cannot express.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				return cmd.Help()
			}
			if err := cmd.Flags().Parse(optionalValues(args)); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			args = cmd.Flags().Args()
			f.bootSet = cmd.Flags().Changed("boot")
			if len(args) > 0 {
				return &ExitError{Code: 1, Msg: fmt.Sprintf("unexpected arguments %q (use -u UNIT)", args)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLogs(ctx, env, f)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(true)
	fs.StringArrayVarP(&f.units, "unit", "u", nil, "show entries of this unit (repeatable; globs allowed)")
	fs.BoolVarP(&f.follow, "follow", "f", false, "keep printing new entries as they arrive")
	fs.IntVarP(&f.lines, "lines", "n", 0, "show the last N entries (-n alone: 10; -n all: every entry)")
	fs.StringVarP(&f.since, "since", "S", "", `entries at or after this time ("2026-01-02 03:04", "-1h", "today", "1 hour ago")`)
	fs.StringVarP(&f.until, "until", "U", "", "entries at or before this time")
	fs.StringVarP(&f.priority, "priority", "p", "", "entries of this priority or more severe, or a range FROM..TO")
	fs.StringVarP(&f.grep, "grep", "g", "", "entries whose message matches this regular expression")
	fs.BoolVar(&f.caseSensitive, "case-sensitive", false, "match --grep case-sensitively (default: insensitive)")
	fs.StringVarP(&f.boot, "boot", "b", "", "entries of a boot: current (no value or 0), -1 the one before, or an id")
	fs.StringVarP(&f.output, "output", "o", "short", "format: short, short-iso, short-precise, json, json-pretty, cat, export")
	fs.BoolVarP(&f.reverse, "reverse", "r", false, "newest entries first")
	fs.StringVarP(&f.cursor, "cursor", "c", "", "start at the entry of this cursor")
	fs.StringVar(&f.afterCursor, "after-cursor", "", "start after the entry of this cursor")
	fs.BoolVar(&f.showCursor, "show-cursor", false, "print the cursor of the last entry at the end")
	fs.BoolVar(&f.diskUsage, "disk-usage", false, "show the journal's disk usage")
	fs.BoolVar(&f.listBoots, "list-boots", false, "list the boots in the journal, oldest first, with their offsets for -b")
	fs.StringVar(&f.vacuumSize, "vacuum-size", "", "remove old segments until the journal uses at most this size (K, M, G)")
	fs.StringVar(&f.vacuumTime, "vacuum-time", "", "remove segments holding only entries older than this span")
	fs.StringVarP(&f.directory, "directory", "D", "", "read the journal in this directory instead of asking the daemon")
	fs.BoolVar(&f.noPager, "no-pager", false, "do not pipe output into a pager")
	fs.BoolVarP(&f.all, "all", "a", false, "show messages with unprintable characters as they are")
	fs.BoolVar(&f.utc, "utc", false, "show times in UTC")
	fs.BoolVar(&f.noHostname, "no-hostname", false, "leave out the host name")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not say when there are no entries")
	fs.BoolVar(&f.user, "user", false, "the calling user's tend and journal")
	fs.StringVar(&f.socket, "socket", "", "control socket of the daemon")
	return []*cobra.Command{cmd}
}

// optionalValues rewrites the optional-valued flags -n/--lines (default
// 10) and -b/--boot (default: current boot) so the value, when the next
// word is one, is attached: "-n 20" → "--lines=20", "-n" → "--lines=10",
// "-b -1" → "--boot=-1", "-b" → "--boot=0".
func optionalValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		var name, def string
		switch a {
		case "-n", "--lines":
			name, def = "--lines", "10"
		case "-b", "--boot":
			name, def = "--boot", "0"
		default:
			if v, ok := strings.CutPrefix(a, "-n"); ok && v != "" && !strings.HasPrefix(v, "=") {
				a = "--lines=" + v // "-n20"
			}
			out = append(out, a)
			continue
		}
		val := def
		if i+1 < len(args) && isOptionalValue(name, args[i+1]) {
			val = args[i+1]
			i++
		}
		if name == "--lines" && val == "all" {
			val = "-1"
		}
		out = append(out, name+"="+val)
	}
	return out
}

// isOptionalValue says whether word is a value of the optional flag name
// rather than the next flag or argument.
func isOptionalValue(name, word string) bool {
	if _, err := strconv.Atoi(word); err == nil || name == "--lines" && word == "all" {
		return true
	}
	if name != "--boot" || len(word) < 32 {
		return false
	}
	for _, c := range strings.ReplaceAll(word, "-", "") {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// journalSource is what `tend logs` reads: the daemon or a directory.
type journalSource interface {
	query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error
}

type dirSource struct{ r *journal.Reader }

func (d dirSource) query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error {
	if follow {
		return d.r.Follow(ctx, q, fn)
	}
	return d.r.Query(ctx, q, fn)
}

type daemonSource struct {
	c      *client.Client
	lo, hi int
}

func (d daemonSource) query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error {
	return d.c.LogsFunc(ctx, apiQuery(q, follow, d.lo, d.hi), func(e api.LogEntry) error {
		// The wire reads PriorityMin = PriorityMax = 0 as "no filter";
		// "-p emerg" is therefore applied here as well.
		if d.hi == 0 && e.Priority != 0 {
			return nil
		}
		return fn(fromAPI(e))
	})
}

func (f *logsFlags) journalDir(env *Env) string {
	if f.directory != "" {
		return f.directory
	}
	return journal.DefaultDir(f.user, env.Getenv)
}

func runLogs(ctx context.Context, env *Env, f *logsFlags) error {
	if f.diskUsage || f.listBoots || f.vacuumSize != "" || f.vacuumTime != "" {
		return logsMaintenance(env, f)
	}
	q, lo, hi, err := f.query(time.Now())
	if err != nil {
		return &ExitError{Code: 1, Msg: err.Error()}
	}
	var src journalSource
	var reader *journal.Reader
	openDir := func() error {
		r, err := journal.OpenReadOnly(f.journalDir(env))
		if err != nil {
			return err
		}
		reader, src = r, dirSource{r}
		return nil
	}
	if f.directory != "" {
		if err := openDir(); err != nil {
			return err
		}
	} else {
		sock := f.socket
		if sock == "" {
			sock = client.DefaultSocket(f.user, env.Getenv)
		}
		c := client.New(sock)
		defer c.Close()
		src = daemonSource{c: c, lo: lo, hi: hi}
	}
	if f.bootSet {
		var boots []journal.Boot
		if reader != nil {
			boots = reader.Boots()
		} else if r, err := journal.OpenReadOnly(f.journalDir(env)); err == nil {
			boots = r.Boots()
		}
		if q.Boot, err = resolveBoot(f.boot, currentBootID(), boots); err != nil {
			return &ExitError{Code: 1, Msg: err.Error()}
		}
	}
	err = printLogs(ctx, env, f, src, q)
	if errors.Is(err, client.ErrNotRunning) && reader == nil {
		if derr := openDir(); derr != nil {
			return fmt.Errorf("%w; reading the journal directly failed too: %v", err, derr)
		}
		err = printLogs(ctx, env, f, src, q)
	}
	if reader != nil && !f.quiet {
		for _, d := range reader.Damage() {
			fmt.Fprintf(env.Stderr, "tend: journal damage skipped: %s\n", d)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// query builds the journal query from the flags, and the priority range
// the wire query carries.
func (f *logsFlags) query(now time.Time) (q journal.Query, lo, hi int, err error) {
	loc := time.Local
	if f.utc {
		loc = time.UTC
	}
	q = journal.Query{Units: f.units, Lines: f.lines, Grep: f.grep, CaseSensitive: f.caseSensitive,
		Reverse: f.reverse, Cursor: f.cursor, AfterCursor: f.afterCursor}
	switch {
	case f.lines < 0: // -n all
		q.Lines = 0
	case f.lines == 0 && f.follow && f.cursor == "" && f.afterCursor == "" && f.since == "":
		q.Lines = 10 // like journalctl -f
	}
	if f.since != "" {
		if q.Since, err = journal.ParseTime(f.since, now, loc); err != nil {
			return q, 0, 0, fmt.Errorf("--since: %w", err)
		}
	}
	if f.until != "" {
		if q.Until, err = journal.ParseTime(f.until, now, loc); err != nil {
			return q, 0, 0, fmt.Errorf("--until: %w", err)
		}
	}
	lo, hi = 0, 7
	if f.priority != "" {
		if lo, hi, err = parsePriority(f.priority); err != nil {
			return q, 0, 0, fmt.Errorf("--priority: %w", err)
		}
		q.Priorities = journal.PriorityMask(lo, hi)
	}
	if !slices.Contains(journal.OutputModes, f.output) {
		return q, 0, 0, fmt.Errorf("unknown output mode %q (%v)", f.output, journal.OutputModes)
	}
	return q, lo, hi, nil
}

// printLogs runs the query and formats the entries, through a pager when
// stdout is a terminal and the output has an end.
func printLogs(ctx context.Context, env *Env, f *logsFlags, src journalSource, q journal.Query) error {
	out := env.Stdout
	if !f.noPager && !f.follow && logsTerminal(out) {
		if p := startPager(env, out); p != nil {
			defer p.wait()
			out = p.w
		}
	}
	w := bufio.NewWriterSize(out, 64<<10)
	o := journal.FormatOptions{All: f.all}
	if f.utc {
		o.Location = time.UTC
	}
	if !f.noHostname {
		o.Hostname, _ = os.Hostname()
	}
	var last journal.Entry
	n := 0
	err := src.query(ctx, q, f.follow, func(e journal.Entry) error {
		n++
		last = e
		if err := journal.Format(w, e, f.output, o); err != nil {
			return err
		}
		if f.follow {
			return w.Flush()
		}
		return nil
	})
	if err == nil && n == 0 && !f.quiet && (f.output == "short" || f.output == "short-iso" || f.output == "short-precise") {
		fmt.Fprintln(w, "-- No entries --")
	}
	if err == nil && f.showCursor && n > 0 {
		fmt.Fprintf(w, "-- cursor: %s\n", journal.FormatCursor(last))
	}
	if ferr := w.Flush(); err == nil && !errors.Is(ferr, syscall.EPIPE) {
		err = ferr
	}
	return err
}

// logsMaintenance implements --disk-usage, --list-boots, --vacuum-size
// and --vacuum-time on the journal directory.
func logsMaintenance(env *Env, f *logsFlags) error {
	dir := f.journalDir(env)
	if f.vacuumSize != "" || f.vacuumTime != "" {
		var size int64
		var age time.Duration
		var err error
		if f.vacuumSize != "" {
			if size, err = parseSize(f.vacuumSize); err != nil {
				return &ExitError{Code: 1, Msg: "--vacuum-size: " + err.Error()}
			}
		}
		if f.vacuumTime != "" {
			if age, err = journal.ParseSpan(f.vacuumTime); err != nil {
				return &ExitError{Code: 1, Msg: "--vacuum-time: " + err.Error()}
			}
		}
		freed, err := journal.VacuumDir(dir, size, age)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Vacuuming done, freed %s of archived journals from %s.\n", formatSize(freed), dir)
	}
	if f.listBoots {
		r, err := journal.OpenReadOnly(dir)
		if err != nil {
			return err
		}
		boots := r.Boots()
		for i, b := range boots {
			fmt.Fprintf(env.Stdout, "%3d %s %s — %s\n", i-len(boots)+1, b.ID,
				b.First.Format("Mon 2006-01-02 15:04:05 MST"), b.Last.Format("Mon 2006-01-02 15:04:05 MST"))
		}
	}
	if f.diskUsage {
		r, err := journal.OpenReadOnly(dir)
		if err != nil {
			return err
		}
		n, err := r.DiskUsage()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Archived and active journals take up %s in the file system.\n", formatSize(n))
	}
	return nil
}
