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
// runs (p50 and p99, in ms): "exec" is the kernel's time of the job's
// exec (the process events connector; needs CAP_NET_ADMIN), "read" the
// time the job's shell reads, which adds the shell's start-up and its
// fork and exec of date.
func BenchmarkTimerPrecision(b *testing.B) {
	timerPrecision(b, "/bin/sh", func(job, out string) string {
		return "ExecStart=" + job + " -c 'date +%%s.%%N >> " + out + "'\n"
	})
}

// BenchmarkTimerPrecisionExec is BenchmarkTimerPrecision with date as
// the job itself (its output appended to the file by tend): "read" is
// the job's exec time plus date's own start-up.
func BenchmarkTimerPrecisionExec(b *testing.B) {
	timerPrecision(b, "/bin/date", func(job, out string) string {
		return "ExecStart=" + job + " +%%s.%%N\nStandardOutput=append:" + out + "\n"
	})
}

// timerPrecision runs the timer whose service's exec lines exec gives
// (running bin as the job, writing the time it reads to out) and reports
// the lateness; the exec times are those of tend's children.
func timerPrecision(b *testing.B, bin string, exec func(job, out string) string) {
	const firings = 200
	work := b.TempDir()
	out := filepath.Join(work, "fired")
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.timer"), []byte("[Timer]\nOnCalendar=*:*:0/0.1\nAccuracySec=1us\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.service"), []byte("[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\n"+exec(bin, out)), 0o644)
	in := startTend(b, dir)
	defer in.stop()
	w, err := watchExecs(in.cmd.Process.Pid)
	if err != nil {
		b.Logf("no exec times: %v", err)
	}
	b.ResetTimer()
	in.mustCtl("start", "p.timer")
	data := awaitFileFor(b, out, fmt.Sprintf("written by %d firings", firings), time.Minute, func(s string) bool { return len(strings.Fields(s)) >= firings })
	b.StopTimer()
	var read []float64
	for _, l := range strings.Fields(data)[:firings] {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil {
			b.Fatal(err)
		}
		read = append(read, lateness(f))
	}
	reportLateness(b, "read", read)
	if w == nil {
		return
	}
	execs := w.stop()
	var ex []float64
	for _, e := range execs[:min(len(execs), firings)] {
		ex = append(ex, lateness(float64(e.UnixNano())/1e9))
	}
	reportLateness(b, "exec", ex)
	b.ReportMetric(float64(len(ex)), "execs-seen")
}

// lateness is how late a time (in seconds) is after the 100 ms step it
// falls in, in ms.
func lateness(s float64) float64 {
	return (s - math.Floor(s*10)/10) * 1000
}

func reportLateness(b *testing.B, what string, late []float64) {
	if len(late) == 0 {
		return
	}
	slices.Sort(late)
	b.ReportMetric(late[len(late)/2], what+"-p50-ms")
	b.ReportMetric(late[len(late)*99/100], what+"-p99-ms")
	b.ReportMetric(late[len(late)-1], what+"-max-ms")
}
