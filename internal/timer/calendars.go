package timer

import (
	"time"
	"weak"

	"github.com/tendproject/tend/internal/calendar"
)

// Calendars shares parsed OnCalendar= specs between timers. A machine's
// timers mostly say "daily", "weekly" or "*-*-* 06:00", and a parsed
// spec is immutable, so one copy serves every timer that wrote the same
// text in the same zone; a timer with one OnCalendar= line (the common
// case) shares the one-element list too. The cache holds its values
// weakly: one no timer uses any more is collected, and its key is
// replaced when the text comes back. The zero value is ready to use; it
// is not safe for concurrent use (the manager's loop owns it).
type Calendars struct {
	m map[calendarKey]weak.Pointer[[1]Calendar]
}

type calendarKey struct {
	text string
	loc  *time.Location
}

// parse is calendar.ParseIn as a one-element list, the one already made
// from the same text and zone when some timer still holds it. The list
// has no room to grow: appending to it copies.
func (c *Calendars) parse(text string, local *time.Location) (*[1]Calendar, error) {
	k := calendarKey{text, local}
	if c != nil {
		if one := c.m[k].Value(); one != nil {
			return one, nil
		}
	}
	sp, err := calendar.ParseIn(text, local)
	if err != nil {
		return nil, err
	}
	one := &[1]Calendar{{Text: text, Schedule: sp}}
	if c != nil {
		if c.m == nil {
			c.m = map[calendarKey]weak.Pointer[[1]Calendar]{}
		}
		c.m[k] = weak.Make(one)
	}
	return one, nil
}
