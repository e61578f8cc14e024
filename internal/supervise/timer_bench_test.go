package supervise

import (
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// BenchmarkTimerMemory loads 10,000 timers (each with its service) and
// starts them all, then reports the heap each waiting timer costs beyond
// its loaded unit: the engine, its typed [Timer] section, its place in
// the alarm heap and, with a state file, its part of it. "daily" timers
// share one parsed calendar; "distinct" ones each have their own time
// of day, as the lines of a crontab do.
func BenchmarkTimerMemory(b *testing.B) {
	for _, spec := range []string{"daily", "distinct"} {
		for _, state := range []bool{false, true} {
			b.Run(fmt.Sprintf("spec=%s/state-file=%v", spec, state), func(b *testing.B) {
				timerMemory(b, spec == "distinct", state)
			})
		}
	}
}

func timerMemory(b *testing.B, distinct, stateFile bool) {
	const n = 10000
	for range b.N {
		m := manyTimers(b, n, distinct)
		if stateFile {
			m.opts.StateFile = filepath.Join(b.TempDir(), "state")
			m.persist()
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			name := fmt.Sprintf("t%d.timer", i)
			tx, err := m.plan.Transaction(plan.Start, []string{name}, plan.Replace, m.activeState)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.jobs.submit(tx); err != nil {
				b.Fatal(err)
			}
			drain(m)
			if i%1000 == 0 {
				m.persist() // as the daemon's loop does, but not 10,000 times
			}
		}
		m.persist()
		runtime.GC()
		runtime.ReadMemStats(&after)
		waiting := 0
		for _, u := range m.units {
			if u.state == Waiting {
				waiting++
			}
		}
		if waiting != n {
			b.Fatalf("%d of %d timers waiting", waiting, n)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/timer")
		runtime.KeepAlive(m)
	}
}

// manyTimers is a manager with n timers loaded (not started), each with
// OnCalendar=daily or (distinct) a time of day of its own, and 100
// services they trigger.
func manyTimers(b *testing.B, n int, distinct bool) *Manager {
	defs := []*unit.Unit{oneshot("s0.service")}
	for i := range n {
		cal := "OnCalendar=daily"
		if distinct {
			cal = fmt.Sprintf("OnCalendar=*-*-* %02d:%02d:%02d", i/3600%24, i/60%60, i%60)
		}
		defs = append(defs, timerDef(fmt.Sprintf("t%d.timer", i), cal, fmt.Sprintf("Unit=s%d.service", i%100)))
	}
	for i := 1; i < 100; i++ {
		defs = append(defs, oneshot(fmt.Sprintf("s%d.service", i)))
	}
	m, _, _ := newTableManager(b, defs[0], defs[1:]...)
	m.opts.Timers = TimerEnv{Startup: tableEpoch, Boot: tableEpoch.Add(-time.Hour)}
	return m
}

// BenchmarkTimerClockChange: 10,000 timers wait and the wall clock is
// set; every timer computes its next elapse again. A waiting timer keeps
// no parsed calendar, so "distinct" parses 10,000 specs per operation
// and "daily" finds its one spec in the shared table.
func BenchmarkTimerClockChange(b *testing.B) {
	for _, spec := range []string{"daily", "distinct"} {
		b.Run("spec="+spec, func(b *testing.B) {
			n := 10000
			m := manyTimers(b, n, spec == "distinct")
			tx, err := m.plan.Transaction(plan.Start, timerNames(n), plan.Replace, m.activeState)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.jobs.submit(tx); err != nil {
				b.Fatal(err)
			}
			drain(m)
			for _, u := range m.units {
				if u.state == Waiting {
					n--
				}
			}
			if n != 0 {
				b.Fatalf("%d timers not waiting", n)
			}
			// Set to the time it is: no timer becomes due, and each
			// computes its elapse again as for any jump.
			clk := m.clock.(*clock.Fake)
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				clk.Set(clk.Now())
				m.TimeChanged(true)
				drain(m)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N)/10000, "cpu-us/timer")
		})
	}
}

func timerNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%d.timer", i)
	}
	return names
}

// BenchmarkTimerFiringAmongMany: 10,000 timers wait, one elapses per
// operation (OnActiveSec= one second apart) and starts its oneshot,
// which ends; the state file is written after each step, as the loop
// does. "alarm-saves-all" encodes every unit again after the alarm, as
// the manager did before an alarm marked only the units it is delivered
// to ("alarm-saves-own").
func BenchmarkTimerFiringAmongMany(b *testing.B) {
	for _, all := range []bool{false, true} {
		name := "alarm-saves-own"
		if all {
			name = "alarm-saves-all"
		}
		b.Run(name, func(b *testing.B) { timerFiringAmongMany(b, all) })
	}
}

func timerFiringAmongMany(b *testing.B, saveAll bool) {
	const n = 10000
	defs := []*unit.Unit{oneshot("s0.service")}
	for i := range n {
		defs = append(defs, timerDef(fmt.Sprintf("t%d.timer", i), fmt.Sprintf("OnActiveSec=%ds", i+1), "AccuracySec=1us", fmt.Sprintf("Unit=s%d.service", i%100)))
	}
	for i := 1; i < 100; i++ {
		defs = append(defs, oneshot(fmt.Sprintf("s%d.service", i)))
	}
	m, _, _ := newTableManager(b, defs[0], defs[1:]...)
	m.opts.Timers = TimerEnv{Startup: tableEpoch, Boot: tableEpoch.Add(-time.Hour)}
	m.opts.StateFile = filepath.Join(b.TempDir(), "state")
	for i := range n {
		tx, err := m.plan.Transaction(plan.Start, []string{fmt.Sprintf("t%d.timer", i)}, plan.Replace, m.activeState)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.jobs.submit(tx); err != nil {
			b.Fatal(err)
		}
		drain(m)
	}
	m.persist()
	clk := m.clock.(*clock.Fake)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range min(b.N, n) {
		if saveAll {
			m.changedAll = true
		}
		clk.Advance(time.Second)
		drain(m)
		m.persist()
		u, err := m.lookup(fmt.Sprintf("s%d.service", i%100))
		if err != nil {
			b.Fatal(err)
		}
		svc := u.eng.(*service)
		if svc.mainPID == 0 {
			b.Fatalf("s%d.service not started by t%d.timer", i%100, i)
		}
		m.onExit(reaper.Exit{PID: svc.mainPID})
		drain(m)
		m.persist()
	}
	b.StopTimer()
	// The process's CPU time (the GC's included): on a busy machine the
	// wall time per operation is mostly waiting for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(min(b.N, n)), "cpu-ms/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
