package journal

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchSize is the journal size the query benchmarks build; the targets
// are stated for 1 GiB (-journal.benchsize=1073741824).
var benchSize = flag.Int("journal.benchsize", 256<<20, "journal size for BenchmarkTail, BenchmarkSince and BenchmarkGrep")

// peakRSS returns the process's peak resident set in MiB (VmHWM).
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// lineBlock returns n lines of about 100 bytes.
func lineBlock(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%08d GET /api/v1/items?id=%06d HTTP/1.1 200 1532 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" 0.004\n", i, i%999999)
	}
	return b.Bytes()
}

// BenchmarkIngest measures lines per second from one producer through a
// pipe into the store, made durable (fsync) before the clock stops: read
// from the pipe, and (spool) moved through a spool file first, as with
// the fd holder.
func BenchmarkIngest(b *testing.B) {
	b.Run("pipe", func(b *testing.B) { benchIngest(b, nil) })
	b.Run("spool", func(b *testing.B) {
		dir := b.TempDir()
		benchIngest(b, func(o *Options) { o.SpoolDir, o.Holder = dir, nopHolder{} })
	})
}

func benchIngest(b *testing.B, mod func(*Options)) {
	const perChunk = 600 // ~64 KiB
	chunk := lineBlock(perChunk)
	j := openTest(b, func(o *Options) {
		o.MaxFileSize = 32 << 20
		o.MaxUse = 8 << 30
		if mod != nil {
			mod(o)
		}
	})
	defer j.Close()
	p, err := j.Pipe(Source{Unit: "bench.service", Identifier: "bench", Priority: PriInfo, PID: os.Getpid()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chunk) / perChunk))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	left := b.N
	for left > 0 {
		n := min(left, perChunk)
		if _, err := p.W.Write(chunk[:len(chunk)/perChunk*n]); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
	p.W.Close()
	<-p.Done()
	j.syncDirty()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
	// CPU per line, producer's write included: steadier than the rate on
	// a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/line")
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
	b.StopTimer()
	var got int
	j.Query(context.Background(), Query{}, func(Entry) error { got++; return nil })
	if got != b.N {
		b.Fatalf("stored %d lines; want %d", got, b.N)
	}
}

// fillStart is the realtime of the first chunk fillJournal writes; each
// further chunk is one second later.
var fillStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fillJournal writes about size bytes of 100-byte lines spread over units,
// 600 lines per unit and second.
func fillJournal(b *testing.B, size int, units int) *Journal {
	j := openTest(b, func(o *Options) { o.MaxUse = 8 << 30; o.KeepFree = -1 })
	chunk := lineBlock(600)
	lines := bytes.Split(chunk[:len(chunk)-1], []byte("\n"))
	recs := make([]rec, len(lines))
	for written := 0; written < size; written += len(chunk) {
		n := written / len(chunk)
		u := fmt.Sprintf("u%d.service", n%units)
		now := fillStart.Add(time.Duration(n) * time.Second).UnixNano()
		for i, l := range lines {
			recs[i] = rec{rt: now, pri: PriInfo, ident: []byte("bench"), msg: l}
		}
		if err := j.commit(u, recs); err != nil {
			b.Fatal(err)
		}
	}
	return j
}

// BenchmarkTail is `-u X -n 100` on a journal of -journal.benchsize bytes.
func BenchmarkTail(b *testing.B) {
	j := fillJournal(b, *benchSize, 8)
	defer j.Close()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		j.Query(context.Background(), Query{Units: []string{"u3.service"}, Lines: 100}, func(Entry) error { n++; return nil })
		if n != 100 {
			b.Fatalf("got %d entries", n)
		}
	}
}

// BenchmarkSince is `--since` selecting the last ten seconds (6,000
// entries) of a journal spanning hours.
func BenchmarkSince(b *testing.B) {
	j := fillJournal(b, *benchSize, 8)
	defer j.Close()
	chunks := *benchSize / len(lineBlock(600))
	since := fillStart.Add(time.Duration(chunks-10) * time.Second)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		j.Query(context.Background(), Query{Since: since}, func(Entry) error { n++; return nil })
		if n < 5400 || n > 6600 {
			b.Fatalf("got %d entries", n)
		}
	}
}

// BenchmarkGrep scans every message of a 256 MiB journal.
func BenchmarkGrep(b *testing.B) {
	for _, pat := range []string{"id=123456", "items?id=123456", "id=12345[0-9] HTTP"} {
		b.Run(regexp.QuoteMeta(pat), func(b *testing.B) {
			j := fillJournal(b, *benchSize, 8)
			defer j.Close()
			b.SetBytes(int64(*benchSize))
			b.ResetTimer()
			for b.Loop() {
				j.Query(context.Background(), Query{Grep: pat}, func(Entry) error { return nil })
			}
		})
	}
}
