package plan

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// bigSystem is a machine-sized graph: n services with default
// dependencies, each wanted by multi-user.target, each requiring and
// ordered after its predecessor's socket-activated peer, in groups of ten.
func bigSystem(n int) map[string]*unit.Unit {
	units := map[string]*unit.Unit{}
	mu := &unit.Unit{Name: "multi-user.target", Load: unit.NotFound, Deps: &unit.Deps{}}
	units[mu.Name] = mu
	for i := range n {
		name := fmt.Sprintf("svc%04d.service", i)
		u := mk(name, defaults)
		if i%10 != 0 {
			prev := fmt.Sprintf("svc%04d.service", i-1)
			u.EnsureDeps().Requires = []string{prev}
			u.EnsureDeps().After = []string{prev}
		}
		if i%7 == 0 {
			sock := mk(fmt.Sprintf("svc%04d.socket", i), defaults)
			units[sock.Name] = sock
			mu.Deps.Wants = append(mu.Deps.Wants, sock.Name)
		}
		units[name] = u
		mu.Deps.Wants = append(mu.Deps.Wants, name)
	}
	return units
}

func BenchmarkNew(b *testing.B) {
	units := bigSystem(1000)
	b.ReportAllocs()
	for b.Loop() {
		New(units, Options{})
	}
}

func BenchmarkTransactionBoot(b *testing.B) {
	p := New(bigSystem(1000), Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Transaction(Start, []string{"default.target"}, Replace, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStopOrder(b *testing.B) {
	p := New(bigSystem(1000), Options{})
	names := p.Names()
	b.ReportAllocs()
	for b.Loop() {
		p.StopOrder(names)
	}
}

// BenchmarkPlanMemory is the live heap a plan keeps per socket unit:
// 1000 socket units that name one service, wanted by one target, as in
// bench/sockets.py's idle part; the units themselves are not counted.
func BenchmarkPlanMemory(b *testing.B) {
	const n = 1000
	units := map[string]*unit.Unit{}
	target := mk("idle.target", defaults)
	target.EnsureDeps()
	units[target.Name] = target
	svc := mk("idle.service", defaults)
	units[svc.Name] = svc
	for i := range n {
		sock := mk(fmt.Sprintf("idle-%d.socket", i), defaults)
		units[sock.Name] = sock
		target.Deps.Wants = append(target.Deps.Wants, sock.Name)
	}
	var perUnit float64
	for b.Loop() {
		before := liveHeap()
		p := New(units, Options{})
		perUnit = float64(liveHeap()-before) / n
		runtime.KeepAlive(p)
	}
	b.ReportMetric(perUnit, "live-B/socket")
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
