// Package cron reads crontab files as Debian's cron does (crontab(5)):
// five time fields or an @keyword, environment lines, the user field of
// /etc/crontab and /etc/cron.d, and % in commands. Each entry becomes a
// calendar.Schedule and the text of a .timer and a .service unit; cron
// has no runtime here, the timer engine runs the units.
package cron

import (
	"fmt"
	"strconv"
	"strings"
)

// field describes one of the five time fields.
type field struct {
	name     string
	lo, hi   int
	names    []string // value lo+i is names[i]
	sundayIs bool     // day of week: 7 is Sunday too
}

var (
	minuteField = field{name: "minute", lo: 0, hi: 59}
	hourField   = field{name: "hour", lo: 0, hi: 23}
	domField    = field{name: "day-of-month", lo: 1, hi: 31}
	monthField  = field{name: "month", lo: 1, hi: 12, names: []string{
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	dowField = field{name: "day-of-week", lo: 0, hi: 7, sundayIs: true, names: []string{
		"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"}}
)

// bits is a set of field values (bit v is value v).
type bits uint64

func (b bits) has(v int) bool { return b&(1<<v) != 0 }

// parseField reads one field: a comma list of "*", "N", "N-M", each of
// the last two ranges optionally "/STEP"; names where the field has them.
// star reports that the field starts with "*", which is what cron tests
// for its day-of-month/day-of-week rule.
func parseField(f field, s string) (set bits, star bool, err error) {
	if s == "" {
		return 0, false, fmt.Errorf("bad %s: empty", f.name)
	}
	star = s[0] == '*'
	for _, elem := range strings.Split(s, ",") {
		b, err := parseElem(f, elem)
		if err != nil {
			return 0, false, fmt.Errorf("bad %s %q: %w", f.name, s, err)
		}
		set |= b
	}
	if f.sundayIs && (set.has(0) || set.has(7)) {
		set |= 1 | 1<<7
	}
	return set, star, nil
}

func parseElem(f field, e string) (bits, error) {
	rng, stepText, hasStep := strings.Cut(e, "/")
	var lo, hi int
	if rng == "*" {
		lo, hi = f.lo, f.hi
	} else {
		a, b, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return 0, err
		}
		hi = lo
		if isRange {
			if hi, err = f.value(b); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %d-%d runs backwards", lo, hi)
			}
		} else if hasStep {
			return 0, fmt.Errorf("a step needs a range or *")
		}
	}
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n <= 0 || stepText[0] == '+' {
			return 0, fmt.Errorf("bad step %q", stepText)
		}
		step = n
	}
	var set bits
	for v := lo; v <= hi; v += step {
		set |= 1 << v
	}
	return set, nil
}

// value reads a number or, where the field has names, a three-letter
// name in any case.
func (f field) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.lo + i, nil
		}
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.lo || v > f.hi {
		return 0, fmt.Errorf("%s out of range %d-%d", s, f.lo, f.hi)
	}
	return v, nil
}

// list writes a set as a systemd calendar list ("01..05,10"), with
// runs of three or more as ranges.
func (b bits) list(lo, hi int) string {
	if s, ok := b.step(lo, hi); ok {
		return s
	}
	var parts []string
	for v := lo; v <= hi; v++ {
		if !b.has(v) {
			continue
		}
		end := v
		for end+1 <= hi && b.has(end+1) {
			end++
		}
		switch {
		case end >= v+2:
			parts = append(parts, fmt.Sprintf("%02d..%02d", v, end))
		case end == v+1:
			parts = append(parts, fmt.Sprintf("%02d,%02d", v, end))
		default:
			parts = append(parts, fmt.Sprintf("%02d", v))
		}
		v = end
	}
	return strings.Join(parts, ",")
}

// step writes a set that is every n-th value from its first to the end
// of the field as "START/N" ("*/5" in minutes is "00/5").
func (b bits) step(lo, hi int) (string, bool) {
	var vs []int
	for v := lo; v <= hi; v++ {
		if b.has(v) {
			vs = append(vs, v)
		}
	}
	if len(vs) < 3 {
		return "", false
	}
	n := vs[1] - vs[0]
	for i := 2; i < len(vs); i++ {
		if vs[i]-vs[i-1] != n {
			return "", false
		}
	}
	if n < 2 || vs[len(vs)-1]+n <= hi {
		return "", false
	}
	return fmt.Sprintf("%02d/%d", vs[0], n), true
}

func (b bits) full(lo, hi int) bool {
	for v := lo; v <= hi; v++ {
		if !b.has(v) {
			return false
		}
	}
	return true
}

var weekdayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// weekdays writes a day-of-week set as systemd weekday names; "" for all.
func (b bits) weekdays() string {
	if b.full(0, 6) {
		return ""
	}
	var days []string
	for _, d := range []int{1, 2, 3, 4, 5, 6, 0} { // systemd's week starts on Monday
		if b.has(d) {
			days = append(days, weekdayNames[d])
		}
	}
	return strings.Join(days, ",")
}
