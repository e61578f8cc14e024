package inspect

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
)

// The benchmarks read the live /proc; bench/listing.sh runs the commands
// with 5000 extra processes against procps, psmisc and lsof.

func BenchmarkPs(b *testing.B) {
	c := liveCollector()
	o := PsOptions{All: true, Columns: []string{"pid,ppid,user,stat,tty,time,args"}}
	for b.Loop() {
		t, err := Ps(context.Background(), c, o)
		if err != nil {
			b.Fatal(err)
		}
		t.WriteText(io.Discard, true)
	}
}

func BenchmarkTree(b *testing.B) {
	c := liveCollector()
	o := TreeOptions{ShowPIDs: true}
	for b.Loop() {
		roots, err := Tree(context.Background(), c, o)
		if err != nil {
			b.Fatal(err)
		}
		RenderTree(io.Discard, roots, o)
	}
}

func BenchmarkTopSample(b *testing.B) {
	top := NewTop(liveCollector(), "")
	defer top.Close()
	for b.Loop() {
		f, err := top.Sample(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.WriteBatch(io.Discard, TopView{Sort: SortCPU})
	}
}

// BenchmarkFds lists this process's files, or those of the pid in
// INSPECT_BENCH_PID (bench/listing.sh's holder has 1000).
func BenchmarkFds(b *testing.B) {
	c := liveCollector()
	pid := os.Getpid()
	if p, err := strconv.Atoi(os.Getenv("INSPECT_BENCH_PID")); err == nil {
		pid = p
	}
	for b.Loop() {
		l, err := FDs(context.Background(), c, pid)
		if err != nil {
			b.Fatal(err)
		}
		WriteFDs(io.Discard, []*FDList{l})
	}
}
