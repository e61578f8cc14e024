package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTimerMemoryDaemon is what a started, waiting timer costs the
// daemon beyond its loaded unit, end to end: tend loads 10,000 services
// and 10,000 timers (distinct OnCalendar= times twelve hours away) whose
// .wants/ links are under timers.target (started: every timer waits) or
// under a target nothing starts (loaded), the two runs alternating. Each
// is read after a daemon-reload, which collects and returns free pages:
// the live heap (the runtime's HeapAlloc, exact, from the text heap
// profile --heap-profile writes) and the anonymous memory
// (smaps_rollup). BenchmarkTimerMemory in internal/supervise is the
// supervisor's part alone; this one also sees what the daemon keeps (a
// reload's old unit loads, pages made resident after its trim).
func BenchmarkTimerMemoryDaemon(b *testing.B) {
	const n = 10000
	var live, anon float64
	for range b.N {
		var heap, mem [2]int64
		for i, started := range []bool{false, true} {
			heap[i], mem[i] = timerDaemonMemory(b, n, started)
		}
		live += float64(heap[1]-heap[0]) / n
		anon += float64(mem[1]-mem[0]) / n
	}
	b.ReportMetric(live/float64(b.N), "live-B/timer")
	b.ReportMetric(anon/float64(b.N), "anon-B/timer")
}

// timerDaemonMemory runs tend on n timers and n services, started or
// only loaded, and returns its live heap and anonymous memory in bytes
// after a daemon-reload.
func timerDaemonMemory(b *testing.B, n int, started bool) (heap, anon int64) {
	units := b.TempDir()
	writeTimerUnits(b, units, n, started)
	prof := filepath.Join(b.TempDir(), "heap.pprof")
	in := startTendAt(b, units, b.TempDir(), "--heap-profile", prof, "--syslog-socket", "")
	defer in.stop()
	if out, code := in.ctl("daemon-reload"); code != 0 {
		b.Fatalf("daemon-reload: exit %d: %s", code, out)
	}
	heap = profileStat(b, prof+".txt", "HeapAlloc")
	anon = rollupKiB(b, in.cmd.Process.Pid, "Anonymous") * 1024
	if out, _ := in.ctl("list-timers"); started != strings.Contains(out, "j0.timer") {
		b.Fatalf("started %v, but list-timers shows:\n%.500s", started, out)
	}
	return heap, anon
}

// writeTimerUnits writes the units of BenchmarkTimerMemoryDaemon.
func writeTimerUnits(b *testing.B, dir string, n int, started bool) {
	hour := (time.Now().Hour() + 12) % 24
	wants := filepath.Join(dir, "bench-idle.target.wants")
	if started {
		wants = filepath.Join(dir, "timers.target.wants")
	}
	files := map[string]string{
		"default.target":    "[Unit]\nWants=timers.target\n",
		"bench-idle.target": "[Unit]\nDescription=never started\n",
	}
	for i := range n {
		files[fmt.Sprintf("j%d.service", i)] = "[Service]\nType=oneshot\nExecStart=/bin/true\n"
		files[fmt.Sprintf("j%d.timer", i)] = fmt.Sprintf("[Timer]\nOnCalendar=*-*-* %02d:%02d:%02d\n", hour, i%60, i/60%60)
	}
	if err := os.MkdirAll(wants, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		if strings.HasSuffix(name, ".timer") {
			if err := os.Symlink("../"+name, filepath.Join(wants, name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// profileStat is a "# Name = value" line of a text heap profile.
func profileStat(b *testing.B, path, name string) int64 {
	return scanStat(b, path, func(f []string) (string, bool) {
		if len(f) != 4 || f[0] != "#" || f[1] != name || f[2] != "=" {
			return "", false
		}
		return f[3], true
	})
}

// rollupKiB is a "Name: value kB" line of /proc/PID/smaps_rollup.
func rollupKiB(b *testing.B, pid int, name string) int64 {
	return scanStat(b, fmt.Sprintf("/proc/%d/smaps_rollup", pid), func(f []string) (string, bool) {
		if len(f) != 3 || f[0] != name+":" {
			return "", false
		}
		return f[1], true
	})
}

// scanStat is the number that match finds in a line's fields of path.
func scanStat(b *testing.B, path string, match func([]string) (string, bool)) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := match(strings.Fields(sc.Text())); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("%s: %v", path, err)
			}
			return n
		}
	}
	b.Fatalf("%s: nothing found", path)
	return 0
}
