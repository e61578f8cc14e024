package inspect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/procfs"
)

// CPUTime formats cumulative CPU ticks as procps's TIME: [DD-]HH:MM:SS.
func CPUTime(ticks uint64) string {
	t := ticks / procfs.UserHZ
	d, h, m, s := t/86400, t/3600%24, t/60%60, t%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

// Elapsed formats seconds as procps's ELAPSED: [[DD-]hh:]mm:ss.
func Elapsed(sec uint64) string {
	d, h, m, s := sec/86400, sec/3600%24, sec/60%60, sec%60
	switch {
	case d > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, s)
	case h > 0:
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}

// STime formats a start time as ps -f's STIME: HH:MM today, MmmDD this
// year, else the year.
func STime(start, now time.Time) string {
	start, now = start.Local(), now.Local()
	switch {
	case start.Year() != now.Year():
		return start.Format("2006")
	case start.YearDay() != now.YearDay():
		return start.Format("Jan02")
	}
	return start.Format("15:04")
}

// StartColumn formats a start time as ps -o start: HH:MM:SS within a
// day, else "  Mmm DD" (day zero-padded).
func StartColumn(start, now time.Time) string {
	if start.Unix()+86400 > now.Unix() {
		return start.Local().Format("15:04:05")
	}
	return start.Local().Format("  Jan 02")
}

// BSDStart formats a start time as ps -o bsdstart: " HH:MM" within a day,
// else "Mmm _D".
func BSDStart(start, now time.Time) string {
	if now.Unix()-start.Unix() > 86400 {
		return start.Local().Format("Jan _2")
	}
	return start.Local().Format(" 15:04")
}

// LStart formats a start time as ps -o lstart (ctime's layout).
func LStart(start time.Time) string {
	return start.Local().Format("Mon Jan _2 15:04:05 2006")
}

// BSDTime formats CPU ticks as ps's BSD TIME: minutes:seconds.
func BSDTime(ticks uint64) string {
	t := ticks / procfs.UserHZ
	return fmt.Sprintf("%3d:%02d", t/60, t%60)
}

// lifeTicks is a process's age in clock ticks, as procps computes it
// (uptime in ticks, truncated, minus the start), with its floating-point
// round trip, so that ages and percentages agree with procps's.
func lifeTicks(p *Process, s *Snapshot) float64 {
	t := float64(s.BootTicks) - float64(p.StartTicks)
	if t <= 0 {
		return 0
	}
	return t
}

// etimeSeconds is how procps counts a process's age in whole seconds.
func etimeSeconds(p *Process, s *Snapshot) uint64 {
	return uint64(lifeTicks(p, s) / procfs.UserHZ)
}

// PCPU is procps's %CPU in tenths: CPU time over lifetime.
func PCPU(p *Process, s *Snapshot) uint64 {
	jiffies := uint64(lifeTicks(p, s) / procfs.UserHZ * procfs.UserHZ)
	if jiffies == 0 {
		return 0
	}
	return p.CPUTicks * 1000 / jiffies
}

func pcpuValue(p *Process, s *Snapshot) string {
	v := PCPU(p, s)
	if v > 999 {
		return strconv.FormatUint(v/10, 10)
	}
	return fmt.Sprintf("%d.%d", v/10, v%10)
}

// cValue is ps's C: %CPU without the fraction, at most 99.
func cValue(p *Process, s *Snapshot) string {
	return fmt.Sprintf("%2d", min(PCPU(p, s)/10, 99))
}

// PMEM is procps's %MEM in tenths: resident over total memory.
func PMEM(p *Process, memTotal uint64) uint64 {
	if memTotal == 0 {
		return 0
	}
	return min(p.RSS*1000/memTotal, 999)
}

func pmemValue(p *Process, s *Snapshot) string {
	v := PMEM(p, s.MemTotal)
	return fmt.Sprintf("%2d.%d", v/10, v%10)
}

// CommandLine renders argv as ps's args column: arguments joined by spaces
// (a newline inside one becomes a space too), then escaped as procps does
// in a UTF-8 locale; "[comm]" when there are none (kernel threads,
// zombies), with " <defunct>" for zombies.
func CommandLine(p *Process) string { return commandLine(p, true) }

func commandLine(p *Process, utf bool) string {
	if len(p.Args) == 0 {
		s := "[" + psEscape(p.Comm, utf) + "]"
		if p.State == "Z" {
			s += " <defunct>"
		}
		return s
	}
	return psEscape(strings.ReplaceAll(strings.Join(p.Args, " "), "\n", " "), utf)
}

// commandName renders the comm column: the name alone, for zombies too.
func commandName(p *Process, utf bool) string { return psEscape(p.Comm, utf) }

// printable replaces control characters as procps does ('?').
func printable(s string) string { return psEscape(s, true) }

// userColumn truncates a user name as procps does in its 8-wide columns.
func userColumn(name string) string {
	if len(name) > 8 {
		return name[:7] + "+"
	}
	return name
}
