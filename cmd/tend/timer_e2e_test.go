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

// TestTimerUnits runs timers on the real clock: a calendar timer due
// every even second (enabled into timers.target) and a one-shot
// OnActiveSec=1 whose services write files; list-timers, status and
// show describe them; a timer for a unit that does not exist and one
// with a calendar spec systemd rejects get systemd's reasons.
func TestTimerUnits(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/tend/units")
	os.MkdirAll(dir, 0o755)
	work := t.TempDir()
	tick, once := filepath.Join(work, "tick"), filepath.Join(work, "once")
	units := map[string]string{
		"tick.timer":     "[Unit]\nDescription=Every two seconds\n[Timer]\nOnCalendar=*:*:0/2\nAccuracySec=1us\n[Install]\nWantedBy=timers.target\n",
		"tick.service":   "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date +%%s.%%N >> " + tick + "'\n",
		"once.timer":     "[Timer]\nOnActiveSec=1\nAccuracySec=1us\n",
		"once.service":   "[Service]\nType=oneshot\nExecStart=/bin/touch " + once + "\n",
		"orphan.timer":   "[Timer]\nOnCalendar=daily\nUnit=nothere.service\n",
		"bad.timer":      "[Timer]\nOnCalendar=foo\n",
		"badish.timer":   "[Timer]\nOnCalendar=Mon *-*-* 25:00\nOnCalendar=hourly\nWakeSystem=yes\n",
		"badish.service": "[Service]\nExecStart=/bin/true\n",
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(tendBin, "enable", "--root", root, "tick.timer").CombinedOutput(); err != nil {
		t.Fatalf("tend enable --root: %v\n%s", err, out)
	}
	if _, err := os.Lstat(filepath.Join(dir, "timers.target.wants", "tick.timer")); err != nil {
		t.Fatalf("enable made no link in timers.target.wants: %v", err)
	}
	in := startTend(t, dir)

	// The enabled timer runs at even seconds.
	b := awaitFile(t, tick, "written by two runs", func(s string) bool { return len(strings.Fields(s)) >= 2 })
	for _, l := range strings.Fields(b) {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil || int64(f)%2 != 0 {
			t.Errorf("tick.service ran at %s, not in an even second", l)
		}
	}
	// Between two runs: right after one ended the next is two seconds
	// away, and the timer waits.
	in.follow("tick.service")("Deactivated successfully")
	st := in.mustCtl("status", "tick.timer")
	for _, want := range []string{"Active: active (waiting)", "Trigger: ", "left", "Triggers: ", "tick.service"} {
		if !strings.Contains(st, want) {
			t.Errorf("status tick.timer lacks %q:\n%s", want, st)
		}
	}
	if next := strings.TrimSpace(in.mustCtl("show", "-P", "NextElapseUSecRealtime", "tick.timer")); next == "" {
		t.Error("show -P NextElapseUSecRealtime is empty for a waiting timer")
	}
	if cal := in.mustCtl("show", "-P", "TimersCalendar", "tick.timer"); !strings.Contains(cal, "{ OnCalendar=*-*-* *:*:00/2 ; next_elapse=") {
		t.Errorf("TimersCalendar = %q", cal)
	}

	// OnActiveSec=1: once, a second after the start; then elapsed.
	started := time.Now()
	in.mustCtl("start", "once.timer")
	waitFile(t, once)
	if d := time.Since(started); d < 900*time.Millisecond {
		t.Errorf("OnActiveSec=1 ran after %v", d)
	}
	in.waitState("once.timer", "active (elapsed)")

	lt := in.mustCtl("list-timers")
	for _, want := range []string{"NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES", "tick.timer", "tick.service", "2 timers listed.", "Pass --all"} {
		if !strings.Contains(lt, want) {
			t.Errorf("list-timers lacks %q:\n%s", want, lt)
		}
	}
	if all := in.mustCtl("list-timers", "--all"); !strings.Contains(all, "orphan.timer") || strings.Contains(all, "Pass --all") {
		t.Errorf("list-timers --all:\n%s", all)
	}

	// A timer for a unit that does not exist is refused, with the reason.
	out, code := in.ctl("start", "orphan.timer")
	if code == 0 || !strings.Contains(out, "Refusing to start, unit nothere.service to trigger not loaded.") {
		t.Errorf("start orphan.timer: exit %d\n%s", code, out)
	}
	if st, _ := in.ctl("status", "orphan.timer"); !strings.Contains(st, "inactive (dead)") || !strings.Contains(st, "nothere.service to trigger not loaded") {
		t.Errorf("status orphan.timer:\n%s", st)
	}
	// A calendar spec systemd rejects: file:line with systemd-analyze's reason.
	for _, want := range []string{
		filepath.Join(dir, "bad.timer") + ":2: OnCalendar=foo: Failed to parse calendar specification: Invalid argument, ignoring",
		filepath.Join(dir, "bad.timer") + ": Timer unit lacks value setting. Refusing.",
		filepath.Join(dir, "badish.timer") + ":2: OnCalendar=Mon *-*-* 25:00: Failed to parse calendar specification: Invalid argument",
		"directives not supported by tend, ignored: WakeSystem",
	} {
		if !strings.Contains(in.stderr.String(), want) {
			t.Errorf("tend's log lacks %q:\n%s", want, in.stderr)
		}
	}
	if st, _ := in.ctl("status", "bad.timer"); !strings.Contains(st, "bad-setting") {
		t.Errorf("status bad.timer:\n%s", st)
	}
	in.mustCtl("start", "badish.timer")
	if cal := in.mustCtl("show", "-P", "TimersCalendar", "badish.timer"); strings.Count(cal, "OnCalendar=") != 1 {
		t.Errorf("the bad OnCalendar= line was not dropped: %q", cal)
	}
	analyze := exec.Command("systemd-analyze", "calendar", "Mon *-*-* 25:00")
	if out, err := analyze.CombinedOutput(); err == nil || !strings.Contains(string(out), "Invalid argument") {
		t.Logf("systemd-analyze says: %s", out)
	}
}

// TestTimerPersistentAcrossRestart: a Persistent= timer that never ran
// gets a stamp and does not run at start; with tend stopped and the
// stamp made two days old, the next start of tend makes the missed run.
func TestTimerPersistentAcrossRestart(t *testing.T) {
	state, work := t.TempDir(), t.TempDir()
	ran := filepath.Join(work, "ran")
	dir := writeUnits(t, map[string]string{
		"p.timer":   "[Timer]\nOnCalendar=*-*-* 00:00:00\nPersistent=true\nAccuracySec=1us\n[Install]\nWantedBy=timers.target\n",
		"p.service": "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date +%%s >> " + ran + "'\n",
	})
	os.MkdirAll(filepath.Join(dir, "timers.target.wants"), 0o755)
	os.Symlink("../p.timer", filepath.Join(dir, "timers.target.wants", "p.timer"))
	stamp := filepath.Join(state, "timers", "stamp-p.timer")

	in := startTend(t, dir, "--state-dir", state)
	in.waitState("p.timer", "active (waiting)")
	fi, err := os.Stat(stamp)
	if err != nil {
		t.Fatalf("no stamp for a timer that never ran: %v", err)
	}
	if time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("new stamp dated %v", fi.ModTime())
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a timer that never ran ran at start-up")
	}
	in.stop()

	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(stamp, old, old)
	in = startTend(t, dir, "--state-dir", state)
	waitFile(t, ran)
	in.waitState("p.timer", "active (waiting)")
	fi, _ = os.Stat(stamp)
	if time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("stamp after the catch-up run dated %v", fi.ModTime())
	}
	if last := in.mustCtl("show", "-P", "LastTriggerUSec", "p.timer"); strings.TrimSpace(last) == "" {
		t.Error("LastTriggerUSec empty after the run")
	}
}

// debianTimers are Debian's own timer units, as their packages ship them
// (used when /lib/systemd/system does not have them).
var debianTimers = map[string]string{
	"apt-daily.timer":   "[Unit]\nDescription=Daily apt download activities\n\n[Timer]\nOnCalendar=*-*-* 6,18:00\nRandomizedDelaySec=12h\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
	"logrotate.timer":   "[Unit]\nDescription=Daily rotation of log files\nDocumentation=man:logrotate(8) man:logrotate.conf(5)\n\n[Timer]\nOnCalendar=daily\nAccuracySec=1h\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
	"man-db.timer":      "[Unit]\nDescription=Daily man-db regeneration\nDocumentation=man:mandb(8)\n\n[Timer]\nOnCalendar=daily\nRandomizedDelaySec=12h\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
	"e2scrub_all.timer": "[Unit]\nDescription=Periodic ext4 Online Metadata Check for All Filesystems\n\n[Timer]\nOnCalendar=Sun *-*-* 03:10:00\nRandomizedDelaySec=60\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
	"fstrim.timer":      "[Unit]\nDescription=Discard unused blocks once a week\nDocumentation=man:fstrim\nConditionPathExists=!/etc/initrd-release\n\n[Timer]\nOnCalendar=weekly\nAccuracySec=1h\nPersistent=true\nRandomizedDelaySec=6000\n\n[Install]\nWantedBy=timers.target\n",
}

// TestDebianTimers loads Debian's timer units (the installed files when
// present) with stand-in services, and checks that each one's next
// elapse is what systemd-analyze computes for its OnCalendar=, plus at
// most its RandomizedDelaySec=.
func TestDebianTimers(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	var names []string
	for name, text := range debianTimers {
		if b, err := os.ReadFile(filepath.Join("/lib/systemd/system", name)); err == nil {
			text = string(b)
		}
		// A container skips fstrim (ConditionVirtualization=!container);
		// the schedule is what is under test here.
		text = strings.ReplaceAll(text, "ConditionVirtualization=!container\n", "")
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
		svc := strings.TrimSuffix(name, ".timer") + ".service"
		os.WriteFile(filepath.Join(dir, svc), []byte("[Service]\nType=oneshot\nExecStart=/bin/true\n"), 0o644)
		names = append(names, name)
	}
	in := startTend(t, dir)
	in.mustCtl(append([]string{"start"}, names...)...)
	lt := in.mustCtl("list-timers")
	for _, name := range names {
		if !strings.Contains(lt, name) {
			t.Errorf("list-timers lacks %s:\n%s", name, lt)
		}
		spec := strings.TrimSpace(in.mustCtl("show", "-P", "OnCalendar", name))
		delay := strings.TrimSpace(in.mustCtl("show", "-P", "RandomizedDelayUSec", name))
		next := strings.TrimSpace(in.mustCtl("show", "-P", "NextElapseUSecRealtime", name))
		got, err := time.Parse("Mon 2006-01-02 15:04:05 MST", next)
		if err != nil {
			t.Errorf("%s: NextElapseUSecRealtime %q: %v", name, next, err)
			continue
		}
		out, err := exec.Command("systemd-analyze", "calendar", spec).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze calendar %q: %v\n%s", spec, err, out)
		}
		var want time.Time
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Next elapse: "); ok {
				want, err = time.Parse("Mon 2006-01-02 15:04:05 MST", v)
			}
		}
		if err != nil || want.IsZero() {
			t.Fatalf("systemd-analyze calendar %q: no next elapse (%v)\n%s", spec, err, out)
		}
		max := time.Duration(0)
		if delay != "" && delay != "0" {
			d, err := parseSpan(delay)
			if err != nil {
				t.Fatalf("%s: RandomizedDelayUSec %q: %v", name, delay, err)
			}
			max = d
		}
		if got.Before(want) || got.After(want.Add(max)) {
			t.Errorf("%s (%s): next elapse %v; systemd-analyze says %v (+ up to %v)", name, spec, got, want, max)
		}
	}
}

// parseSpan reads the spans show prints ("12h", "1min 40s").
func parseSpan(s string) (time.Duration, error) {
	s = strings.NewReplacer("min", "m", " ", "").Replace(s)
	return time.ParseDuration(s)
}
