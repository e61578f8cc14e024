package timer

import (
	"hash/maphash"
	"time"

	"github.com/tendproject/tend/internal/calendar"
)

// calendarSlots is how many parsed specs Calendars keeps. A machine's
// timers repeat a handful of specs ("daily", "weekly", "*-*-* 06:00"),
// which stay in their slots; a crontab's lines mostly differ, and a
// spec no other timer writes costs nothing beyond its own parse.
const calendarSlots = 32

// Calendars shares parsed OnCalendar= specs between timers. A parsed
// spec is immutable, so one copy serves every timer that wrote the same
// text in the same zone; a timer with one OnCalendar= line (the common
// case) shares the one-element list too.
//
// It is a small fixed table, two slots per hash (two common specs that
// hash alike both stay; a third spec replaces one), rather than a map of
// every spec seen: an entry per spec (its map slot and a weak pointer, ~80 B) cost
// more than the sharing saves when ten thousand timers each have their
// own time of day, while the common specs hit their slot every time.
// Its memory is bounded: at most calendarSlots lists outlive their
// timers. The zero value is ready to use; it is not safe for concurrent
// use (the manager's loop owns it).
type Calendars struct {
	seed  maphash.Seed
	slots []calendarSlot // nil until the first parse
}

type calendarSlot struct {
	one   *[1]Calendar
	local *time.Location // the zone the spec was parsed in
}

// parse is calendar.ParseIn as a one-element list, the one already made
// from the same text and zone when it is still in its slot. The list has
// no room to grow: appending to it copies.
func (c *Calendars) parse(text string, local *time.Location) (*[1]Calendar, error) {
	i := -1
	if c != nil {
		if c.slots == nil {
			c.seed = maphash.MakeSeed()
			c.slots = make([]calendarSlot, calendarSlots)
		}
		i = int(maphash.String(c.seed, text) % calendarSlots)
		for _, j := range [2]int{i, i ^ 1} {
			if s := c.slots[j]; s.one != nil && s.one[0].Text == text && s.local == local {
				return s.one, nil
			}
		}
		if c.slots[i].one != nil && c.slots[i^1].one == nil {
			i ^= 1
		}
	}
	sp, err := calendar.ParseIn(text, local)
	if err != nil {
		return nil, err
	}
	one := &[1]Calendar{{Text: text, Schedule: sp}}
	if i >= 0 {
		c.slots[i] = calendarSlot{one, local}
	}
	return one, nil
}
