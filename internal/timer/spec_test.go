package timer

import (
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

// timerUnit builds a timer unit from [Timer] lines, as the loader keeps
// them (raw entries, line numbers from 2).
func timerUnit(name string, lines ...string) *unit.Unit {
	u := &unit.Unit{Name: name, Kind: unit.KindTimer, Load: unit.Loaded, Path: "/u/" + name}
	for i, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		u.Entries = append(u.Entries, unit.Entry{Section: "Timer", Key: k, Value: v, File: u.Path, Line: i + 2})
	}
	return u
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		lines []string
		ok    bool
		check func(s *Spec) bool
		diag  string // a diag that must appear
	}{
		{[]string{"OnCalendar=daily"}, true, func(s *Spec) bool {
			c := s.Calendars(nil, time.UTC, nil)
			return len(c) == 1 && c[0].Schedule.String() == "*-*-* 00:00:00" &&
				s.Unit == "x.service" && s.Accuracy == time.Minute && s.RemainAfterElapse && !s.Persistent
		}, ""},
		{[]string{"OnCalendar=Mon *-*-* 08:00", "OnCalendar=Fri 17:00 Europe/Berlin"}, true, func(s *Spec) bool {
			return len(s.Calendars(nil, time.UTC, nil)) == 2 && s.Schedules(nil, time.UTC, nil).String() == "Mon *-*-* 08:00:00; Fri *-*-* 17:00:00 Europe/Berlin"
		}, ""},
		{[]string{"OnCalendar=foo"}, false, nil, "/u/x.timer:2: OnCalendar=foo: Failed to parse calendar specification: Invalid argument, ignoring"},
		{[]string{"OnCalendar=foo", "OnBootSec=5min"}, true, func(s *Spec) bool {
			return !s.HasCalendar() && s.Monotonic[0] == Monotonic{Boot, 5 * time.Minute}
		}, "OnCalendar=foo"},
		{[]string{"OnActiveSec=1", "OnUnitActiveSec=1h 30min", "OnUnitInactiveSec=2s", "OnStartupSec=10"}, true, func(s *Spec) bool {
			return len(s.Monotonic) == 4 && s.Monotonic[0] == Monotonic{Active, time.Second} &&
				s.Monotonic[1] == Monotonic{UnitActive, 90 * time.Minute} && s.Monotonic[3].Base == Startup
		}, ""},
		{[]string{"OnActiveSec=5x"}, false, nil, "OnActiveSec=5x: Failed to parse timer value: Invalid argument, ignoring"},
		{[]string{"OnCalendar=daily", "OnCalendar="}, false, nil, "Timer unit lacks value setting. Refusing."},
		{[]string{"OnCalendar=daily", "OnBootSec=", "OnCalendar=weekly", "OnCalendar=bad"}, true, func(s *Spec) bool {
			return s.Schedules(nil, time.UTC, nil).String() == "Mon *-*-* 00:00:00" && len(s.Monotonic) == 0
		}, "OnCalendar=bad"},
		{[]string{"OnClockChange=yes"}, true, func(s *Spec) bool { return s.OnClockChange }, ""},
		{[]string{}, false, nil, "lacks value setting"},
		{[]string{"OnCalendar=hourly", "Persistent=true", "RandomizedDelaySec=12h", "FixedRandomDelay=yes", "AccuracySec=0", "RemainAfterElapse=no", "OnTimezoneChange=1"}, true, func(s *Spec) bool {
			return s.Persistent && s.RandomizedDelay == 12*time.Hour && s.FixedRandomDelay && s.Accuracy == time.Microsecond &&
				!s.RemainAfterElapse && s.OnTimezoneChange
		}, ""},
		{[]string{"OnCalendar=hourly", "Unit=other.service"}, true, func(s *Spec) bool { return s.Unit == "other.service" }, ""},
		{[]string{"OnCalendar=hourly", "Unit=other.timer"}, true, func(s *Spec) bool { return s.Unit == "x.service" }, "Unit cannot be of same type"},
		{[]string{"OnCalendar=hourly", "WakeSystem=yes"}, true, nil, "directives not supported by tend, ignored: WakeSystem"},
		{[]string{"OnCalendar=hourly", "WakeSystem=no", "Persistent=maybe"}, true, func(s *Spec) bool { return !s.Persistent }, "Persistent=maybe: Failed to parse boolean value, ignoring"},
		{[]string{"OnCalendar=*-*-* 25:00"}, false, nil, "Invalid argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.lines, ";"), func(t *testing.T) {
			s, diags, ok := ParseSpec(timerUnit("x.timer", tt.lines...), nil, time.UTC)
			if ok != tt.ok {
				t.Errorf("ok = %v; want %v (diags %v)", ok, tt.ok, diags)
			}
			if tt.check != nil && !tt.check(s) {
				t.Errorf("spec %+v does not hold", s)
			}
			if tt.diag != "" {
				found := false
				for _, d := range diags {
					found = found || strings.Contains(d.Error(), tt.diag)
				}
				if !found {
					t.Errorf("diags %v; want one containing %q", diags, tt.diag)
				}
			}
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"OnCalendar=daily", "OnBootSec=5min", "AccuracySec=1us", "Unit=a.service", "OnCalendar=Mon..Fri *-*-1..5 8:0/15"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, _, ok := ParseSpec(timerUnit("f.timer", strings.Split(line, "\n")...), nil, time.UTC)
		if ok && !s.HasCalendar() && len(s.Monotonic) == 0 && !s.OnClockChange && !s.OnTimezoneChange {
			t.Fatalf("accepted a timer with nothing to wait for: %+v", s)
		}
		if s.Accuracy <= 0 || s.RandomizedDelay < 0 || s.Unit == "" {
			t.Fatalf("bad values: %+v", s)
		}
	})
}

// TestWakeSystemNoIsNotWarned: WakeSystem=no asks for nothing tend lacks.
func TestWakeSystemNoIsNotWarned(t *testing.T) {
	_, diags, _ := ParseSpec(timerUnit("x.timer", "OnCalendar=hourly", "WakeSystem=no"), nil, time.UTC)
	for _, d := range diags {
		if strings.Contains(d.Error(), "not supported") {
			t.Errorf("warned: %v", d)
		}
	}
}
