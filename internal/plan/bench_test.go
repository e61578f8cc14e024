package plan

import (
	"fmt"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// bigSystem is a machine-sized graph: n services with default
// dependencies, each wanted by multi-user.target, each requiring and
// ordered after its predecessor's socket-activated peer, in groups of ten.
func bigSystem(n int) map[string]*unit.Unit {
	units := map[string]*unit.Unit{}
	mu := &unit.Unit{Name: "multi-user.target", Load: unit.NotFound}
	units[mu.Name] = mu
	for i := range n {
		name := fmt.Sprintf("svc%04d.service", i)
		u := mk(name, defaults)
		if i%10 != 0 {
			prev := fmt.Sprintf("svc%04d.service", i-1)
			u.Deps.Requires = []string{prev}
			u.Deps.After = []string{prev}
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
