package supervise

import (
	"fmt"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// BenchmarkRestartPath is the state machine's share of restart latency:
// a Restart=always service's main process exits and the replacement is
// spawned (RestartSec=0), with fake processes so only tend's own work is
// measured.
func BenchmarkRestartPath(b *testing.B) {
	m, u, f := newTableManager(b, tableUnit(unit.TypeSimple, unit.RestartAlways, 0))
	place(m, u, Running, f)
	b.ReportAllocs()
	for b.Loop() {
		// As the loop gets it: through the mailbox and handleBatch, which
		// also writes the messages; then the deadlines the batch left are armed.
		m.box.put(evExit{exit: reaper.Exit{PID: u.mainPID, Status: 1 << 8}})
		for m.box.pending() {
			m.handleBatch(m.box.take())
		}
		m.armDeadlines()
		if u.state != Running {
			b.Fatalf("after the exit: %s; want running", u.state)
		}
	}
}

// BenchmarkPersist is what one state change costs the state file when
// a thousand services run: the change of one, then the write after its
// event batch.
func BenchmarkPersist(b *testing.B) {
	names := make([]string, 999)
	for i := range names {
		names[i] = fmt.Sprintf("s%04d.service", i)
	}
	m, u := runningManager(b, names...)
	b.ReportAllocs()
	for b.Loop() {
		m.setState(u.rt, Running)
		m.persist()
	}
}

// BenchmarkPersistWithHolder is BenchmarkPersist with the daemon's fd
// holder sync (OnPersist) and ten socket units beside the services.
func BenchmarkPersistWithHolder(b *testing.B) {
	names := make([]string, 999)
	for i := range names {
		names[i] = fmt.Sprintf("s%04d.service", i)
	}
	m, u := runningManager(b, names...)
	for i := range 10 {
		def := &unit.Unit{Name: fmt.Sprintf("l%02d.socket", i), Kind: unit.KindSocket, Load: unit.Loaded}
		s := &rt{name: def.Name, def: def, state: Dead, startTimes: []time.Time{tableEpoch}}
		s.eng = newEngine(s)
		m.units[s.name] = s
	}
	m.opts.OnPersist = func(SavedState) {}
	m.dirty, m.changedAll = true, true
	m.persist()
	b.ReportAllocs()
	for b.Loop() {
		m.setState(u.rt, Running)
		m.persist()
	}
}
