package calendar

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Error is a calendar spec or time span systemd would refuse, with the
// reason systemd gives (EINVAL, ERANGE, ENOBUFS).
type Error struct {
	What  string // "calendar specification" or "time span"
	Input string
	Errno syscall.Errno
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid %s %q: %v", e.What, e.Input, e.Errno)
}

// maxComponents bounds a field's list, as systemd does.
const maxComponents = 240

// Parse parses a calendar spec whose wall times are local time.
func Parse(s string) (*Spec, error) { return ParseIn(s, time.Local) }

// ParseIn parses a calendar spec (systemd.time(7) "Calendar Events"):
// "[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]", a
// shorthand such as "daily", or "@EPOCH". local is the zone of a spec
// that names none.
func ParseIn(s string, local *time.Location) (*Spec, error) {
	sp, errno := parseSpec(s, local)
	if errno != 0 {
		return nil, &Error{What: "calendar specification", Input: s, Errno: errno}
	}
	return sp, nil
}

// MustParse is ParseIn for specs known to be valid (tests, defaults).
func MustParse(s string, local *time.Location) *Spec {
	sp, err := ParseIn(s, local)
	if err != nil {
		panic(err)
	}
	return sp
}

func parseSpec(in string, local *time.Location) (*Spec, syscall.Errno) {
	c := &fields{dst: -1, loc: local}
	p := in
	if hasSuffixFold(p, " UTC") {
		c.utc = true
		p = p[:len(p)-4]
	} else if j, name := localZoneSuffix(p, local); j >= 0 {
		c.dst, c.dstN = j, name
		p = p[:len(p)-len(name)-1]
	} else if i := strings.LastIndexByte(p, ' '); i >= 0 {
		if loc, ok := loadZone(p[i+1:]); ok {
			c.tz, c.loc = p[i+1:], loc
			p = p[:i]
		}
	}
	if p == "" {
		return nil, syscall.EINVAL
	}
	if !shorthand(c, strings.ToLower(p)) {
		if errno := parseLonghand(c, p); errno != 0 {
			return nil, errno
		}
	}
	c.normalize()
	if !c.valid() {
		return nil, syscall.EINVAL
	}
	if c.utc {
		c.loc = time.UTC
	}
	sp, ok := c.compact()
	if !ok {
		return nil, syscall.E2BIG
	}
	return sp, 0
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// localZoneSuffix finds the local zone's standard (0) or daylight (1)
// abbreviation at the end of p, after a space, as glibc's tzname names
// them.
func localZoneSuffix(p string, local *time.Location) (int, string) {
	names := tzNames(local)
	for j, n := range names {
		if n == "" || !hasSuffixFold(p, n) {
			continue
		}
		rest := p[:len(p)-len(n)]
		if rest == "" || rest[len(rest)-1] != ' ' {
			continue
		}
		return j, p[len(p)-len(n):]
	}
	return -1, ""
}

// tzNames approximates glibc's tzname[] for loc: the abbreviations of
// standard and daylight time under this year's rules (the standard one
// twice in a zone without daylight saving time).
func tzNames(loc *time.Location) [2]string {
	y := time.Now().Year()
	var n [2]string
	for _, m := range []time.Month{time.January, time.July} {
		t := time.Date(y, m, 1, 12, 0, 0, 0, loc)
		name, _ := t.Zone()
		if t.IsDST() {
			n[1] = name
		} else if n[0] == "" {
			n[0] = name
		}
	}
	if n[1] == "" {
		n[1] = n[0]
	}
	return n
}

// shorthand fills c from a named schedule ("daily"); false if p is none.
func shorthand(c *fields, p string) bool {
	zero := []component{{0, -1, 0}}
	one := []component{{1, -1, 0}}
	switch p {
	case "minutely":
		c.usec = zero
		return true
	case "hourly":
		c.minute, c.usec = zero, zero
		return true
	case "daily":
	case "monthly":
		c.day = one
	case "annually", "yearly", "anually":
		c.month, c.day = one, one
	case "weekly":
		c.weekdays = 1
	case "quarterly":
		c.month = []component{{1, -1, 0}, {4, -1, 0}, {7, -1, 0}, {10, -1, 0}}
		c.day = one
	case "biannually", "bi-annually", "semiannually", "semi-annually":
		c.month = []component{{1, -1, 0}, {7, -1, 0}}
		c.day = one
	default:
		return false
	}
	c.hour, c.minute, c.usec = zero, zero, zero
	return true
}

func parseLonghand(c *fields, p string) syscall.Errno {
	rest, errno := parseWeekdays(p, c)
	if errno != 0 {
		return errno
	}
	rest, done, errno := parseDate(rest, c)
	if errno != 0 {
		return errno
	}
	if !done {
		if rest, errno = parseTime(rest, c); errno != 0 {
			return errno
		}
	}
	if rest != "" {
		return syscall.EINVAL
	}
	return 0
}

var weekdayNames = []struct {
	name string
	nr   int
}{
	{"monday", 0}, {"mon", 0}, {"tuesday", 1}, {"tue", 1}, {"wednesday", 2}, {"wed", 2},
	{"thursday", 3}, {"thu", 3}, {"friday", 4}, {"fri", 4}, {"saturday", 5}, {"sat", 5},
	{"sunday", 6}, {"sun", 6},
}

func skipSpaces(p string) string { return strings.TrimLeft(p, " ") }

// parseWeekdays reads an optional weekday list ("Mon..Fri,Sun ").
func parseWeekdays(p string, c *fields) (string, syscall.Errno) {
	l := -1
	for first := true; ; first = false {
		nr := -1
		for _, d := range weekdayNames {
			if len(p) >= len(d.name) && strings.EqualFold(p[:len(d.name)], d.name) {
				if n := len(d.name); n < len(p) && !strings.ContainsRune("-., ", rune(p[n])) {
					return "", syscall.EINVAL
				}
				nr = d.nr
				p = p[len(d.name):]
				break
			}
		}
		if nr < 0 {
			if first {
				return p, 0
			}
			return "", syscall.EINVAL
		}
		c.weekdays |= 1 << nr
		if l >= 0 {
			if l > nr {
				return "", syscall.EINVAL
			}
			for j := l + 1; j < nr; j++ {
				c.weekdays |= 1 << j
			}
		}
		if p == "" {
			return p, 0
		}
		switch p[0] {
		case ' ':
			return skipSpaces(p), 0
		case '.':
			if l >= 0 || len(p) < 2 || p[1] != '.' {
				return "", syscall.EINVAL
			}
			l = nr
			p = p[2:]
		case '-':
			if l >= 0 {
				return "", syscall.EINVAL
			}
			l = nr
			p = p[1:]
		case ',':
			l = -1
			p = p[1:]
		}
		if p == "" || p[0] == ' ' {
			if l >= 0 {
				return "", syscall.EINVAL
			}
			return skipSpaces(p), 0
		}
	}
}

// parseDate reads an optional "[YEAR-]MONTH-DAY" (or "~DAY"), or
// "@EPOCH"; done reports that the spec is complete (the epoch form).
func parseDate(p string, c *fields) (rest string, done bool, errno syscall.Errno) {
	if p == "" {
		return p, false, 0
	}
	if p[0] == '@' {
		secs, ok := parseEpoch(p[1:])
		if !ok {
			return "", false, syscall.EINVAL
		}
		fromEpoch(c, secs)
		return "", true, 0
	}
	t := p
	first, t, errno := parseChain(t, false)
	if errno != 0 {
		return "", false, errno
	}
	if t == "" || t[0] == ':' {
		return p, false, 0 // a time, not a date
	}
	switch t[0] {
	case '~':
		c.endOfMonth = true
	case '-':
	default:
		return "", false, syscall.EINVAL
	}
	second, t, errno := parseChain(t[1:], false)
	if errno != 0 {
		return "", false, errno
	}
	if t == "" || t[0] == ' ' {
		c.month, c.day = first, second
		return skipSpaces(t), false, 0
	}
	if c.endOfMonth {
		return "", false, syscall.EINVAL
	}
	switch t[0] {
	case '~':
		c.endOfMonth = true
	case '-':
	default:
		return "", false, syscall.EINVAL
	}
	third, t, errno := parseChain(t[1:], false)
	if errno != 0 {
		return "", false, errno
	}
	if t != "" && t[0] != ' ' {
		return "", false, syscall.EINVAL
	}
	c.year, c.month, c.day = first, second, third
	return skipSpaces(t), false, 0
}

// parseEpoch reads the seconds of "@SECONDS" as strtoull would: leading
// white space and a plus sign allowed, nothing after the digits.
func parseEpoch(p string) (int64, bool) {
	p = strings.TrimLeft(p, " \t\n\r\v\f")
	p = strings.TrimPrefix(p, "+")
	if p == "" {
		return 0, false
	}
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return 0, false
		}
	}
	// Beyond year 2199 the spec is invalid anyway; cap to keep time.Unix sane.
	const limit = 1 << 40
	v := int64(0)
	for i := 0; i < len(p); i++ {
		v = v*10 + int64(p[i]-'0')
		if v > limit {
			v = limit
		}
	}
	return v, true
}

// fromEpoch makes c the single instant secs (UTC), as "@EPOCH" asks.
func fromEpoch(c *fields, secs int64) {
	t := time.Unix(secs, 0).UTC()
	one := func(v int) []component { return []component{{v, -1, 0}} }
	c.year, c.month, c.day = one(t.Year()), one(int(t.Month())), one(t.Day())
	c.hour, c.minute, c.usec = one(t.Hour()), one(t.Minute()), one(t.Second()*usecPerSec)
	c.utc = true
}

// parseTime reads "HOUR:MINUTE[:SECOND]"; an empty time is midnight.
func parseTime(p string, c *fields) (string, syscall.Errno) {
	zero := []component{{0, -1, 0}}
	if p == "" {
		c.hour, c.minute, c.usec = zero, zero, zero
		return p, 0
	}
	h, t, errno := parseChain(p, false)
	if errno != 0 {
		return "", errno
	}
	if t == "" || t[0] != ':' {
		return "", syscall.EINVAL
	}
	m, t, errno := parseChain(t[1:], false)
	if errno != 0 {
		return "", errno
	}
	s := zero
	if t != "" {
		if t[0] != ':' {
			return "", syscall.EINVAL
		}
		if s, t, errno = parseChain(t[1:], true); errno != 0 {
			return "", errno
		}
		if t != "" {
			return "", syscall.EINVAL
		}
	}
	c.hour, c.minute, c.usec = h, m, s
	return t, 0
}

// parseChain reads "*" or a comma list of "A[..B][/R]".
func parseChain(p string, usec bool) ([]component, string, syscall.Errno) {
	if p != "" && p[0] == '*' {
		if usec {
			return []component{{0, -1, usecPerSec}}, p[1:], 0
		}
		return nil, p[1:], 0
	}
	var out []component
	for n := 0; ; n++ {
		if n > maxComponents {
			return nil, "", syscall.ENOBUFS
		}
		x, rest, errno := parseComponent(p, usec)
		if errno != 0 {
			return nil, "", errno
		}
		out = append(out, x)
		p = rest
		if p == "" || p[0] != ',' {
			return out, p, 0
		}
		p = p[1:]
	}
}

func parseComponent(p string, usec bool) (component, string, syscall.Errno) {
	x := component{stop: -1}
	var errno syscall.Errno
	if x.start, p, errno = parseDecimal(p, usec); errno != 0 {
		return x, "", errno
	}
	if strings.HasPrefix(p, "..") {
		if x.stop, p, errno = parseDecimal(p[2:], usec); errno != 0 {
			return x, "", errno
		}
		x.repeat = 1
		if usec {
			x.repeat = usecPerSec
		}
	}
	if p != "" && p[0] == '/' {
		if x.repeat, p, errno = parseDecimal(p[1:], usec); errno != 0 {
			return x, "", errno
		}
		if x.repeat == 0 {
			return x, "", syscall.ERANGE
		}
	} else {
		if x.start > maxInt32-x.repeat {
			return x, "", syscall.ERANGE
		}
		if usec && x.stop >= 0 && x.start+x.repeat > x.stop {
			return x, "", syscall.EINVAL
		}
	}
	if p != "" && !strings.ContainsRune(" ,-~:", rune(p[0])) {
		return x, "", syscall.EINVAL
	}
	return x, p, 0
}

const maxInt32 = 1<<31 - 1

// parseDecimal reads an unsigned number; seconds may have a fraction,
// kept to microseconds and rounded on the seventh digit.
func parseDecimal(p string, usec bool) (int, string, syscall.Errno) {
	n := 0
	for n < len(p) && isDigit(p[n]) {
		n++
	}
	if n == 0 {
		return 0, "", syscall.EINVAL
	}
	var v uint64
	for _, ch := range []byte(p[:n]) {
		if v > (1<<64-1-9)/10 {
			return 0, "", syscall.ERANGE
		}
		v = v*10 + uint64(ch-'0')
	}
	p = p[n:]
	if usec {
		if v > (1<<64-1)/usecPerSec {
			return 0, "", syscall.ERANGE
		}
		v *= usecPerSec
		if len(p) > 0 && p[0] == '.' && (len(p) < 2 || p[1] != '.') {
			add, rest, ok := parseFraction(p[1:])
			if !ok {
				return 0, "", syscall.EINVAL
			}
			v += add
			p = rest
		}
	}
	if v > maxInt32 {
		return 0, "", syscall.ERANGE
	}
	return int(v), p, 0
}

// parseFraction reads up to six digits (more are rounded on the
// seventh and dropped); at least one digit is required.
func parseFraction(p string) (uint64, string, bool) {
	var v uint64
	i := 0
	for ; i < 6; i++ {
		if i >= len(p) || !isDigit(p[i]) {
			if i == 0 {
				return 0, "", false
			}
			for ; i < 6; i++ {
				v *= 10
			}
			return v, p[len(p)-len(strings.TrimLeft(p, "0123456789")):], true
		}
		v = v*10 + uint64(p[i]-'0')
	}
	if i < len(p) && p[i] >= '5' && p[i] <= '9' {
		v++
	}
	return v, strings.TrimLeft(p, "0123456789"), true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// normalize sorts and deduplicates every list, trims ranges to their
// last repetition and turns two-digit years into 19xx/20xx.
func (c *fields) normalize() {
	if c.weekdays <= 0 || c.weekdays >= allWeekdays {
		c.weekdays = -1
	}
	if c.endOfMonth && c.day == nil {
		c.endOfMonth = false
	}
	for i := range c.year {
		c.year[i].start = fixYear(c.year[i].start)
		c.year[i].stop = fixYear(c.year[i].stop)
	}
	for _, ch := range []*[]component{&c.year, &c.month, &c.day, &c.hour, &c.minute, &c.usec} {
		*ch = normalizeChain(*ch)
	}
}

func fixYear(y int) int {
	switch {
	case y >= 0 && y < 70:
		return y + 2000
	case y >= 70 && y < 100:
		return y + 1900
	}
	return y
}

func normalizeChain(ch []component) []component {
	for i := range ch {
		x := &ch[i]
		if x.stop > x.start && x.repeat > 0 {
			x.stop -= (x.stop - x.start) % x.repeat
		}
		if (x.stop > x.start && x.start+x.repeat > x.stop) || x.start == x.stop {
			x.repeat, x.stop = 0, -1
		}
	}
	sort.Slice(ch, func(i, j int) bool { return less(ch[i], ch[j]) })
	out := ch[:0]
	for i, x := range ch {
		if i > 0 && x == ch[i-1] {
			continue
		}
		out = append(out, x)
	}
	return out
}

func less(a, b component) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.stop != b.stop {
		return a.stop < b.stop
	}
	return a.repeat < b.repeat
}

func (c *fields) valid() bool {
	return chainValid(c.year, minYear, maxYear, false) &&
		chainValid(c.month, 1, 12, false) &&
		chainValid(c.day, 1, 31, c.endOfMonth) &&
		chainValid(c.hour, 0, 23, false) &&
		chainValid(c.minute, 0, 59, false) &&
		chainValid(c.usec, 0, 60*usecPerSec-1, false)
}

func chainValid(ch []component, from, to int, eom bool) bool {
	for _, x := range ch {
		if eom {
			// systemd lowers the bound by three days for each element of
			// a list counted from the month's end (28, 25, 22, ...).
			to -= 3
		}
		if x.start < from || x.start > to || x.repeat > to-from {
			return false
		}
		if x.stop >= 0 {
			if x.stop < from || x.stop > to || x.start+x.repeat > x.stop {
				return false
			}
		} else if eom && x.start-x.repeat < from {
			return false
		} else if !eom && x.start+x.repeat > to {
			return false
		}
	}
	return true
}
