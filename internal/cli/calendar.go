package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/calendar"
)

// timeCommands are the offline helpers for systemd's time grammar:
// `tend calendar` and `tend timespan` print what systemd-analyze's verbs
// of the same names print.
func timeCommands(env *Env) []*cobra.Command {
	var iterations int
	var baseTime string
	cal := &cobra.Command{
		Use:   "calendar SPEC...",
		Short: "Normalize calendar specs (OnCalendar=) and show their next elapses",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			base := now
			if baseTime != "" {
				b, err := parseBaseTime(baseTime, time.Local, now)
				if err != nil {
					return err
				}
				base = b
			}
			if printCalendar(env.Stdout, env.Stderr, args, iterations, base, now, time.Local) {
				return nil
			}
			return &ExitError{Code: 1}
		},
	}
	cal.Flags().IntVar(&iterations, "iterations", 1, "show this many next elapses")
	cal.Flags().StringVar(&baseTime, "base-time", "", "compute elapses after this time (\"@SECONDS\", \"YYYY-MM-DD HH:MM:SS [UTC]\") instead of now")
	span := &cobra.Command{
		Use:   "timespan SPAN...",
		Short: "Parse time spans (\"1h 30min\") and show them in microseconds and normalized",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if printTimespans(env.Stdout, env.Stderr, args) {
				return nil
			}
			return &ExitError{Code: 1}
		},
	}
	return []*cobra.Command{cal, span}
}

const stampLayout = "Mon 2006-01-02 15:04:05 MST"

// printCalendar writes systemd-analyze calendar's report for each spec
// (errors to errw); false if any spec was refused.
func printCalendar(w, errw io.Writer, specs []string, iterations int, base, now time.Time, local *time.Location) bool {
	ok := true
	for i, s := range specs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		sp, err := calendar.ParseIn(s, local)
		if err != nil {
			ok = false
			fmt.Fprintf(errw, "Failed to parse calendar specification '%s': %s\n", s, strerror(err))
			if _, err := calendar.ParseTimespan(s); err == nil {
				fmt.Fprintf(errw, "Hint: this expression is a valid timespan. Use 'tend timespan \"%s\"' instead?\n", s)
			}
			continue
		}
		var rows [][2]string
		norm := sp.String()
		if norm != s {
			rows = append(rows, [2]string{"Original form:", s})
		}
		rows = append(rows, [2]string{"Normalized form:", norm})
		at := base
		for n := 0; n < iterations; n++ {
			next := sp.Next(at)
			if next.IsZero() {
				if n == 0 {
					rows = append(rows, [2]string{"Next elapse:", "never"})
				}
				break
			}
			name := "Next elapse:"
			if n > 0 {
				name = "Iter. #" + strconv.Itoa(n+1) + ":"
			}
			rows = append(rows, [2]string{name, next.In(local).Format(stampLayout)})
			if !isUTC(local, now) {
				rows = append(rows, [2]string{"(in UTC):", next.UTC().Format(stampLayout)})
			}
			rows = append(rows, [2]string{"From now:", relative(next, now)})
			at = next
		}
		writeRows(w, rows)
	}
	return ok
}

// printTimespans writes systemd-analyze timespan's report, stopping at
// the first span it cannot parse, as systemd-analyze does.
func printTimespans(w, errw io.Writer, spans []string) bool {
	for i, s := range spans {
		v, err := calendar.ParseTimespan(s)
		if err != nil {
			fmt.Fprintf(errw, "Failed to parse time span '%s': %s\n", s, strerror(err))
			return false
		}
		writeRows(w, [][2]string{
			{"Original:", s},
			{"\u03bcs:", strconv.FormatUint(uint64(v), 10)},
			{"Human:", v.String()},
		})
		if i < len(spans)-1 {
			fmt.Fprintln(w)
		}
	}
	return true
}

// writeRows prints name/value rows with the names right-aligned.
func writeRows(w io.Writer, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r[0]))
	}
	for _, r := range rows {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(r[0]))
		fmt.Fprintf(w, "%s%s %s\n", pad, r[0], r[1])
	}
}

// strerror is the C library's text for the reason in err ("Invalid
// argument"), as systemd prints it.
func strerror(err error) string {
	if e, ok := err.(*calendar.Error); ok {
		s := e.Errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// isUTC reports whether local is UTC in all but name (offset zero, no
// daylight saving time), when systemd omits the "(in UTC)" line.
func isUTC(local *time.Location, now time.Time) bool {
	for _, m := range []time.Month{time.January, time.July} {
		t := time.Date(now.Year(), m, 1, 0, 0, 0, 0, local)
		if _, off := t.Zone(); off != 0 || t.IsDST() {
			return false
		}
	}
	return true
}

// relative is systemd's "2h 43min left" / "2 years 8 months ago".
func relative(t, now time.Time) string {
	d, suffix := t.Sub(now), "left"
	if d < 0 {
		d, suffix = -d, "ago"
	}
	us := uint64(d / time.Microsecond)
	const (
		sec   = 1000000
		min   = 60 * sec
		hour  = 60 * min
		day   = 24 * hour
		week  = 7 * day
		month = 2629800 * sec
		year  = 31557600 * sec
	)
	plural := func(n uint64, one, many string) string {
		if n == 1 {
			return strconv.FormatUint(n, 10) + " " + one
		}
		return strconv.FormatUint(n, 10) + " " + many
	}
	var s string
	switch {
	case us >= year:
		s = plural(us/year, "year", "years") + " " + plural(us%year/month, "month", "months")
	case us >= month:
		s = plural(us/month, "month", "months") + " " + plural(us%month/day, "day", "days")
	case us >= week:
		s = plural(us/week, "week", "weeks") + " " + plural(us%week/day, "day", "days")
	case us >= 2*day:
		s = fmt.Sprintf("%d days", us/day)
	case us >= 25*hour:
		s = fmt.Sprintf("1 day %dh", (us-day)/hour)
	case us >= 6*hour:
		s = fmt.Sprintf("%dh", us/hour)
	case us >= hour:
		s = fmt.Sprintf("%dh %dmin", us/hour, us%hour/min)
	case us >= 5*min:
		s = fmt.Sprintf("%dmin", us/min)
	case us >= min:
		s = fmt.Sprintf("%dmin %ds", us/min, us%min/sec)
	case us >= sec:
		s = fmt.Sprintf("%ds", us/sec)
	case us >= 1000:
		s = fmt.Sprintf("%dms", us/1000)
	case us > 0:
		s = fmt.Sprintf("%dus", us)
	default:
		return "now"
	}
	return s + " " + suffix
}

// parseBaseTime reads the few timestamp forms --base-time needs:
// "now", "@SECONDS[.FRACTION]" and "YYYY-MM-DD[ HH:MM[:SS]][ UTC]".
func parseBaseTime(s string, local *time.Location, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		f, err := strconv.ParseFloat(rest, 64)
		if err != nil || f < 0 {
			return time.Time{}, fmt.Errorf("invalid base time %q", s)
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e6)*1000), nil
	}
	loc := local
	if rest, ok := strings.CutSuffix(s, " UTC"); ok {
		s, loc = rest, time.UTC
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid base time %q", s)
}
