package calendar

import (
	"strconv"
	"strings"
	"syscall"
)

// Timespan is a duration in microseconds, systemd's unit; Infinity is
// "infinity".
type Timespan uint64

// Infinity is the time span "infinity".
const Infinity Timespan = 1<<64 - 1

const (
	usecPerMinute = 60 * usecPerSec
	usecPerHour   = 60 * usecPerMinute
	usecPerDay    = 24 * usecPerHour
	usecPerWeek   = 7 * usecPerDay
	usecPerMonth  = 2629800 * usecPerSec
	usecPerYear   = 31557600 * usecPerSec
)

// spanUnits are tried in order; the first that prefixes the text wins,
// so longer names come before their prefixes.
var spanUnits = []struct {
	suffix string
	usec   uint64
}{
	{"seconds", usecPerSec}, {"second", usecPerSec}, {"sec", usecPerSec}, {"s", usecPerSec},
	{"minutes", usecPerMinute}, {"minute", usecPerMinute}, {"min", usecPerMinute},
	{"months", usecPerMonth}, {"month", usecPerMonth}, {"M", usecPerMonth},
	{"msec", 1000}, {"ms", 1000}, {"m", usecPerMinute},
	{"hours", usecPerHour}, {"hour", usecPerHour}, {"hr", usecPerHour}, {"h", usecPerHour},
	{"days", usecPerDay}, {"day", usecPerDay}, {"d", usecPerDay},
	{"weeks", usecPerWeek}, {"week", usecPerWeek}, {"w", usecPerWeek},
	{"years", usecPerYear}, {"year", usecPerYear}, {"y", usecPerYear},
	{"usec", 1}, {"us", 1}, {"\u03bcs", 1}, {"\u00b5s", 1},
}

// isSpace is C's isspace in the "C" locale (systemd's WHITESPACE).
func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func trimSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

// ParseTimespan parses a time span as systemd.time(7) describes it
// ("1h 30min", "2.5s", "infinity"); a number without unit is seconds.
func ParseTimespan(s string) (Timespan, error) {
	return ParseTimespanUnit(s, usecPerSec)
}

// ParseTimespanUnit is ParseTimespan with another unit (in
// microseconds) for bare numbers.
func ParseTimespanUnit(s string, unit uint64) (Timespan, error) {
	v, errno := parseSpan(s, unit)
	if errno != 0 {
		return 0, &Error{What: "time span", Input: s, Errno: errno}
	}
	return v, nil
}

func parseSpan(s string, unit uint64) (Timespan, syscall.Errno) {
	p := trimSpace(s)
	if rest, ok := strings.CutPrefix(p, "infinity"); ok {
		if trimSpace(rest) != "" {
			return 0, syscall.EINVAL
		}
		return Infinity, 0
	}
	var total uint64
	something := false
	for {
		p = trimSpace(p)
		if p == "" {
			if !something {
				return 0, syscall.EINVAL
			}
			return Timespan(total), 0
		}
		if p[0] == '-' {
			return 0, syscall.ERANGE
		}
		num := p
		if num[0] == '+' {
			num = num[1:]
		}
		n := 0
		for n < len(num) && isDigit(num[n]) {
			n++
		}
		hasDot := n < len(num) && num[n] == '.'
		if n == 0 && (!hasDot || len(num) < len(p)) {
			return 0, syscall.EINVAL
		}
		l, err := strconv.ParseUint("0"+num[:n], 10, 63)
		if err != nil {
			return 0, syscall.ERANGE
		}
		var fracDigits string
		p = num[n:]
		if hasDot {
			f := 1
			for f < len(p) && isDigit(p[f]) {
				f++
			}
			fracDigits = p[1:f]
			p = p[f:]
		}
		mult, rest := spanUnit(trimSpace(p), unit)
		if rest == p && rest != "" {
			return 0, syscall.EINVAL
		}
		p = rest
		if l >= uint64(Infinity)/mult {
			return 0, syscall.ERANGE
		}
		k := l * mult
		if k >= uint64(Infinity)-total {
			return 0, syscall.ERANGE
		}
		total += k
		something = true
		if hasDot {
			if fracDigits == "" {
				return 0, syscall.EINVAL
			}
			m := mult / 10
			for _, d := range []byte(fracDigits) {
				k = uint64(d-'0') * m
				if k >= uint64(Infinity)-total {
					return 0, syscall.ERANGE
				}
				total += k
				m /= 10
			}
		}
	}
}

func spanUnit(p string, def uint64) (uint64, string) {
	for _, u := range spanUnits {
		if strings.HasPrefix(p, u.suffix) {
			return u.usec, p[len(u.suffix):]
		}
	}
	return def, p
}

// String formats the span exactly as systemd's format_timespan does with
// full accuracy: "1h 30min", "2.500000s", "infinity", "0".
func (t Timespan) String() string { return FormatTimespan(t, 0) }

var spanTable = []struct {
	suffix string
	usec   uint64
}{
	{"y", usecPerYear}, {"month", usecPerMonth}, {"w", usecPerWeek}, {"d", usecPerDay},
	{"h", usecPerHour}, {"min", usecPerMinute}, {"s", usecPerSec}, {"ms", 1000}, {"us", 1},
}

// FormatTimespan formats t, dropping parts smaller than accuracy (in
// microseconds; 0 keeps everything), as systemd does.
func FormatTimespan(t Timespan, accuracy uint64) string {
	if t == Infinity {
		return "infinity"
	}
	if t == 0 {
		return "0"
	}
	v := uint64(t)
	var b strings.Builder
	for _, u := range spanTable {
		if v == 0 || (v < accuracy && b.Len() > 0) {
			break
		}
		if v < u.usec {
			continue
		}
		a, r := v/u.usec, v%u.usec
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if v < usecPerMinute && r > 0 {
			j := 0
			for cc := u.usec; cc > 1; cc /= 10 {
				j++
			}
			for cc := accuracy; cc > 1; cc /= 10 {
				r /= 10
				j--
			}
			if j > 0 {
				b.WriteString(strconv.FormatUint(a, 10) + ".")
				rs := strconv.FormatUint(r, 10)
				b.WriteString(strings.Repeat("0", max(0, j-len(rs))) + rs + u.suffix)
				v = 0
				continue
			}
		}
		b.WriteString(strconv.FormatUint(a, 10) + u.suffix)
		v = r
	}
	return b.String()
}
