package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
)

// BenchmarkStatus measures one status round trip over the unix socket.
func BenchmarkStatus(b *testing.B) {
	c := client.New(serveB(b, testUnits()))
	defer c.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Status(ctx, "web.service"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogStream measures streaming log entries to a client.
func BenchmarkLogStream(b *testing.B) {
	f := testUnits()
	for i := range 10000 {
		f.Entries = append(f.Entries, api.LogEntry{Cursor: fmt.Sprint(i), Unit: "web.service", Message: "GET / HTTP/1.1 200 1234 bytes"})
	}
	c := client.New(serveB(b, f))
	defer c.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := c.LogsFunc(ctx, api.LogQuery{}, func(api.LogEntry) error { n++; return nil }); err != nil || n != 10000 {
			b.Fatalf("got %d entries, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "entries/s")
}

func serveB(b *testing.B, m api.Manager) string {
	sock := b.TempDir() + "/tend.sock"
	l, err := api.Listen(sock, 0o666)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(m, api.Options{}).Serve(ctx, l) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return sock
}
