package cgroup

import "testing"

func BenchmarkNoneScan(b *testing.B) {
	var t noneTracker
	t.init()
	t.seed(1)
	for b.Loop() {
		if _, err := t.scan("/proc"); err != nil {
			b.Fatal(err)
		}
	}
}
