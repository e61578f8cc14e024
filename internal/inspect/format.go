package inspect

import (
	"fmt"
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

// StartColumn formats a start time as ps -o start: HH:MM:SS within a day,
// else "Mmm dd".
func StartColumn(start, now time.Time) string {
	if now.Sub(start) > 24*time.Hour {
		return start.Local().Format("Jan _2")
	}
	return start.Local().Format("15:04:05")
}

// etimeSeconds is how procps counts a process's age: whole seconds of
// uptime minus its start.
func etimeSeconds(p *Process, uptime float64) uint64 {
	up := uint64(uptime)
	st := p.StartTicks / procfs.UserHZ
	if st > up {
		return 0
	}
	return up - st
}

// PCPU is procps's %CPU in tenths: CPU time over lifetime.
func PCPU(p *Process, uptime float64) uint64 {
	sec := etimeSeconds(p, uptime)
	if sec == 0 {
		return 0
	}
	return p.CPUTicks * 1000 / procfs.UserHZ / sec
}

// PMEM is procps's %MEM in tenths: resident over total memory.
func PMEM(p *Process, memTotal uint64) uint64 {
	if memTotal == 0 {
		return 0
	}
	return p.RSS * 1000 / memTotal
}

func tenths(v uint64) string {
	if v > 999 {
		return fmt.Sprint(v / 10)
	}
	return fmt.Sprintf("%d.%d", v/10, v%10)
}

// CommandLine renders argv as ps's args column: arguments joined by spaces,
// control characters as '?'; "[comm]" when there are none (kernel threads,
// zombies), with " <defunct>" for zombies.
func CommandLine(p *Process) string {
	if len(p.Args) == 0 {
		s := "[" + printable(p.Comm) + "]"
		if p.State == "Z" {
			s += " <defunct>"
		}
		return s
	}
	return printable(strings.Join(p.Args, " "))
}

// CommandName renders the comm column (" <defunct>" for zombies).
func CommandName(p *Process) string {
	s := printable(p.Comm)
	if p.State == "Z" {
		s += " <defunct>"
	}
	return s
}

// printable replaces control characters as procps does ('?').
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// userColumn truncates a user name as procps does in its 8-wide columns.
func userColumn(name string) string {
	if len(name) > 8 {
		return name[:7] + "+"
	}
	return name
}
