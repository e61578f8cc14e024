package supervise

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// BenchmarkTimerMemory loads 10,000 timers (OnCalendar=daily, each with
// its service) and starts them all, then reports the heap each waiting
// timer costs beyond its loaded unit: the engine, its typed [Timer]
// section and its place in the alarm heap.
func BenchmarkTimerMemory(b *testing.B) {
	const n = 10000
	for range b.N {
		defs := []*unit.Unit{oneshot("s0.service")}
		for i := range n {
			defs = append(defs, timerDef(fmt.Sprintf("t%d.timer", i), "OnCalendar=daily", fmt.Sprintf("Unit=s%d.service", i%100)))
		}
		for i := 1; i < 100; i++ {
			defs = append(defs, oneshot(fmt.Sprintf("s%d.service", i)))
		}
		m, _, _ := newTableManager(b, defs[0], defs[1:]...)
		m.opts.Timers = TimerEnv{Startup: tableEpoch, Boot: tableEpoch.Add(-time.Hour)}
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
		}
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
