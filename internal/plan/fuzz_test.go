package plan

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// graphFromBytes builds a random unit graph: the first byte picks the
// number of units, each following triple adds one dependency (from, kind
// of dependency, to). Unit 0 is a target that allows isolation; the last
// unit name is never loaded, so dependencies on it exercise not-found
// handling.
func graphFromBytes(data []byte) (*Plan, []string) {
	if len(data) == 0 {
		data = []byte{0}
	}
	n := 2 + int(data[0])%7
	names := make([]string, n+1)
	units := map[string]*unit.Unit{}
	for i := range n {
		names[i] = fmt.Sprintf("u%d.service", i)
		if i == 0 {
			names[i] = "t.target"
		}
		units[names[i]] = mk(names[i], entries("Unit.AllowIsolate=yes"))
	}
	names[n] = "missing.service"
	for data = data[1:]; len(data) >= 3; data = data[3:] {
		from := units[names[int(data[0])%n]]
		to := names[int(data[2])%(n+1)]
		d := from.EnsureDeps()
		lists := []*[]string{&d.Requires, &d.Requisite, &d.Wants, &d.BindsTo, &d.PartOf,
			&d.Upholds, &d.Conflicts, &d.After, &d.Before, &d.After, &d.Before, &d.Wants}
		l := lists[int(data[1])%len(lists)]
		*l = append(*l, to)
	}
	return New(units, Options{}), names
}

func FuzzTransaction(f *testing.F) {
	f.Add([]byte{3, 1, 0, 2, 2, 7, 1, 1, 7, 2}, byte(0), byte(0), byte(0), uint16(0))
	f.Add([]byte{2, 0, 0, 1, 1, 7, 0, 0, 7, 1}, byte(0), byte(0), byte(0), uint16(3))
	f.Add([]byte{5, 0, 6, 1, 1, 2, 2, 2, 4, 0, 3, 8, 4, 5, 3}, byte(1), byte(1), byte(0), uint16(0xffff))
	f.Add([]byte{4, 0, 2, 1, 0, 2, 2, 0, 7, 3, 3, 8, 0}, byte(0), byte(2), byte(0), uint16(0x0f))
	f.Add([]byte{6, 1, 4, 2, 2, 0, 3, 3, 6, 1}, byte(2), byte(0), byte(3), uint16(0x55))
	// Found by fuzzing: a pruned stop job must not count as a failed requirement.
	f.Add([]byte("028ZC0000000000027Z20000000000000000000002002010002000000000000002002000000000000000000000000020X7B122Z"),
		byte(0xb6), byte('4'), byte(0xda), uint16(65413))
	f.Fuzz(func(t *testing.T, graph []byte, kindB, modeB, anchorB byte, active uint16) {
		p, names := graphFromBytes(graph)
		kind := JobKind(int(kindB) % len(jobKindNames))
		mode := Mode(int(modeB) % len(modeNames))
		anchor := names[int(anchorB)%(len(names)-1)]
		state := func(name string) State {
			for i, n := range names {
				if n == name && active&(1<<i) != 0 {
					return Active
				}
			}
			return Inactive
		}
		tr, err := p.Transaction(kind, []string{anchor}, mode, state)
		if err != nil {
			if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrRefused) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkInvariants(t, p, tr)
		order, _ := p.StopOrder(names)
		if len(order) != len(names) {
			t.Fatalf("StopOrder lost units: %v", order)
		}
		p.DependencyTree(anchor, kindB%2 == 0, true)
	})
}
