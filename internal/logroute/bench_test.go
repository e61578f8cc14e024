package logroute

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/journal"
)

// BenchmarkRouteFeed is the Router's work per message of a LOGHOST flood
// fed from memory: decode a committed batch of 1024 relayed syslog
// entries (as the bench's sender makes them), select, format and buffer
// the lines of one file (not written: that is the kernel's part).
func BenchmarkRouteFeed(b *testing.B) {
	dir := b.TempDir()
	j, err := journal.Open(journal.Options{Dir: filepath.Join(dir, "j"), BootID: "b", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	var batch journal.Frames
	stop := j.Tap(func(f journal.Frames) { batch = f; batch.Data = append([]byte(nil), f.Data...) })
	addr := netip.MustParseAddr("127.0.0.1")
	es := make([]journal.Entry, 1024)
	for i := range es {
		es[i] = journal.Entry{Realtime: at, Facility: 16, Priority: 6, Identifier: "bench", PID: 4242, UID: -1,
			Stream:  journal.StreamSyslog,
			Origin:  journal.Origin{Hostname: "bench", Address: addr.String(), Time: at},
			Message: fmt.Appendf(nil, "seq-%010d %s", i, strings.Repeat("x", 110))}
	}
	if err := j.AppendBatch(es); err != nil {
		b.Fatal(err)
	}
	stop()
	r := New(Options{Config: conf(b, dir, "local0.* -DIR/bench.log\nmail.* DIR/mail.log\nauthpriv.* DIR/secure\n"),
		Journal: j, Logger: slog.New(slog.DiscardHandler), Hostname: "host", Location: time.UTC})
	b.ReportAllocs()
	for b.Loop() {
		r.seen = 0
		if err := batch.Each(r.routeNew); err != nil {
			b.Fatal(err)
		}
		for _, f := range r.files {
			f.buf = f.buf[:0]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/msg")
}
