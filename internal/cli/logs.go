package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/journal"
)

// logsFlags are `tend logs`'s flags, named as journalctl names them.
type logsFlags struct {
	units         []string
	identifiers   []string
	hosts         []string
	matches       []string // positional FIELD=VALUE words
	follow        bool
	lines         int
	noTail        bool
	since, until  string
	priority      string
	grep          string
	caseSensitive bool
	boot          string
	bootSet       bool
	linesSet      bool
	output        string
	outputFields  string
	reverse       bool
	cursor        string
	afterCursor   string
	showCursor    bool
	catalog       bool // -x: no catalog yet; accepted
	pagerEnd      bool
	dmesg         bool
	merge         bool // -m: one journal per instance; accepted
	field         string
	listFields    bool
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
		Use:   "logs [-u UNIT]… [flags] [FIELD=VALUE…]",
		Short: "Show the journal: the output of units and tend's events",
		Long: "Show journal entries like journalctl, from the tend instance the client is\n" +
			"pointed at (--socket or --user). FIELD=VALUE arguments select\n" +
			"entries as journalctl's matches do (same field: any; different fields: all;\n" +
			"\"+\" between groups: either); docs/journal.md lists the fields. With\n" +
			"--directory DIR the journal files in DIR are read (and vacuumed) directly,\n" +
			"without a daemon.",
		// Flags are parsed here, after optionalValues, because -n and -b
		// take optional values that may follow as separate words
		// ("-n 20", "-b -1"), which pflag cannot express.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				return cmd.Help()
			}
			args = optionalValues(args)
			if err := checkOptions(cmd.Flags(), args); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if err := cmd.Flags().Parse(args); err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			f.matches = cmd.Flags().Args()
			f.bootSet = cmd.Flags().Changed("boot")
			f.linesSet = cmd.Flags().Changed("lines")
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLogs(ctx, env, f)
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(true)
	fs.StringArrayVarP(&f.units, "unit", "u", nil, "show entries of this unit (repeatable; globs allowed)")
	fs.StringArrayVarP(&f.identifiers, "identifier", "t", nil, "show entries with this syslog identifier (repeatable)")
	fs.StringArrayVar(&f.hosts, "host", nil, "show entries from this host (_HOSTNAME=; messages received as a LOGHOST) (repeatable)")
	fs.BoolVarP(&f.follow, "follow", "f", false, "keep printing new entries as they arrive")
	fs.IntVarP(&f.lines, "lines", "n", 0, "show the last N entries (-n alone: 10; -n all: every entry)")
	fs.BoolVar(&f.noTail, "no-tail", false, "show every entry, even with --follow (undoes --lines)")
	fs.StringVarP(&f.since, "since", "S", "", `entries at or after this time ("2026-01-02 03:04", "-1h", "today", "1 hour ago")`)
	fs.StringVarP(&f.until, "until", "U", "", "entries at or before this time")
	fs.StringVarP(&f.priority, "priority", "p", "", "entries of this priority or more severe, or a range FROM..TO")
	fs.StringVarP(&f.grep, "grep", "g", "", "entries whose message matches this regular expression")
	fs.BoolVar(&f.caseSensitive, "case-sensitive", false, "match --grep case-sensitively (default: insensitive)")
	fs.StringVarP(&f.boot, "boot", "b", "", "entries of a boot: current (no value or 0), -1 the one before, or an id")
	fs.BoolVarP(&f.dmesg, "dmesg", "k", false, "kernel messages of this boot (read from /dev/kmsg by the system instance)")
	fs.StringVarP(&f.output, "output", "o", "short", "format: short, short-full, short-iso, short-iso-precise, short-precise,\n"+
		"short-monotonic, short-unix, with-unit, verbose, export, json, json-pretty, json-sse, json-seq, cat")
	fs.StringVar(&f.outputFields, "output-fields", "", "comma-separated fields verbose, export and json show")
	fs.BoolVarP(&f.catalog, "catalog", "x", false, "add explanations where there are some (tend has none yet)")
	fs.BoolVarP(&f.pagerEnd, "pager-end", "e", false, "jump to the end in the pager (implies -n 1000)")
	fs.BoolVarP(&f.merge, "merge", "m", false, "accepted for journalctl compatibility: tend has one journal per instance")
	fs.BoolVarP(&f.reverse, "reverse", "r", false, "newest entries first")
	fs.StringVarP(&f.cursor, "cursor", "c", "", "start at the entry of this cursor")
	fs.StringVar(&f.afterCursor, "after-cursor", "", "start after the entry of this cursor")
	fs.BoolVar(&f.showCursor, "show-cursor", false, "print the cursor of the last entry at the end")
	fs.StringVarP(&f.field, "field", "F", "", "list the values this field takes in the journal")
	fs.BoolVarP(&f.listFields, "fields", "N", false, "list the field names tend's entries carry")
	fs.BoolVar(&f.diskUsage, "disk-usage", false, "show the journal's disk usage")
	fs.BoolVar(&f.listBoots, "list-boots", false, "list the boots in the journal, oldest first, with their offsets for -b")
	fs.StringVar(&f.vacuumSize, "vacuum-size", "", "remove old segments until the journal uses at most this size (K, M, G)")
	fs.StringVar(&f.vacuumTime, "vacuum-time", "", "remove segments holding only entries older than this span")
	fs.StringVarP(&f.directory, "directory", "D", "", "read the journal in this directory directly, without a daemon")
	fs.BoolVar(&f.noPager, "no-pager", false, "do not pipe output into a pager")
	fs.BoolVarP(&f.all, "all", "a", false, "show messages with unprintable characters as they are")
	fs.BoolVar(&f.utc, "utc", false, "show times in UTC")
	fs.BoolVar(&f.noHostname, "no-hostname", false, "leave out the host name")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not say when there are no entries")
	fs.BoolVar(&f.user, "user", false, "the calling user's tend and journal")
	fs.StringVar(&f.socket, "socket", "", "control socket of the daemon")
	return []*cobra.Command{cmd}
}

// source opens what the flags point at: the directory of --directory, or
// else the daemon (never a default directory behind the daemon's back).
func (f *logsFlags) source(env *Env, lo, hi int) (journalSource, func(), error) {
	if f.directory != "" {
		d, err := openDirSource(f.directory)
		return d, func() {}, err
	}
	sock := f.socket
	if sock == "" {
		sock = client.DefaultSocket(f.user, env.Getenv)
	}
	c := client.New(sock)
	return daemonSource{c: c, lo: lo, hi: hi}, c.Close, nil
}

func runLogs(ctx context.Context, env *Env, f *logsFlags) error {
	if f.listFields {
		for _, n := range journal.FieldNames {
			fmt.Fprintln(env.Stdout, n)
		}
		return nil
	}
	q, lo, hi, err := f.query(time.Now())
	if err != nil {
		return &ExitError{Code: 1, Msg: err.Error()}
	}
	if !f.quiet {
		f.notes(env)
	}
	src, done, err := f.source(env, lo, hi)
	if err != nil {
		return err
	}
	defer done()
	if f.diskUsage || f.listBoots || f.vacuumSize != "" || f.vacuumTime != "" || f.field != "" {
		return logsMaintenance(ctx, env, f, src)
	}
	if f.bootSet || f.dmesg {
		var boots []journal.Boot
		if f.boot != "" && f.boot != "0" {
			if boots, err = src.boots(ctx); err != nil {
				return err
			}
		}
		if q.Boot, err = resolveBoot(f.boot, currentBootID(), boots); err != nil {
			return &ExitError{Code: 1, Msg: err.Error()}
		}
	}
	if f.linesSet && f.lines == 0 {
		// -n 0, as journalctl: no entry from before; with -f, every one
		// that matches from now on.
		if !f.follow {
			return nil
		}
		if q, err = afterLast(ctx, src, q); err != nil {
			return err
		}
	}
	err = printLogs(ctx, env, f, src, q)
	if !f.quiet {
		for _, d := range src.damage() {
			fmt.Fprintf(env.Stderr, "tend: journal damage skipped: %s\n", d)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// afterLast makes q start after the last entry that matches it now
// (from the start when none does).
func afterLast(ctx context.Context, src journalSource, q journal.Query) (journal.Query, error) {
	last := q
	last.Lines, last.Reverse = 1, false
	err := src.query(ctx, last, false, func(e journal.Entry) error {
		q.Cursor, q.AfterCursor = "", journal.FormatCursor(e)
		return nil
	})
	return q, err
}

// notes says on stderr why a query that asks for what tend does not
// record shows nothing.
func (f *logsFlags) notes(env *Env) {
	m, err := journal.ParseMatches(f.matches)
	if err != nil {
		return
	}
	for _, field := range m.Fields() {
		if !journal.Recorded(field) {
			fmt.Fprintf(env.Stderr, "tend: the journal does not record %s; a match on it selects no entries (see tend logs -N)\n", field)
		}
	}
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
	case f.noTail || f.lines < 0: // --no-tail, -n all
		q.Lines = 0
	case !f.linesSet && f.pagerEnd:
		q.Lines = 1000 // like journalctl -e
	case !f.linesSet && f.follow && f.cursor == "" && f.afterCursor == "" && f.since == "":
		q.Lines = 10 // like journalctl -f
	}
	if _, err := journal.ParseMatches(f.matches); err != nil {
		return q, 0, 0, err
	}
	if len(f.matches) > 0 {
		q.Matches = append(q.Matches, f.matches)
	}
	if len(f.identifiers) > 0 {
		var ids []string
		for _, id := range f.identifiers {
			ids = append(ids, "SYSLOG_IDENTIFIER="+id)
		}
		q.Matches = append(q.Matches, ids)
	}
	if f.dmesg {
		// journalctl -k is _TRANSPORT=kernel in the current boot: what
		// tend read from /dev/kmsg.
		q.Matches = append(q.Matches, []string{"_TRANSPORT=kernel"})
	}
	if len(f.hosts) > 0 {
		var hs []string
		for _, h := range f.hosts {
			hs = append(hs, "_HOSTNAME="+h)
		}
		q.Matches = append(q.Matches, hs)
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
		return q, 0, 0, fmt.Errorf("unknown output format %q (%v)", f.output, journal.OutputModes)
	}
	return q, lo, hi, nil
}

// printLogs runs the query and formats the entries, through a pager when
// stdout is a terminal and the output has an end.
func printLogs(ctx context.Context, env *Env, f *logsFlags, src journalSource, q journal.Query) error {
	out := env.Stdout
	if !f.noPager && !f.follow && logsTerminal(out) {
		if p := startPager(env, out, f.pagerEnd); p != nil {
			defer p.wait()
			out = p.w
		}
	}
	w := bufio.NewWriterSize(out, 64<<10)
	o := journal.FormatOptions{All: f.all, OutputFields: splitFields(f.outputFields)}
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
	if err == nil && n == 0 && !f.quiet && saysNoEntries(f.output) {
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

// saysNoEntries tells the modes in which journalctl prints "-- No entries
// --" for an empty result: not those meant for programs.
func saysNoEntries(mode string) bool {
	switch mode {
	case "cat", "export", "json", "json-pretty", "json-sse", "json-seq":
		return false
	}
	return true
}

// logsMaintenance implements --vacuum-size, --vacuum-time, --list-boots,
// --disk-usage and --field on the source.
func logsMaintenance(ctx context.Context, env *Env, f *logsFlags, src journalSource) error {
	if f.vacuumSize != "" || f.vacuumTime != "" {
		var size int64
		var age time.Duration
		var err error
		if f.vacuumSize != "" {
			if size, err = parseSize(f.vacuumSize); err != nil {
				return &ExitError{Code: 1, Msg: "--vacuum-size: " + err.Error()}
			}
			size = max(size, 1) // 0 would mean "no size target"
		}
		if f.vacuumTime != "" {
			if age, err = journal.ParseSpan(f.vacuumTime); err != nil {
				return &ExitError{Code: 1, Msg: "--vacuum-time: " + err.Error()}
			}
		}
		res, err := src.vacuum(ctx, size, age)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Vacuuming done, freed %s of archived journals from %s.\n", formatSize(res.FreedBytes), res.Dir)
	}
	if f.listBoots {
		boots, err := src.boots(ctx)
		if err != nil {
			return err
		}
		for i, b := range boots {
			fmt.Fprintf(env.Stdout, "%3d %s %s — %s\n", i-len(boots)+1, b.ID,
				b.First.Format("Mon 2006-01-02 15:04:05 MST"), b.Last.Format("Mon 2006-01-02 15:04:05 MST"))
		}
	}
	if f.diskUsage {
		u, err := src.diskUsage(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Archived and active journals take up %s in the file system.\n", formatSize(u.Bytes))
	}
	if f.field != "" {
		vals, err := src.fieldValues(ctx, f.field)
		if err != nil {
			return err
		}
		for _, v := range vals {
			fmt.Fprintln(env.Stdout, v)
		}
	}
	return nil
}
