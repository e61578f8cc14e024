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

// packed is a component as a Spec keeps it: every valid value (up to
// 60×10⁶ µs, year 2199) fits in 32 bits.
type packed struct {
	start, stop, repeat int32
}

// fields is a calendar spec while it is parsed and normalized. A nil
// field list means "*".
type fields struct {
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

// The fields of a Spec, in order.
const (
	fYear = iota
	fMonth
	fDay
	fHour
	fMinute
	fUsec
	nFields
)

// Spec is a parsed calendar event specification, immutable. It is kept
// compact (small integers, and the list elements of the usual spec in
// the Spec itself: one 80 B allocation), since a timer holds one per
// OnCalendar= line for as long as it is loaded and a machine may have ten
// thousand of them, each with its own time of day.
type Spec struct {
	ends       [nFields]uint16 // field i is comps[ends[i-1]:ends[i]]; empty is "*"
	weekdays   int8            // bit set, Monday is bit 0; -1 means any day
	endOfMonth bool            // day counts back from the month's end ("~")
	utc        bool            // " UTC": computed with timegm
	dst        int8            // -1, or 0/1 when the spec named the local standard/daylight zone
	loc        *time.Location  // where wall times are computed (UTC, tz or local)
	// zone is the zone name the spec gave (a tz, or the local zone's
	// abbreviation), nil when none: most specs give none, and a pointer
	// is half a string's header.
	zone *string
	// small holds the lists of year, month, day, hour, minute, usec, in
	// turn, when they have at most three elements in all, as
	// "*-*-* 06:30:00" and cron's "30 6 * * *" have (hour, minute,
	// second); big holds them otherwise (a pointer, not a slice, to keep
	// its header out of every Spec).
	small [3]packed
	big   *[]packed
}

// comps is every field's list, in turn.
func (s *Spec) comps() []packed {
	if s.big != nil {
		return *s.big
	}
	return s.small[:s.ends[nFields-1]]
}

// field returns field i's list (nil for "*").
func (s *Spec) field(i int) []packed {
	lo := 0
	if i > 0 {
		lo = int(s.ends[i-1])
	}
	if hi := int(s.ends[i]); hi > lo {
		return s.comps()[lo:hi:hi]
	}
	return nil
}

// compact turns parsed fields into a Spec; ok is false for a spec with
// more list elements than a Spec indexes.
func (f *fields) compact() (*Spec, bool) {
	chains := [nFields][]component{f.year, f.month, f.day, f.hour, f.minute, f.usec}
	n := 0
	for _, ch := range chains {
		n += len(ch)
	}
	if n > 1<<16-1 {
		return nil, false
	}
	s := &Spec{weekdays: int8(f.weekdays), endOfMonth: f.endOfMonth, utc: f.utc, dst: int8(f.dst), loc: f.loc}
	zone := f.tz
	if zone == "" && f.dst >= 0 {
		zone = f.dstN
	}
	if zone != "" {
		s.zone = &zone // a copy: a pointer into f would keep all of f
	}
	comps := s.small[:0]
	if n > len(s.small) {
		comps = make([]packed, 0, n)
		s.big = &comps
	}
	for i, ch := range chains {
		for _, x := range ch {
			comps = append(comps, packed{int32(x.start), int32(x.stop), int32(x.repeat)})
		}
		s.ends[i] = uint16(len(comps))
	}
	return s, true
}

// Location is the zone the spec's wall times are in.
func (s *Spec) Location() *time.Location { return s.loc }

// String is the normalized form, exactly as systemd prints it.
func (s *Spec) String() string {
	var b strings.Builder
	if s.weekdays > 0 && s.weekdays < allWeekdays {
		formatWeekdays(&b, int(s.weekdays))
		b.WriteByte(' ')
	}
	formatChain(&b, 4, s.field(fYear), false)
	b.WriteByte('-')
	formatChain(&b, 2, s.field(fMonth), false)
	if s.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	formatChain(&b, 2, s.field(fDay), false)
	b.WriteByte(' ')
	formatChain(&b, 2, s.field(fHour), false)
	b.WriteByte(':')
	formatChain(&b, 2, s.field(fMinute), false)
	b.WriteByte(':')
	formatChain(&b, 2, s.field(fUsec), true)
	switch {
	case s.utc:
		b.WriteString(" UTC")
	case s.zone != nil:
		b.WriteString(" " + *s.zone)
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
func formatChain(b *strings.Builder, width int, c []packed, usec bool) {
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
	for i, p := range c {
		x := component{int(p.start), int(p.stop), int(p.repeat)}
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
