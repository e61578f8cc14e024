package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timers and service directories across daemon-reexec and kill -9 of
// the manager (docs/design.md, "Crash and re-exec").

// awaitLines waits until the file at path has at least n lines and
// returns them.
func awaitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	s := awaitFile(t, path, "has "+strconv.Itoa(n)+" lines", func(s string) bool { return strings.Count(s, "\n") >= n })
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// TestTimerAcrossReexecAndCrash: a timer firing every two seconds keeps
// firing after daemon-reexec and after kill -9 and a new tend run, never
// twice for one elapse, and its Persistent= stamp follows its runs.
func TestTimerAcrossReexecAndCrash(t *testing.T) {
	work, state := t.TempDir(), t.TempDir()
	ticks := filepath.Join(work, "ticks")
	units := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=tick.timer\n",
		"tick.timer":     "[Timer]\nOnCalendar=*:*:0/2\nAccuracySec=1us\nPersistent=true\n",
		"tick.service":   "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date +%%s.%%N >> " + ticks + "'\n",
	})
	stamp := filepath.Join(state, "timers", "stamp-tick.timer")

	in := startTendAt(t, units, work, "--state-dir", state)
	awaitLines(t, ticks, 1)
	in.mustCtl("daemon-reexec")
	n := lineCount(ticks)
	awaitLines(t, ticks, n+2)
	in.waitState("tick.timer", "active (")
	if out := in.mustCtl("status", "tick.timer"); !strings.Contains(out, "Trigger:") {
		t.Errorf("status after re-exec shows no next elapse:\n%s", out)
	}

	in.crash()
	second := startTendAt(t, units, work, "--state-dir", state)
	n = lineCount(ticks)
	lines := awaitLines(t, ticks, n+2)
	second.waitState("tick.timer", "active (")

	// One run per elapse: each run's time, rounded down to its
	// two-second elapse, is new (a run made late for an elapse missed
	// while no manager ran still falls before the next elapse).
	seen := map[int64]string{}
	var last float64
	for _, l := range lines {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Fatalf("ticks line %q: %v", l, err)
		}
		slot := int64(math.Floor(f/2)) * 2
		if prev, ok := seen[slot]; ok {
			t.Errorf("two runs for the elapse at %d: %s and %s", slot, prev, l)
		}
		seen[slot], last = l, f
	}
	fi, err := os.Stat(stamp)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Unix(0, int64(last*1e9)).Sub(fi.ModTime()); d > time.Second || d < -time.Second {
		t.Errorf("Persistent= stamp %v; the last run was at %.3f", fi.ModTime(), last)
	}
}
