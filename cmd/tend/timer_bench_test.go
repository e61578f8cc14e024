package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTimerPrecision runs a timer due every 100 ms with
// AccuracySec=1us and measures, over 200 firings, how late its service
// runs: the time the service's shell reads minus the due time (p50 and
// p99, in ms). The time to fork and exec the shell is included.
func BenchmarkTimerPrecision(b *testing.B) {
	const firings = 200
	work := b.TempDir()
	out := filepath.Join(work, "fired")
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.timer"), []byte("[Timer]\nOnCalendar=*:*:0/0.1\nAccuracySec=1us\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.service"), []byte("[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date +%%s.%%N >> "+out+"'\n"), 0o644)
	t := &testing.T{}
	in := startTend(t, dir)
	defer in.stop()
	b.ResetTimer()
	in.mustCtl("start", "p.timer")
	var lines []string
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		data, _ := os.ReadFile(out)
		if lines = strings.Fields(string(data)); len(lines) >= firings {
			break
		}
	}
	b.StopTimer()
	if len(lines) < firings {
		b.Fatalf("%d firings in a minute", len(lines))
	}
	var late []float64
	for _, l := range lines[:firings] {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil {
			b.Fatal(err)
		}
		due := math.Floor(f*10) / 10
		late = append(late, (f-due)*1000)
	}
	slices.Sort(late)
	b.ReportMetric(late[len(late)/2], "p50-ms")
	b.ReportMetric(late[len(late)*99/100], "p99-ms")
	b.ReportMetric(late[len(late)-1], "max-ms")
}
