// Package calendar implements systemd's time grammar (systemd.time(7)):
// calendar event specifications as OnCalendar= takes them, with the
// normalized form and next elapse that systemd computes, and time spans
// with systemd's parsing and formatting. It is pure: no clock, no timers;
// the timer runtime asks a Schedule for its next time and arms its own
// deadline.
package calendar

import "time"

// Schedule is a set of wall-clock instants: a calendar spec, several of
// them (Any), or a crontab entry.
type Schedule interface {
	// Next returns the first instant of the schedule strictly after
	// after (compared at microsecond precision, as systemd does), or the
	// zero Time when the schedule never elapses again.
	Next(after time.Time) time.Time
	// String is the schedule as a user wrote or normalized it.
	String() string
}

// Any is the union of schedules: a timer with several OnCalendar= lines,
// or a crontab entry whose day-of-month and day-of-week both restrict.
type Any []Schedule

// Next returns the earliest Next of the members, or the zero Time.
func (a Any) Next(after time.Time) time.Time {
	var best time.Time
	for _, s := range a {
		t := s.Next(after)
		if !t.IsZero() && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	return best
}

// String joins the members' strings with "; ".
func (a Any) String() string {
	s := ""
	for i, m := range a {
		if i > 0 {
			s += "; "
		}
		s += m.String()
	}
	return s
}
