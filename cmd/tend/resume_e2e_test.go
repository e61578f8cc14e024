package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/svdir"
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

var svPIDs = regexp.MustCompile(`^run: [^:]+: \(pid ([0-9]+)\) [0-9]+s; run: log: \(pid ([0-9]+)\) [0-9]+s\n$`)

// svPair is the pids of ./run and log/run that sv status reports.
func svPair(t *testing.T, dir string) (run, log int) {
	t.Helper()
	out, code := runTool(t, "sv", "status", dir)
	m := svPIDs.FindStringSubmatch(strings.Replace(out, ", got TERM", "", 1))
	if code != 0 || m == nil {
		t.Fatalf("sv status %s: exit %d, %q", dir, code, out)
	}
	run, _ = strconv.Atoi(m[1])
	log, _ = strconv.Atoi(m[2])
	return run, log
}

// checkSequence requires the logger's file to hold "line 1" … "line N"
// with nothing lost or repeated, and returns N.
func checkSequence(t *testing.T, lines []string) int {
	t.Helper()
	for i, l := range lines {
		if want := "line " + strconv.Itoa(i+1); l != want {
			t.Fatalf("logged line %d is %q; want %q (lost, duplicated or reordered)", i+1, l, want)
		}
	}
	return len(lines)
}

// watchSv runs sv status over and over until stop is closed, and
// reports every failure (a supervise/ nobody held, a refused command).
func watchSv(t *testing.T, dir string) (stop func() []string) {
	done, out := make(chan struct{}), make(chan []string)
	go func() {
		var fails []string
		for {
			select {
			case <-done:
				out <- fails
				return
			default:
			}
			b, err := exec.Command("sv", "status", dir).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(b), "run: ") {
				fails = append(fails, fmt.Sprintf("%v: %s", err, b))
			}
		}
	}()
	return func() []string { close(done); return <-out }
}

// seqDir is a service directory whose ./run writes numbered lines
// through log/run (cat) into a file, under a tend whose runtime is in
// work; it returns the tend, the directory, the file and the tend's
// arguments.
type seqDir struct {
	in                    *instance
	dir, out, units, work string
	scan                  string
	run, logger           int
}

func startSeqDir(t *testing.T) *seqDir {
	needTools(t, "sv")
	root := t.TempDir()
	d := &seqDir{scan: filepath.Join(root, "service"), work: filepath.Join(root, "work"), units: filepath.Join(root, "units"),
		out: filepath.Join(root, "logged")}
	writeTree(t, d.scan, map[string]string{
		"seq/run":     "#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo \"line $i\"; sleep 0.005; done\n",
		"seq/log/run": "#!/bin/sh\nexec cat >> " + d.out + "\n",
	})
	writeTree(t, d.units, map[string]string{"default.target": "[Unit]\n"})
	d.dir = filepath.Join(d.scan, "seq")
	d.in = startTendAt(t, d.units, d.work, "--svdir", d.scan)
	awaitLines(t, d.out, 50)
	d.run, d.logger = svPair(t, d.dir)
	return d
}

// TestServiceDirectoryAcrossReexec: across daemon-reexec, ./run and
// log/run keep their pids, every line reaches the logger once and in
// order, and sv status works throughout.
func TestServiceDirectoryAcrossReexec(t *testing.T) {
	d := startSeqDir(t)
	in, dir, out, run, logger := d.in, d.dir, d.out, d.run, d.logger
	stopWatch := watchSv(t, dir)
	in.mustCtl("daemon-reexec")
	n := lineCount(out)
	awaitLines(t, out, n+100)
	if fails := stopWatch(); len(fails) > 0 {
		t.Errorf("sv status failed %d times across the re-exec; first: %s", len(fails), fails[0])
	}
	if r, l := svPair(t, dir); r != run || l != logger {
		t.Fatalf("after re-exec: run %d log %d; want %d %d", r, l, run, logger)
	}
	if got := in.mainPID("seq.svdir"); got != run {
		t.Errorf("tend's MainPID of seq.svdir after re-exec %d; want %d", got, run)
	}
	checkSequence(t, awaitLines(t, out, n+100))
}

// TestServiceDirectoryAcrossCrash: after kill -9 of tend, a new tend
// adopts ./run and log/run (no second ./run), the logger misses no line,
// sv status works, and sv term restarts ./run, whose lines reach the
// same logger through the pipe taken back.
func TestServiceDirectoryAcrossCrash(t *testing.T) {
	d := startSeqDir(t)
	dir, out, run, logger := d.dir, d.out, d.run, d.logger
	d.in.crash()
	n := lineCount(out)
	second := startTendAt(t, d.units, d.work, "--svdir", d.scan)
	if r, l := svPair(t, dir); r != run || l != logger {
		t.Fatalf("after the crash: run %d log %d; want the survivors %d %d\n%s", r, l, run, logger, second.stderr)
	}
	if got := second.mainPID("seq.svdir"); got != run {
		t.Errorf("tend's MainPID of seq.svdir after the crash %d; want %d", got, run)
	}
	// The group holds ./run and at most its sleep: no second ./run.
	for _, p := range unitProcs(t, second, "seq.svdir") {
		if p != run && ppid(p) != run {
			t.Errorf("seq.svdir's cgroup holds %d (parent %d) beside ./run %d", p, ppid(p), run)
		}
	}
	n = checkSequence(t, awaitLines(t, out, n+100))

	// sv term: the adopted ./run ends (seen through its pidfd) and a new
	// one starts, writing into the same pipe to the same logger.
	mustSv(t, 0, `^$`, "term", dir)
	awaitExit(t, run)
	awaitFile(t, out, "has the new run's first line after the old run's", func(s string) bool {
		lines := strings.Split(s, "\n")
		for _, l := range lines[n:] {
			if l == "line 1" {
				return true
			}
		}
		return false
	})
	awaitFile(t, filepath.Join(dir, "supervise", "status"), "names the new run", func(s string) bool {
		st, err := svdir.DecodeStatus([]byte(s))
		return err == nil && st.State == svdir.StateRun && st.PID > 0 && st.PID != run
	})
	r, l := svPair(t, dir)
	if r == run || l != logger {
		t.Errorf("after sv term: run %d log %d; want a new run and the logger %d\n%s\n%s\n%s", r, l, logger,
			second.mustCtl("status", "seq.svdir"), second.mustCtl("logs", "--no-pager", "-n", "30"), second.stderr)
	}
}

// ppid is pid's parent, or 0 once it is gone.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	p, _ := strconv.Atoi(f[1])
	return p
}
