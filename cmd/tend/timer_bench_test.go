package main

import (
	"fmt"
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
// p99, in ms). The time to fork and exec the shell, and the shell's to
// run date, are included: an upper bound on the job's exec time.
func BenchmarkTimerPrecision(b *testing.B) {
	timerPrecision(b, func(out string) string {
		return "ExecStart=/bin/sh -c 'date +%%s.%%N >> " + out + "'\n"
	})
}

// BenchmarkTimerPrecisionExec is BenchmarkTimerPrecision with date as
// the job itself (its output appended to the file by tend): the time it
// reads is the job's exec time, plus date's own start-up.
func BenchmarkTimerPrecisionExec(b *testing.B) {
	timerPrecision(b, func(out string) string {
		return "ExecStart=/bin/date +%%s.%%N\nStandardOutput=append:" + out + "\n"
	})
}

// timerPrecision runs the timer whose service's exec lines exec gives
// (writing the time it runs to out) and reports the lateness.
func timerPrecision(b *testing.B, exec func(out string) string) {
	const firings = 200
	work := b.TempDir()
	out := filepath.Join(work, "fired")
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.timer"), []byte("[Timer]\nOnCalendar=*:*:0/0.1\nAccuracySec=1us\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.service"), []byte("[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\n"+exec(out)), 0o644)
	t := &testing.T{}
	in := startTend(t, dir)
	defer in.stop()
	b.ResetTimer()
	in.mustCtl("start", "p.timer")
	data := awaitFileFor(b, out, fmt.Sprintf("written by %d firings", firings), time.Minute, func(s string) bool { return len(strings.Fields(s)) >= firings })
	b.StopTimer()
	lines := strings.Fields(data)
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
