package journal

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime parses a timestamp as systemd.time(7) describes them, relative
// to now in loc: "2026-11-22 03:50:00", "2026-11-22", "03:50", "now",
// "today", "yesterday", "tomorrow", "@1700000000", "-1h", "+30min",
// "1 hour ago", "5min left", optionally with a weekday in front and "UTC"
// or a time zone name at the end.
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("invalid time %q", in)
	}
	now = now.In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	switch s {
	case "now":
		return now, nil
	case "today":
		return midnight, nil
	case "yesterday":
		return midnight.AddDate(0, 0, -1), nil
	case "tomorrow":
		return midnight.AddDate(0, 0, 1), nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		f, err := strconv.ParseFloat(rest, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("invalid time %q", in)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).In(loc), nil
	}
	if d, sign, ok := relative(s); ok {
		return now.Add(time.Duration(sign) * d), nil
	}
	t, err := absolute(s, now, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q", in)
	}
	return t, nil
}

// relative parses "-SPAN", "+SPAN", "SPAN ago" and "SPAN left".
func relative(s string) (time.Duration, int, bool) {
	var span string
	sign := 1
	switch {
	case strings.HasPrefix(s, "-"):
		span, sign = s[1:], -1
	case strings.HasPrefix(s, "+"):
		span = s[1:]
	case strings.HasSuffix(s, " ago"):
		span, sign = strings.TrimSuffix(s, " ago"), -1
	case strings.HasSuffix(s, " left"):
		span = strings.TrimSuffix(s, " left")
	default:
		return 0, 0, false
	}
	d, err := ParseSpan(span)
	if err != nil {
		return 0, 0, false
	}
	return d, sign, true
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun",
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// absolute parses "[WEEKDAY] [DATE] [TIME] [ZONE]".
func absolute(s string, now time.Time, loc *time.Location) (time.Time, error) {
	fields := strings.Fields(isoT(s))
	if len(fields) > 0 {
		for _, w := range weekdays {
			if strings.EqualFold(strings.TrimSuffix(fields[0], ","), w) {
				fields = fields[1:]
				break
			}
		}
	}
	if n := len(fields); n > 1 {
		last := fields[n-1]
		if last == "UTC" || last == "Z" || last == "GMT" {
			loc, fields = time.UTC, fields[:n-1]
		} else if strings.Contains(last, "/") {
			if l, err := time.LoadLocation(last); err == nil {
				loc, fields = l, fields[:n-1]
			}
		}
	}
	var date, clock string
	switch len(fields) {
	case 1:
		if strings.Contains(fields[0], ":") {
			clock = fields[0]
		} else {
			date = fields[0]
		}
	case 2:
		date, clock = fields[0], fields[1]
	default:
		return time.Time{}, fmt.Errorf("bad timestamp")
	}
	y, mo, d := now.In(loc).Date()
	if date != "" {
		t, err := time.ParseInLocation("2006-01-02", date, loc)
		if err != nil {
			t, err = time.ParseInLocation("06-01-02", date, loc)
		}
		if err != nil {
			return time.Time{}, err
		}
		y, mo, d = t.Date()
	}
	var h, mi, sec, ns int
	if clock != "" {
		var err error
		if h, mi, sec, ns, err = parseClock(clock); err != nil {
			return time.Time{}, err
		}
	}
	return time.Date(y, mo, d, h, mi, sec, ns, loc), nil
}

// parseClock parses HH:MM[:SS[.frac]].
func parseClock(s string) (h, m, sec, ns int, err error) {
	main, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(main, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, 0, fmt.Errorf("bad time of day")
	}
	nums := make([]int, 3)
	limits := []int{23, 59, 60}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > limits[i] || len(p) > 2 {
			return 0, 0, 0, 0, fmt.Errorf("bad time of day")
		}
		nums[i] = n
	}
	if hasFrac {
		if len(parts) != 3 || frac == "" || len(frac) > 9 {
			return 0, 0, 0, 0, fmt.Errorf("bad fraction")
		}
		n, err := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		if err != nil || n < 0 {
			return 0, 0, 0, 0, fmt.Errorf("bad fraction")
		}
		ns = n
	}
	return nums[0], nums[1], nums[2], ns, nil
}

var spanUnits = []struct {
	names []string
	d     time.Duration
}{
	{[]string{"usec", "us", "µs"}, time.Microsecond},
	{[]string{"msec", "ms"}, time.Millisecond},
	{[]string{"seconds", "second", "sec", "s"}, time.Second},
	{[]string{"minutes", "minute", "min", "m"}, time.Minute},
	{[]string{"hours", "hour", "hr", "h"}, time.Hour},
	{[]string{"days", "day", "d"}, 24 * time.Hour},
	{[]string{"weeks", "week", "w"}, 7 * 24 * time.Hour},
	{[]string{"months", "month", "M"}, 2629800 * time.Second},
	{[]string{"years", "year", "y"}, 31557600 * time.Second},
	{[]string{"nsec", "ns"}, time.Nanosecond},
}

// ParseSpan parses a time span as systemd.time(7) does: "90", "1h 30min",
// "1h30min", "1.5h", "2 days"; a number without unit means seconds.
func ParseSpan(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("invalid time span %q", in)
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid time span %q", in)
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid time span %q", in)
		}
		s = strings.TrimLeft(s[i:], " ")
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9') && s[j] != ' ' && s[j] != '.' {
			j++
		}
		unit := s[:j]
		s = strings.TrimLeft(s[j:], " ")
		mult := time.Second
		if unit != "" {
			mult = 0
			for _, u := range spanUnits {
				for _, n := range u.names {
					if n == unit {
						mult = u.d
					}
				}
			}
			if mult == 0 {
				return 0, fmt.Errorf("invalid time span %q: unknown unit %q", in, unit)
			}
		}
		v := num * float64(mult)
		if v > math.MaxInt64/2 || float64(total)+v > math.MaxInt64/2 {
			return 0, fmt.Errorf("invalid time span %q: too large", in)
		}
		total += time.Duration(v)
	}
	return total, nil
}

// isoT turns the "T" between an ISO 8601 date and time into a space.
func isoT(s string) string {
	for i := 1; i+1 < len(s); i++ {
		if s[i] == 'T' && s[i-1] >= '0' && s[i-1] <= '9' && s[i+1] >= '0' && s[i+1] <= '9' {
			return s[:i] + " " + s[i+1:]
		}
	}
	return s
}
