package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
)

// This file holds what `tend logs` needs besides the command itself:
// parsing -p and -b, converting between the wire and journal types, and
// the pager.

var priorityNames = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// parsePriority parses -p: a level (name or number) meaning that level and
// all more severe ones, or a range FROM..TO.
func parsePriority(s string) (lo, hi int, err error) {
	level := func(v string) (int, error) {
		for i, n := range priorityNames {
			if strings.EqualFold(v, n) {
				return i, nil
			}
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 7 {
			return n, nil
		}
		return 0, fmt.Errorf("unknown priority %q (emerg, alert, crit, err, warning, notice, info, debug or 0-7)", v)
	}
	if from, to, ok := strings.Cut(s, ".."); ok {
		lo, hi = 0, 7
		if from != "" {
			if lo, err = level(from); err != nil {
				return 0, 0, err
			}
		}
		if to != "" {
			if hi, err = level(to); err != nil {
				return 0, 0, err
			}
		}
		return min(lo, hi), max(lo, hi), nil
	}
	hi, err = level(s)
	return 0, hi, err
}

// resolveBoot turns -b's argument into a boot id: "" or "0" is the
// current boot, a negative (or positive) number an offset from the last
// (or first) boot in boots, anything else a boot id.
func resolveBoot(arg, current string, boots []journal.Boot) (string, error) {
	if arg == "" || arg == "0" {
		return current, nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		return arg, nil
	}
	i := n - 1
	if n <= 0 {
		i = len(boots) - 1 + n
	}
	if i < 0 || i >= len(boots) {
		return "", fmt.Errorf("no boot %s in the journal (%d boots)", arg, len(boots))
	}
	return boots[i].ID, nil
}

func currentBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// apiQuery converts a journal query to the wire.
func apiQuery(q journal.Query, follow bool, lo, hi int) api.LogQuery {
	return api.LogQuery{
		Units: q.Units, Since: q.Since, Until: q.Until, Lines: q.Lines, Follow: follow,
		Grep: q.Grep, CaseSensitive: q.CaseSensitive, PriorityMin: lo, PriorityMax: hi,
		Boot: q.Boot, Reverse: q.Reverse, Cursor: q.Cursor, AfterCursor: q.AfterCursor,
		Matches: q.Matches,
	}
}

// fromAPI converts a wire entry to a journal entry for formatting.
func fromAPI(e api.LogEntry) journal.Entry {
	seq, _ := journal.ParseCursor(e.Cursor)
	st, _ := journal.ParseStream(e.Stream)
	return journal.Entry{
		Seq: seq, Realtime: e.Time, Monotonic: time.Duration(e.Monotonic) * time.Microsecond,
		BootID: e.BootID, Unit: e.Unit, PID: e.PID, UID: e.UID, Priority: e.Priority,
		Facility: e.Facility, Identifier: e.Identifier, Stream: st, Message: []byte(e.Message),
		Origin: journal.Origin{Hostname: e.Hostname, Address: e.SourceAddress, Time: e.SenderTime,
			MsgID: e.MsgID, StructuredData: e.StructuredData},
	}
}

// logsTerminal says whether w is a terminal.
func logsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// pager is a running pager process fed through a pipe.
type pager struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

// startPager starts $TEND_PAGER, $PAGER or less (with LESS=FRSXMK unless
// set, like journalctl) on out; nil when none can start. With end, less
// starts at the end of the output (+G), as with journalctl -e.
func startPager(env *Env, out io.Writer, end bool) *pager {
	name := env.Getenv("TEND_PAGER")
	if name == "" {
		name = env.Getenv("PAGER")
	}
	if name == "" {
		name = "less"
	}
	if name == "cat" {
		return nil
	}
	if end && (name == "less" || strings.HasSuffix(name, "/less")) {
		name += " +G"
	}
	cmd := exec.Command("/bin/sh", "-c", name)
	cmd.Stdout, cmd.Stderr = out, env.Stderr
	cmd.Env = os.Environ()
	if env.Getenv("LESS") == "" {
		cmd.Env = append(cmd.Env, "LESS=FRSXMK")
	}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil
	}
	if err := cmd.Start(); err != nil {
		return nil
	}
	return &pager{cmd: cmd, w: w}
}

// wait closes the pager's input and waits for the user to quit it.
func (p *pager) wait() {
	p.w.Close()
	p.cmd.Wait()
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// parseSize parses --vacuum-size: bytes with an optional K, M, G or T
// suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}
