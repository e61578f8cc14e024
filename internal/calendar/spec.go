package calendar

import (
	"strconv"
	"strings"
	"time"
)

// usecPerSec scales the seconds component, which is kept in microseconds.
const usecPerSec = 1000000

// Year bounds of a calendar spec, as systemd has them.
const (
	minYear = 1970
	maxYear = 2199
)

// allWeekdays is the weekday bit set with every day (bit 0 is Monday).
const allWeekdays = 1<<7 - 1

// component is one element of a field's list: start, or start..stop,
// each optionally repeated every repeat units. stop is -1 when absent,
// repeat 0 when absent.
type component struct {
	start, stop, repeat int
}

// Spec is a parsed calendar event specification. A nil field list means
// "*".
type Spec struct {
	weekdays   int // bit set, Monday is bit 0; -1 means any day
	year       []component
	month      []component
	day        []component
	hour       []component
	minute     []component
	usec       []component // seconds × 10⁶ + microseconds
	endOfMonth bool        // day counts back from the month's end ("~")

	utc  bool           // " UTC": computed with timegm
	tz   string         // a zone name given in the spec, "" when none
	loc  *time.Location // where wall times are computed (UTC, tz or local)
	dst  int            // -1, or 0/1 when the spec named the local standard/daylight zone
	dstN string         // that zone's abbreviation, printed back
}

// Location is the zone the spec's wall times are in.
func (s *Spec) Location() *time.Location { return s.loc }

// String is the normalized form, exactly as systemd prints it.
func (s *Spec) String() string {
	var b strings.Builder
	if s.weekdays > 0 && s.weekdays < allWeekdays {
		formatWeekdays(&b, s.weekdays)
		b.WriteByte(' ')
	}
	formatChain(&b, 4, s.year, false)
	b.WriteByte('-')
	formatChain(&b, 2, s.month, false)
	if s.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	formatChain(&b, 2, s.day, false)
	b.WriteByte(' ')
	formatChain(&b, 2, s.hour, false)
	b.WriteByte(':')
	formatChain(&b, 2, s.minute, false)
	b.WriteByte(':')
	formatChain(&b, 2, s.usec, true)
	switch {
	case s.utc:
		b.WriteString(" UTC")
	case s.tz != "":
		b.WriteString(" " + s.tz)
	case s.dst >= 0 && s.dstN != "":
		b.WriteString(" " + s.dstN)
	}
	return b.String()
}

var dayAbbrev = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// formatWeekdays writes runs of three or more days as "Mon..Wed" and
// shorter runs as lists.
func formatWeekdays(b *strings.Builder, bits int) {
	first := true
	for x := 0; x < 7; {
		if bits&(1<<x) == 0 {
			x++
			continue
		}
		end := x
		for end+1 < 7 && bits&(1<<(end+1)) != 0 {
			end++
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(dayAbbrev[x])
		switch {
		case end >= x+2:
			b.WriteString(".." + dayAbbrev[end])
		case end == x+1:
			b.WriteString("," + dayAbbrev[end])
		}
		x = end + 1
	}
}

func pad(b *strings.Builder, width, v int) {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

func frac(b *strings.Builder, v int) {
	b.WriteByte('.')
	pad(b, 6, v)
}

// formatChain writes a field list the way systemd does, including its
// quirks: a range's repeat of one unit is implied, fractions of seconds
// get six digits.
func formatChain(b *strings.Builder, width int, c []component, usec bool) {
	d := 1
	if usec {
		d = usecPerSec
	}
	if len(c) == 0 {
		b.WriteByte('*')
		return
	}
	if usec && len(c) == 1 && c[0].start == 0 && c[0].repeat == usecPerSec && c[0].stop < 0 {
		b.WriteByte('*')
		return
	}
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		pad(b, width, x.start/d)
		if x.start%d > 0 {
			frac(b, x.start%d)
		}
		if x.stop > 0 {
			b.WriteString("..")
			pad(b, width, x.stop/d)
		}
		if x.stop > 0 && x.stop%d > 0 {
			frac(b, x.stop%d)
		}
		if x.repeat > 0 && !(x.stop > 0 && x.repeat == d) {
			b.WriteString("/" + strconv.Itoa(x.repeat/d))
		}
		if x.repeat%d > 0 {
			frac(b, x.repeat%d)
		}
	}
}
