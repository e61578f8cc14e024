package timer

import (
	"testing"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

// TestCalendarsShared: two timers with the same OnCalendar= share one
// parsed spec; a timer with a second line gets its own list, and the
// shared one is left as it was.
func TestCalendarsShared(t *testing.T) {
	mk := func(name string, lines ...string) *unit.Unit {
		u := &unit.Unit{Name: name, Kind: unit.KindTimer}
		for _, l := range lines {
			u.Entries = append(u.Entries, unit.Entry{Section: "Timer", Key: "OnCalendar", Value: l})
		}
		return u
	}
	var cals Calendars
	a, _, ok1 := ParseSpecShared(mk("a.timer", "daily"), nil, time.UTC, &cals)
	b, _, ok2 := ParseSpecShared(mk("b.timer", "daily"), nil, time.UTC, &cals)
	c, _, ok3 := ParseSpecShared(mk("c.timer", "daily", "weekly"), nil, time.UTC, &cals)
	d, _, ok4 := ParseSpecShared(mk("d.timer", "daily"), nil, time.FixedZone("X", 3600), &cals)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		t.Fatal("a spec did not parse")
	}
	// What a timer computes its elapse from, parsed again from its
	// unit's lines; d's in its own zone.
	ac, bc, cc := a.Calendars(nil, time.UTC, &cals), b.Calendars(nil, time.UTC, &cals), c.Calendars(nil, time.UTC, &cals)
	dc := d.Calendars(nil, time.FixedZone("X", 3600), &cals)
	if ac[0].Schedule != bc[0].Schedule || &ac[0] != &bc[0] {
		t.Error("a and b do not share their calendar")
	}
	if dc[0].Schedule == ac[0].Schedule {
		t.Error("a spec read in another zone is shared")
	}
	if len(cc) != 2 || cc[1].Text != "weekly" || cc[0].Schedule != ac[0].Schedule {
		t.Errorf("c = %+v", cc)
	}
	if len(ac) != 1 || ac[0].Text != "daily" {
		t.Errorf("a changed: %+v", ac)
	}
	var own Calendars
	e, _, _ := ParseSpecShared(mk("e.timer", "daily"), nil, time.UTC, &own)
	if e.Calendars(nil, time.UTC, &own)[0].Schedule == ac[0].Schedule {
		t.Error("two caches share")
	}
}

// TestCalendarsSlots: more distinct specs than the table holds all parse
// right, and a spec still in its slot is shared after them.
func TestCalendarsSlots(t *testing.T) {
	var cals Calendars
	first, err := cals.parse("daily", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 * calendarSlots {
		text := "*-*-* " + time.Unix(int64(i), 0).UTC().Format("15:04:05")
		one, err := cals.parse(text, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if got := one[0].Schedule.String(); got != "*-*-* "+text[6:] || one[0].Text != text {
			t.Fatalf("%q parsed as %q (text %q)", text, got, one[0].Text)
		}
		again, _ := cals.parse(text, time.UTC)
		if again != one {
			t.Fatalf("%q not shared right after its parse", text)
		}
	}
	// Whatever is in "daily"'s slots now, a parse gives the right spec.
	if d, _ := cals.parse("daily", time.UTC); d[0].Schedule.String() != first[0].Schedule.String() {
		t.Errorf("daily = %q", d[0].Schedule)
	}
}
