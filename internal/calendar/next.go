package calendar

import "time"

// tm is a broken-down wall time as C's struct tm holds it: fields may be
// out of range until mktime normalizes them; mon counts from 0.
type tm struct {
	year, mon, mday, hour, min, sec int
	isdst                           int // -1 unknown, 0 standard, 1 daylight
}

// clock converts wall times of one zone the way glibc's mktime does,
// including its memory of the last UTC offset, which decides how an
// ambiguous wall time (the repeated hour when DST ends) resolves.
type clock struct {
	loc   *time.Location
	utc   bool
	guess int64 // seconds east of UTC found by the last conversion
}

func (k *clock) lookup(t int64) (off int64, dst int) {
	u := time.Unix(t, 0).In(k.loc)
	_, o := u.Zone()
	if u.IsDST() {
		dst = 1
	}
	return int64(o), dst
}

// wall is the broken-down fields as seconds, as if they were UTC,
// normalizing out-of-range fields the way mktime does.
func (x *tm) wall() int64 {
	return time.Date(x.year, time.Month(x.mon+1), x.mday, x.hour, x.min, x.sec, 0, time.UTC).Unix()
}

func (k *clock) set(x *tm, t int64) {
	u := time.Unix(t, 0).In(k.loc)
	if k.utc {
		u = u.UTC()
	}
	x.year, x.mon, x.mday = u.Year(), int(u.Month())-1, u.Day()
	x.hour, x.min, x.sec = u.Hour(), u.Minute(), u.Second()
	x.isdst = 0
	if !k.utc && u.IsDST() {
		x.isdst = 1
	}
}

// mktime converts x to seconds since the epoch and normalizes x in
// place (timegm for UTC specs). In a gap (DST starts) the result lies
// past the gap; an ambiguous time takes the offset glibc would guess.
func (k *clock) mktime(x *tm) int64 {
	w := x.wall()
	if k.utc {
		k.set(x, w)
		return w
	}
	// glibc probes: start from the last offset, follow the offset found
	// at each probe, and when it oscillates (a gap) take the daylight side.
	t0 := w - k.guess
	t, t1, t2 := t0, t0, t0
	dst2 := 0
	for probes := 6; ; {
		off, dst := k.lookup(t)
		gt := w - off
		if gt == t {
			break
		}
		want := dst2
		if x.isdst >= 0 {
			want = b2i(x.isdst != 0)
		}
		if t == t1 && t != t2 && want <= dst {
			break
		}
		probes--
		if probes == 0 {
			break
		}
		t1, t2, t, dst2 = t2, t, gt, dst
	}
	if x.isdst >= 0 {
		if _, dst := k.lookup(t); dst != b2i(x.isdst != 0) {
			t = k.otherDST(t, w, b2i(x.isdst != 0))
		}
	}
	k.guess = w - t
	k.set(x, t)
	return t
}

// otherDST reinterprets wall time w with the offset of the nearest time
// whose DST flag is want (glibc: an explicit tm_isdst that does not hold
// at the requested time).
func (k *clock) otherDST(t, w int64, want int) int64 {
	const stride = 601200
	const bound = 457243200/2 + stride
	for delta := int64(stride); delta < bound; delta += stride {
		for _, dir := range []int64{-1, 1} {
			ot := t + delta*dir
			off, dst := k.lookup(ot)
			if dst == want {
				return w - off
			}
		}
	}
	return t
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Next returns the first elapse strictly after after (at microsecond
// precision), or the zero Time if there is none before the year 2200.
func (c *Spec) Next(after time.Time) time.Time {
	us := after.UnixMicro() + 1
	k := &clock{loc: c.loc, utc: c.utc}
	var x tm
	k.set(&x, floorDiv(us, usecPerSec))
	usec := int(us - floorDiv(us, usecPerSec)*usecPerSec)
	// A spec that pins the DST flag ("02:30 CEST") can map a wall time
	// to an instant before the start around a DST change; go on from
	// the next hour then, so Next always moves forward.
	for retry := 0; retry < 48; retry++ {
		if !c.findNext(k, &x, &usec) {
			return time.Time{}
		}
		x.isdst = int(c.dst)
		t := k.mktime(&x)
		if t*usecPerSec+int64(usec) >= us {
			return time.Unix(t, int64(usec)*1000).In(c.resultLoc())
		}
		x.hour++
		x.isdst = -1
	}
	return time.Time{}
}

func (c *Spec) resultLoc() *time.Location {
	if c.utc {
		return time.UTC
	}
	return c.loc
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// withinBounds reports whether x is a valid wall time (1), was
// normalized forward into x (0), or would go backward or past the
// years a spec covers (-1).
func (k *clock) withinBounds(x *tm) int {
	if x.year > maxYear {
		return -1
	}
	t := *x
	k.mktime(&t)
	var cmp int
	switch {
	case t.year != x.year:
		cmp = sign(t.year - x.year)
		t.mon = 0
	case t.mon != x.mon:
		cmp = sign(t.mon - x.mon)
		t.mday = 1
	case t.mday != x.mday:
		cmp = sign(t.mday - x.mday)
		t.hour = 0
	case t.hour != x.hour:
		cmp = sign(t.hour - x.hour)
		t.min = 0
	case t.min != x.min:
		cmp = sign(t.min - x.min)
		t.sec = 0
	default:
		cmp = sign(t.sec - x.sec)
	}
	switch {
	case cmp < 0:
		return -1
	case cmp > 0:
		*x = t
		return 0
	}
	return 1
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// findNext advances x (and usec) to the first matching wall time at or
// after it, field by field from the year down, restarting from the
// normalized time whenever a field overflows or a wall time does not
// exist (systemd's find_next).
func (c *Spec) findNext(k *clock, x *tm, usec *int) bool {
	// The walk ends at the year 2200 at the latest; the bound only guards
	// against a zone whose rules make mktime step backwards for ever.
	for iter := 0; iter < maxIterations; iter++ {
		k.mktime(x)
		x.isdst = int(c.dst)

		r := c.match(k, x, c.field(fYear), &x.year, false)
		if r > 0 {
			x.mon, x.mday, x.hour, x.min, x.sec, *usec = 0, 1, 0, 0, 0, 0
		}
		if r < 0 || k.withinBounds(x) <= 0 {
			return false
		}

		mon := x.mon + 1
		r = c.match(k, x, c.field(fMonth), &mon, false)
		x.mon = mon - 1
		if r > 0 {
			x.mday, x.hour, x.min, x.sec, *usec = 1, 0, 0, 0, 0
		}
		if r < 0 {
			x.year, x.mon, x.mday, x.hour, x.min, x.sec, *usec = x.year+1, 0, 1, 0, 0, 0, 0
			continue
		}
		if b := k.withinBounds(x); b < 0 {
			x.year, x.mon, x.mday, x.hour, x.min, x.sec, *usec = x.year+1, 0, 1, 0, 0, 0, 0
			continue
		} else if b == 0 {
			continue
		}

		r = c.match(k, x, c.field(fDay), &x.mday, c.endOfMonth)
		if r > 0 {
			x.hour, x.min, x.sec, *usec = 0, 0, 0, 0
		}
		if r < 0 {
			x.mon, x.mday, x.hour, x.min, x.sec, *usec = x.mon+1, 1, 0, 0, 0, 0
			continue
		}
		if b := k.withinBounds(x); b < 0 {
			x.mon, x.mday, x.hour, x.min, x.sec, *usec = x.mon+1, 1, 0, 0, 0, 0
			continue
		} else if b == 0 {
			continue
		}

		if !c.weekdayMatches(k, x) {
			x.mday, x.hour, x.min, x.sec, *usec = x.mday+1, 0, 0, 0, 0
			continue
		}

		r = c.match(k, x, c.field(fHour), &x.hour, false)
		if r > 0 {
			x.min, x.sec, *usec = 0, 0, 0
		}
		if r < 0 {
			x.mday, x.hour, x.min, x.sec, *usec = x.mday+1, 0, 0, 0, 0
			continue
		}
		if b := k.withinBounds(x); b < 0 {
			x.mday, x.hour, x.min, x.sec, *usec = x.mday+1, 0, 0, 0, 0
			continue
		} else if b == 0 {
			continue
		}

		r = c.match(k, x, c.field(fMinute), &x.min, false)
		if r > 0 {
			x.sec, *usec = 0, 0
		}
		if r < 0 {
			x.hour, x.min, x.sec, *usec = x.hour+1, 0, 0, 0
			continue
		}
		if b := k.withinBounds(x); b < 0 {
			x.hour, x.min, x.sec, *usec = x.hour+1, 0, 0, 0
			continue
		} else if b == 0 {
			continue
		}

		v := x.sec*usecPerSec + *usec
		r = c.match(k, x, c.field(fUsec), &v, false)
		x.sec, *usec = v/usecPerSec, v%usecPerSec
		if r < 0 {
			x.min, x.sec, *usec = x.min+1, 0, 0
			continue
		}
		if b := k.withinBounds(x); b < 0 {
			x.min, x.sec, *usec = x.min+1, 0, 0
			continue
		} else if b == 0 {
			continue
		}
		return true
	}
	return false
}

// maxIterations is far above the steps any spec needs to reach the year
// 2200 (a few per matching day, month or year).
const maxIterations = 1 << 18

// match moves *val to the smallest value of the field list at or above
// it: 0 if *val already matched, 1 if it moved, -1 if none is left.
func (c *Spec) match(k *clock, x *tm, ch []packed, val *int, eom bool) int {
	if ch == nil {
		return 0
	}
	d, found := 0, false
	for _, p := range ch {
		e := component{int(p.start), int(p.stop), int(p.repeat)}
		start, stop := e.start, e.stop
		if eom {
			start = k.endOfMonth(x, e.start)
			stop = k.endOfMonth(x, e.stop)
			if stop > 0 {
				start, stop = stop, start
			}
		}
		if start >= *val {
			if !found || start < d {
				d, found = start, true
			}
		} else if e.repeat > 0 {
			n := start + e.repeat*((*val-start+e.repeat-1)/e.repeat)
			if (!found || n < d) && (stop < 0 || n <= stop) {
				d, found = n, true
			}
		}
	}
	if !found {
		return -1
	}
	r := 0
	if *val != d {
		r = 1
	}
	*val = d
	return r
}

// endOfMonth is the day of x's month that is the day-th from its end
// (1 = last), or -1 when that falls outside the month.
func (k *clock) endOfMonth(x *tm, day int) int {
	t := *x
	t.mon++
	t.mday = 1 - day
	k.mktime(&t)
	if t.mon != x.mon {
		return -1
	}
	return t.mday
}

func (c *Spec) weekdayMatches(k *clock, x *tm) bool {
	if c.weekdays < 0 || c.weekdays >= allWeekdays {
		return true
	}
	t := *x
	k.mktime(&t)
	wd := (int(time.Date(t.year, time.Month(t.mon+1), t.mday, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
	return int(c.weekdays)&(1<<wd) != 0
}
