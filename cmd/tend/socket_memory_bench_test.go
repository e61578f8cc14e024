package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkSocketMemoryDaemon is what an idle listening socket unit
// costs the daemon, end to end: tend boots with 100 and then 300 socket
// units (unix stream sockets, one service they all name, never started)
// wanted by its default target, and the difference is divided by the 200
// units more. Each daemon is read twice: once boot settled (READY=1 comes
// after the boot's collection, and --heap-profile writes its figures
// then), and after a no-op daemon-reload. Reported per socket: the live
// heap (HeapLive, the heap right after a collection, exact) and the anonymous
// memory (smaps_rollup) as booted and after the reload. Needs root.
func BenchmarkSocketMemoryDaemon(b *testing.B) {
	const small, large = 100, 300
	var live, anon [2]float64 // as booted, after a reload
	for range b.N {
		var heap, mem [2][2]int64
		for i, n := range []int{small, large} {
			heap[i], mem[i] = socketDaemonMemory(b, n)
		}
		for k := range live {
			live[k] += float64(heap[1][k]-heap[0][k]) / (large - small)
			anon[k] += float64(mem[1][k]-mem[0][k]) / (large - small)
		}
	}
	b.ReportMetric(live[0]/float64(b.N), "live-B/socket")
	b.ReportMetric(anon[0]/float64(b.N), "anon-B/socket")
	b.ReportMetric(live[1]/float64(b.N), "reload-live-B/socket")
	b.ReportMetric(anon[1]/float64(b.N), "reload-anon-B/socket")
}

// socketDaemonMemory boots tend on n socket units and returns its live
// heap and anonymous memory in bytes, as booted and after a reload.
func socketDaemonMemory(b *testing.B, n int) (heap, anon [2]int64) {
	units, work := b.TempDir(), b.TempDir()
	writeSocketUnits(b, units, work, n)
	prof := filepath.Join(b.TempDir(), "heap.pprof")
	in := startTendAt(b, units, work, "--heap-profile", prof, "--syslog-socket", "")
	defer in.stop()
	heap[0] = profileStat(b, prof+".txt", "HeapLive")
	anon[0] = rollupKiB(b, in.cmd.Process.Pid, "Anonymous") * 1024
	if out, code := in.ctl("daemon-reload"); code != 0 {
		b.Fatalf("daemon-reload: exit %d: %s", code, out)
	}
	heap[1] = profileStat(b, prof+".txt", "HeapLive")
	anon[1] = rollupKiB(b, in.cmd.Process.Pid, "Anonymous") * 1024
	if out, _ := in.ctl("list-sockets"); strings.Count(out, ".socket") != n {
		b.Fatalf("want %d listening sockets; list-sockets shows:\n%.500s", n, out)
	}
	return heap, anon
}

// writeSocketUnits writes the units of BenchmarkSocketMemoryDaemon, the
// sockets' files in work.
func writeSocketUnits(b *testing.B, dir, work string, n int) {
	wants := filepath.Join(dir, "default.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{"default.target": "[Unit]\n"}
	for _, name := range idleSockets(files, work, n) {
		if err := os.Symlink("../"+name, filepath.Join(wants, name)); err != nil {
			b.Fatal(err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// idleSockets adds to files n unix stream socket units listening in work
// and the one service they all name (never started), and returns the
// sockets' names.
func idleSockets(files map[string]string, work string, n int) []string {
	files["idle.service"] = "[Service]\nExecStart=/bin/true\n"
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("idle-%d.socket", i)
		files[names[i]] = fmt.Sprintf("[Socket]\nListenStream=%s/s%d\nService=idle.service\n", work, i)
	}
	return names
}
