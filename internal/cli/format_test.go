package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
)

func TestRelativeTime(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{500 * time.Microsecond, "500us ago"},
		{12 * time.Millisecond, "12ms ago"},
		{59 * time.Second, "59s ago"},
		{3*time.Minute + 2*time.Second, "3min 2s ago"},
		{5 * time.Minute, "5min ago"},
		{time.Hour + 5*time.Minute, "1h 5min ago"},
		{7 * time.Hour, "7h ago"},
		{26 * time.Hour, "1 day 2h ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{9 * 24 * time.Hour, "1 weeks 2 days ago"},
		{400 * 24 * time.Hour, "1 years 1 months ago"},
	}
	for _, tt := range tests {
		if got := relativeTime(tt.d); got != tt.want {
			t.Errorf("relativeTime(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		b    uint64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0K"}, {1536, "1.5K"}, {11010048, "10.5M"},
		{1<<30 - 1, "1023.9M"}, {5 << 30, "5.0G"}, {1 << 62, "4.0E"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.b); got != tt.want {
			t.Errorf("formatBytes(%d) = %q; want %q", tt.b, got, tt.want)
		}
	}
}

func TestFormatCPU(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{120 * time.Millisecond, "120ms"}, {1234567 * time.Microsecond, "1.234s"},
		{2*time.Minute + 3456*time.Millisecond, "2min 3.456s"},
	}
	for _, tt := range tests {
		if got := formatCPU(tt.d); got != tt.want {
			t.Errorf("formatCPU(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestMangle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "web.service"}, {"web.service", "web.service"}, {"app.socket", "app.socket"},
		{"getty@tty1", "getty@tty1.service"}, {"web*", "web*"}, {"a.b", "a.b.service"},
		{".service", ".service.service"}, {"multi-user.target", "multi-user.target"},
	}
	for _, tt := range tests {
		if got := mangle(tt.in); got != tt.want {
			t.Errorf("mangle(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"9", 9, true}, {"KILL", 9, true}, {"SIGHUP", 1, true}, {"term", 15, true},
		{"0", 0, false}, {"65", 0, false}, {"SIGNOPE", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSignal(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseSignal(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"9", "HUP", "SIGTERM", "-1", "SIGRTMIN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSignal(s)
		if err == nil && (n < 1 || n > 64) {
			t.Errorf("parseSignal(%q) = %d without error", s, n)
		}
	})
}

func TestBulletColor(t *testing.T) {
	if got := bullet("active", true); got != ansiGreen+"●"+ansiReset {
		t.Errorf("active bullet on a terminal = %q", got)
	}
	if got := bullet("failed", true); got != ansiRed+"×"+ansiReset {
		t.Errorf("failed bullet on a terminal = %q", got)
	}
	if got := bullet("active", false); got != "●" {
		t.Errorf("active bullet plain = %q", got)
	}
	if got := bullet("inactive", true); got != "○" {
		t.Errorf("inactive bullet = %q; want plain ring", got)
	}
}

func TestStatusRendering(t *testing.T) {
	now := time.Date(2026, 11, 22, 4, 4, 4, 0, time.Local)
	st := api.UnitStatus{Name: "x.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed",
		Result: "signal", Since: now.Add(-90 * time.Second), MainPID: 7, ExecMainCode: "killed", ExecMainStatus: 9,
		CPUNanos: 1500 * uint64(time.Millisecond), MemoryBytes: 4096, Tasks: 3, Cgroup: "/tend/x.service",
		DropIns: []string{"/etc/tend/units/x.service.d/a.conf", "/etc/tend/units/x.service.d/b.conf", "/run/tend/units/x.service.d/c.conf"}}
	var b strings.Builder
	statusView{now: now, host: "h"}.writeStatus(&b, st)
	want := "× x.service\n" +
		"     Loaded: loaded\n" +
		"    Drop-In: /etc/tend/units/x.service.d\n" +
		"             └─a.conf, b.conf\n" +
		"             /run/tend/units/x.service.d\n" +
		"             └─c.conf\n" +
		"     Active: failed (Result: signal) since " + now.Add(-90*time.Second).Format("Mon 2006-01-02 15:04:05 MST") + "; 1min 30s ago\n" +
		"   Main PID: 7 (code=killed, status=9/KILL)\n" +
		"        CPU: 1.500s\n"
	if b.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}
}
