package calendar

import (
	"testing"
	"time"
)

// manSpecs are the examples of systemd.time(7) and the specs of timers
// Debian ships, with the normalized forms the man page gives.
var manSpecs = []struct{ in, norm string }{
	{"Sat,Thu,Mon..Wed,Sat..Sun", "Mon..Thu,Sat,Sun *-*-* 00:00:00"},
	{"Mon,Sun 12-*-* 2,1:23", "Mon,Sun 2012-*-* 01,02:23:00"},
	{"Wed *-1", "Wed *-*-01 00:00:00"},
	{"Wed..Wed,Wed *-1", "Wed *-*-01 00:00:00"},
	{"Wed, 17:48", "Wed *-*-* 17:48:00"},
	{"Wed..Sat,Tue 12-10-15 1:2:3", "Tue..Sat 2012-10-15 01:02:03"},
	{"*-*-7 0:0:0", "*-*-07 00:00:00"},
	{"10-15", "*-10-15 00:00:00"},
	{"monday *-12-* 17:00", "Mon *-12-* 17:00:00"},
	{"Mon,Fri *-*-3,1,2 *:30:45", "Mon,Fri *-*-01,02,03 *:30:45"},
	{"12,14,13,12:20,10,30", "*-*-* 12,13,14:10,20,30:00"},
	{"12..14:10,20,30", "*-*-* 12..14:10,20,30:00"},
	{"mon,fri *-1/2-1,3 *:30:45", "Mon,Fri *-01/2-01,03 *:30:45"},
	{"03-05 08:05:40", "*-03-05 08:05:40"},
	{"08:05:40", "*-*-* 08:05:40"},
	{"05:40", "*-*-* 05:40:00"},
	{"Sat,Sun 12-05 08:05:40", "Sat,Sun *-12-05 08:05:40"},
	{"Sat,Sun 08:05:40", "Sat,Sun *-*-* 08:05:40"},
	{"2003-03-05 05:40", "2003-03-05 05:40:00"},
	{"05:40:23.4200004/3.1700005", "*-*-* 05:40:23.420000/3.170001"},
	{"2003-02..04-05", "2003-02..04-05 00:00:00"},
	{"2003-03-05 05:40 UTC", "2003-03-05 05:40:00 UTC"},
	{"2003-03-05", "2003-03-05 00:00:00"},
	{"03-05", "*-03-05 00:00:00"},
	{"hourly", "*-*-* *:00:00"},
	{"daily", "*-*-* 00:00:00"},
	{"daily UTC", "*-*-* 00:00:00 UTC"},
	{"monthly", "*-*-01 00:00:00"},
	{"weekly", "Mon *-*-* 00:00:00"},
	{"weekly Pacific/Auckland", "Mon *-*-* 00:00:00 Pacific/Auckland"},
	{"yearly", "*-01-01 00:00:00"},
	{"annually", "*-01-01 00:00:00"},
	{"*:2/3", "*-*-* *:02/3:00"},
	{"minutely", "*-*-* *:*:00"},
	{"quarterly", "*-01,04,07,10-01 00:00:00"},
	{"semiannually", "*-01,07-01 00:00:00"},
	{"*-02~03", "*-02~03 00:00:00"},
	{"Mon *-05~07/1", "Mon *-05~07/1 00:00:00"},
	{"Sun *-*-* 03:10:00", "Sun *-*-* 03:10:00"}, // e2scrub_all.timer
	{"*-*-* 6,18:00", "*-*-* 06,18:00:00"},       // apt-daily.timer
	{"Mon *-*-* 00:00:00", "Mon *-*-* 00:00:00"}, // fstrim.timer
	{"@1234567890", "2009-02-13 23:31:30 UTC"},
	{"*:*:0/0.5", "*-*-* *:*:00/0.500000"},
	{"Fri..Mon", ""},
	{"*-*-* 24:00", ""},
	{"*:*:99999", ""},
	{"", ""},
}

func TestNormalizedForm(t *testing.T) {
	for _, tc := range manSpecs {
		sp, err := ParseIn(tc.in, time.UTC)
		if tc.norm == "" {
			if err == nil {
				t.Errorf("ParseIn(%q) = %q; want an error", tc.in, sp)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIn(%q): %v", tc.in, err)
			continue
		}
		if got := sp.String(); got != tc.norm {
			t.Errorf("ParseIn(%q) = %q; want %q", tc.in, got, tc.norm)
		}
	}
}

// dstBases are instants just before the DST changes of 2024 in the zones
// the oracle tests use, and a few ordinary ones.
var dstBases = []time.Time{
	time.Date(2024, 3, 30, 23, 30, 0, 0, time.UTC),  // Berlin: 31 Mar 02:00 → 03:00
	time.Date(2024, 10, 26, 23, 30, 0, 0, time.UTC), // Berlin: 27 Oct 03:00 → 02:00
	time.Date(2024, 3, 10, 5, 30, 0, 0, time.UTC),   // New York: 10 Mar 02:00 → 03:00
	time.Date(2024, 11, 3, 4, 30, 0, 0, time.UTC),   // New York: 3 Nov 02:00 → 01:00
	time.Date(2023, 12, 31, 23, 59, 59, 999999000, time.UTC),
	time.Date(2025, 6, 15, 12, 0, 0, 500000000, time.UTC),
}

func TestOracleManExamples(t *testing.T) {
	var specs []string
	for _, tc := range manSpecs {
		specs = append(specs, tc.in)
	}
	specs = append(specs, extraSpecs...)
	for _, tz := range []string{"UTC", "Europe/Berlin", "America/New_York"} {
		for _, base := range dstBases {
			compareWithOracle(t, tz, base, 6, specs)
		}
	}
}

// extraSpecs aim at DST changes, month ends and odd syntax.
var extraSpecs = []string{
	"*-*-* 02:30", "*-*-* 02:00..03:00/30", "*-*-* 01..03:*:00", "*:0/15", "*:*:0/20",
	"*-*-* 01:30 America/New_York", "*-*-* 02:30 Europe/Berlin", "*-*-* 02:30 UTC",
	"daily CET", "daily CEST", "daily EST", "daily EDT", "02:30 CET", "02:30 CEST",
	"*-*-31", "*-02-29", "*-02-30", "*-*~1", "*-*~01..03", "*-*~3..1", "*-02~1/2", "*-*~7/2",
	"2199-12-31 23:59:59", "2200-01-01", "1970-01-01", "69-1-1", "70-1-1",
	"Mon-Fri 9-17:0", "mon..fri 9..17:00/30", "Sunday 12:00", "MONDAY", "Mond", "Mon..", "Mon,",
	"*:*:59.999999", "*:*:1.5..3", "*:*:1..3", "*:*:0.5/0.25", "0/1:0/1:0/1", "*-*-* *:*:*",
	"@0", "@1h", "@infinity", "1:2:3:4", "*/2", "*:*/5", "1..5/0", "5..3:00",
	"12:00 Europe/Nowhere", "12:00 Asia/Kolkata", "12:00 Australia/Lord_Howe", "12:00 Etc/GMT+5",
	"daily utc", "Mon  12:00", "2024-01-01  12:00", "  daily", "daily ",
}
