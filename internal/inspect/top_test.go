package inspect

import (
	"strings"
	"testing"
)

// TestTopMemoryExact: %MEM sorts by the exact resident size and a unit's
// %MEM is its processes' memory over the total, not a sum of rounded
// per-process percentages (20 processes of 5.5 MiB, each under 0.1 %,
// make 113 MB, 1.4 % of 7.6 GiB).
func TestTopMemoryExact(t *testing.T) {
	snap := &Snapshot{MemTotal: 8_000_000}
	var procs []*Process
	for i := range 20 {
		procs = append(procs, &Process{PID: 100 + i, RSS: 5_650, Unit: "big.service", State: "S", User: "root"})
	}
	procs = append(procs, &Process{PID: 10, RSS: 5_000, Unit: "a.service", State: "S"},
		&Process{PID: 11, RSS: 7_000, Unit: "a.service", State: "S"})
	f := &TopFrame{snap: snap}
	for _, p := range procs {
		f.Rows = append(f.Rows, processRow(p, snap, 0))
	}
	rows := f.Arrange(TopView{Sort: SortMem})
	var order []int
	for _, r := range rows {
		if r.PID == 10 || r.PID == 11 {
			order = append(order, r.PID)
		}
	}
	if len(order) != 2 || order[0] != 11 {
		t.Errorf("sorted by %%MEM, pids 10 (5000 KiB) and 11 (7000 KiB) come as %v; want 11 first", order)
	}
	for _, r := range f.Arrange(TopView{ByUnit: true, Sort: SortMem}) {
		if r.Unit != "big.service" {
			continue
		}
		if got := strings.Fields(FormatRow(r, TopView{ByUnit: true}))[6]; got != "1.4" {
			t.Errorf("%%MEM of big.service (113000 KiB of 8000000) = %s; want 1.4:\n%s", got, FormatRow(r, TopView{ByUnit: true}))
		}
	}
}
