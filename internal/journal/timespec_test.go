package journal

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 11, 22, 15, 30, 45, 0, loc)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"today", time.Date(2026, 11, 22, 0, 0, 0, 0, loc)},
		{"yesterday", time.Date(2026, 11, 21, 0, 0, 0, 0, loc)},
		{"tomorrow", time.Date(2026, 11, 23, 0, 0, 0, 0, loc)},
		{"-1h", now.Add(-time.Hour)},
		{"+30min", now.Add(30 * time.Minute)},
		{"1 hour ago", now.Add(-time.Hour)},
		{"2h 30min ago", now.Add(-150 * time.Minute)},
		{"5min left", now.Add(5 * time.Minute)},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, loc)},
		{"2026-01-02 03:04", time.Date(2026, 1, 2, 3, 4, 0, 0, loc)},
		{"2026-01-02 03:04:05", time.Date(2026, 1, 2, 3, 4, 5, 0, loc)},
		{"2026-01-02T03:04:05", time.Date(2026, 1, 2, 3, 4, 5, 0, loc)},
		{"2026-01-02 03:04:05.25", time.Date(2026, 1, 2, 3, 4, 5, 250000000, loc)},
		{"Fri 2026-01-02 03:04:05", time.Date(2026, 1, 2, 3, 4, 5, 0, loc)},
		{"26-01-02 03:04", time.Date(2026, 1, 2, 3, 4, 0, 0, loc)},
		{"11:00", time.Date(2026, 11, 22, 11, 0, 0, 0, loc)},
		{"11:00:30", time.Date(2026, 11, 22, 11, 0, 30, 0, loc)},
		{"@1700000000", time.Unix(1700000000, 0)},
		{"@1700000000.5", time.Unix(1700000000, 500000000)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now, loc)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err == nil {
		got, err := ParseTime("2026-06-01 12:00 UTC", now, berlin)
		if err != nil || !got.Equal(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("UTC suffix: %v, %v", got, err)
		}
	}
	for _, bad := range []string{"", "garbage", "2026-13-01", "25:00", "12:61", "1 fortnight ago", "@x", "2026-01-02 03:04:05."} {
		if _, err := ParseTime(bad, now, loc); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

// TestParseTimeAgainstSystemd compares absolute timestamps with
// systemd-analyze's reading of them, when it is installed.
func TestParseTimeAgainstSystemd(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unixRe := regexp.MustCompile(`UNIX seconds: @(\d+)(?:\.(\d+))?`)
	for _, in := range []string{"2026-01-02 03:04:05", "2026-01-02", "2025-07-04 23:59", "Fri 2026-01-02 03:04:05",
		"26-01-02 03:04", "2024-02-29 12:00:00.5", "today", "yesterday", "@1700000000", "2026-01-02 03:04:05 UTC"} {
		cmd := exec.Command(bin, "timestamp", in)
		cmd.Env = []string{"TZ=UTC"}
		out, err := cmd.CombinedOutput()
		m := unixRe.FindSubmatch(out)
		if err != nil || m == nil {
			t.Errorf("systemd-analyze timestamp %q: %v: %s", in, err, out)
			continue
		}
		sec, _ := strconv.ParseInt(string(m[1]), 10, 64)
		want := time.Unix(sec, 0)
		if len(m[2]) > 0 {
			frac, _ := strconv.ParseFloat("0."+string(m[2]), 64)
			want = want.Add(time.Duration(frac * 1e9))
		}
		got, err := ParseTime(in, time.Now(), time.UTC)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; systemd says %v", in, got, err, want)
		}
	}
}

func TestParseSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"90", 90 * time.Second}, {"1h 30min", 90 * time.Minute}, {"1h30min", 90 * time.Minute},
		{"1.5h", 90 * time.Minute}, {"2 days", 48 * time.Hour}, {"3w", 21 * 24 * time.Hour},
		{"500ms", 500 * time.Millisecond}, {"10us", 10 * time.Microsecond}, {"1y", 31557600 * time.Second},
		{"1M", 2629800 * time.Second}, {"5 min 3 s", 5*time.Minute + 3*time.Second},
	}
	for _, tt := range tests {
		if got, err := ParseSpan(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "h", "1x", "1e999h", "1..2s", "-1h"} {
		if _, err := ParseSpan(bad); err == nil {
			t.Errorf("ParseSpan(%q) accepted", bad)
		}
	}
}
