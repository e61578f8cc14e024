package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTimerOnBootInPIDNamespace runs tend as PID 1 of a new PID
// namespace, as a container's init: OnBootSec= counts from tend's start
// there, as systemd maps it to OnStartupSec= in a container, not from
// the kernel's boot (minutes or days earlier). A probe unit reads the
// next elapse with list-timers; --exit-with ends tend with it.
func TestTimerOnBootInPIDNamespace(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("a new PID namespace needs root")
	}
	if up := uptime(t); up < 10*time.Minute {
		t.Skipf("the machine booted %v ago: too recently to tell its boot from tend's start", up)
	}
	dir, work := t.TempDir(), t.TempDir()
	out, sock := filepath.Join(work, "timers"), filepath.Join(work, "run", "tend.sock")
	units := map[string]string{
		"boot.timer":     "[Timer]\nOnBootSec=1h\nAccuracySec=1us\n",
		"boot.service":   "[Service]\nType=oneshot\nExecStart=/bin/true\n",
		"probe.service":  "[Unit]\nAfter=boot.timer\n[Service]\nType=oneshot\nExecStart=/bin/sh -c '" + tendBin + " list-timers --socket " + sock + " > " + out + "'\n",
		"default.target": "[Unit]\nWants=boot.timer probe.service\n",
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	cmd := exec.Command("unshare", "--pid", "--fork", tendBin, "run", "--units", dir,
		"--runtime-dir", filepath.Join(work, "run"), "--journal-dir", filepath.Join(work, "journal"),
		"--syslog-socket", "", "--crontab", "", "--exit-with", "probe")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tend as PID 1: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var next time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "boot.timer") {
			f := strings.Fields(line)
			next, err = time.Parse("Mon 2006-01-02 15:04:05 MST", strings.Join(f[:4], " "))
		}
	}
	if next.IsZero() || err != nil {
		t.Fatalf("no next elapse for boot.timer (%v):\n%s", err, b)
	}
	if left := next.Sub(start); left < time.Hour-time.Minute {
		t.Fatalf("OnBootSec=1h elapses %v after tend's start; want about an hour (counted from the container's start):\n%s", left.Round(time.Second), b)
	}
}

// uptime is how long ago the machine booted.
func uptime(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	s, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(s * float64(time.Second))
}
