package cron

import (
	"strings"
	"time"

	"github.com/tendproject/tend/internal/calendar"
)

// Schedule is when a crontab entry runs, as one or two systemd calendar
// specs: cron runs a job whose day-of-month and day-of-week are both
// restricted when either matches, which one spec cannot say, so that
// case is the union of a day-of-month spec and a day-of-week spec.
type Schedule struct {
	fields string // the five fields as written
	// Specs are the OnCalendar= values, already normalized.
	Specs []string
	any   calendar.Any
}

// Next is the first run time strictly after after, or the zero Time.
func (s *Schedule) Next(after time.Time) time.Time { return s.any.Next(after) }

// String is the five time fields as the crontab wrote them.
func (s *Schedule) String() string { return s.fields }

var _ calendar.Schedule = (*Schedule)(nil)

// newSchedule turns the five fields into calendar specs. Cron's rule:
// when either day field starts with "*", a day must match both; else
// either.
func newSchedule(f []string, tz string, loc *time.Location) (*Schedule, error) {
	min, _, err := parseField(minuteField, f[0])
	if err != nil {
		return nil, err
	}
	hour, _, err := parseField(hourField, f[1])
	if err != nil {
		return nil, err
	}
	dom, domStar, err := parseField(domField, f[2])
	if err != nil {
		return nil, err
	}
	mon, _, err := parseField(monthField, f[3])
	if err != nil {
		return nil, err
	}
	dow, dowStar, err := parseField(dowField, f[4])
	if err != nil {
		return nil, err
	}
	month := "*"
	if !mon.full(1, 12) {
		month = mon.list(1, 12)
	}
	days := "*"
	if !dom.full(1, 31) {
		days = dom.list(1, 31)
	}
	clock := hourMinute(hour, min)
	var specs []string
	if domStar || dowStar {
		specs = append(specs, join(dow.weekdays(), "*-"+month+"-"+days, clock, tz))
	} else {
		specs = append(specs,
			join("", "*-"+month+"-"+days, clock, tz),
			join(dow.weekdays(), "*-"+month+"-*", clock, tz))
	}
	s := &Schedule{fields: strings.Join(f, " ")}
	for _, text := range specs {
		sp, err := calendar.ParseIn(text, loc)
		if err != nil {
			return nil, err
		}
		s.Specs = append(s.Specs, sp.String())
		s.any = append(s.any, sp)
	}
	return s, nil
}

func hourMinute(hour, min bits) string {
	h, m := "*", "*"
	if !hour.full(0, 23) {
		h = hour.list(0, 23)
	}
	if !min.full(0, 59) {
		m = min.list(0, 59)
	}
	return h + ":" + m + ":00"
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
