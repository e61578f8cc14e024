package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf captures a Receiver's diagnostics.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	return c
}

// TestGarbageAndBigDatagrams sends packets that are not syslog and a
// datagram of the largest UDP size: the garbage is kept as raw text with
// one diagnostic for all of it, the big one arrives whole.
func TestGarbageAndBigDatagrams(t *testing.T) {
	c, lb := newCollector(), &logBuf{}
	r := NewReceiver(c.handle, ReceiverOptions{Logger: lb.logger()})
	defer r.Close()
	udp := listenUDP(t, "127.0.0.1:0")
	serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	conn, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 20 {
		fmt.Fprintf(conn, "\x16\x03\x01 not syslog %d \xff\xfe", i)
		if g := c.next(t); g.m.Format != FormatRaw || !strings.Contains(string(g.m.Msg), fmt.Sprintf("not syslog %d", i)) {
			t.Fatalf("got %+v", g.m)
		}
	}
	big := append([]byte("<13>"), bytes.Repeat([]byte("x"), 65507-4)...)
	if _, err := conn.Write(big); err != nil {
		t.Fatal(err)
	}
	if g := c.next(t); len(g.m.Msg) != 65507-4 {
		t.Fatalf("the 64 KiB datagram arrived with %d bytes of message; want %d", len(g.m.Msg), 65507-4)
	}
	if n := lb.count("without a syslog header"); n != 1 {
		t.Errorf("%d diagnostics for 20 garbage packets; want 1:\n%s", n, lb.b.String())
	}
}

// TestWrongOctetCounts: a count the stream cannot hold ends that
// connection with one diagnostic; a count shorter than the message
// splits it; another connection is not disturbed.
func TestWrongOctetCounts(t *testing.T) {
	c, lb := newCollector(), &logBuf{}
	r := NewReceiver(c.handle, ReceiverOptions{Logger: lb.logger(), MaxMessageSize: 1024})
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	good, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	for range 2 {
		bad, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(bad, "99999999 <13>x: never")
		bad.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("a connection with an impossible count stays open: %v", err)
		}
		bad.Close()
	}
	fmt.Fprintf(good, "5 <13>abcdefgh\n")
	for _, want := range []string{"<13>a", "bcdefgh"} {
		if g := c.next(t); string(g.m.Msg) != want && !strings.HasSuffix(want, string(g.m.Msg)) {
			t.Errorf("got %q; want %q", g.m.Msg, want)
		}
	}
	good.Write(AppendOctetCounted(nil, []byte("<13>t: after")))
	if g := c.next(t); string(g.m.Msg) != "after" {
		t.Errorf("got %q; want the next frame", g.m.Msg)
	}
	if n := lb.count("frame too long"); n != 1 {
		t.Errorf("%d diagnostics for two bad connections from one source; want 1:\n%s", n, lb.b.String())
	}
}

// TestStalledTLSHandshake fills every connection slot with clients that
// never start their handshake: they are dropped after the handshake
// timeout with one diagnostic, and a real client is then served.
func TestStalledTLSHandshake(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	c, lb := newCollector(), &logBuf{}
	r := NewReceiver(c.handle, ReceiverOptions{Logger: lb.logger(), MaxConns: 3, HandshakeTimeout: 200 * time.Millisecond})
	defer r.Close()
	serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	for range 3 {
		stall, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer stall.Close()
		stall.Write([]byte{0x16, 0x03}) // the start of a record, never finished
		stall.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := io.Copy(io.Discard, stall); err != nil {
			t.Fatalf("the stalled client was not dropped: %v", err)
		}
	}
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	fmt.Fprintf(tc, "<13>app: over tls\n")
	if g := c.next(t); string(g.m.Msg) != "over tls" {
		t.Errorf("got %q", g.m.Msg)
	}
	if n := lb.count("TLS handshake failed"); n != 1 {
		t.Errorf("%d diagnostics for three stalled clients; want 1:\n%s", n, lb.b.String())
	}
}

// TestFloodDoesNotStarveOthers floods over UDP from 127.0.0.1 while
// another host (::1) sends over TCP: every message of the other host
// arrives, the flood is cut at the burst and reported once.
func TestFloodDoesNotStarveOthers(t *testing.T) {
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitBurst: 50, RateLimitInterval: time.Hour, Logger: quietLogger()})
	udp := listenUDP(t, "127.0.0.1:0")
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	stopUDP := serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	stopTCP := serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	flood, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	other, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const otherN = 40 // within its own burst: each source has its own
	for i := range 2000 {
		fmt.Fprintf(flood, "<13>flood: %d", i)
		if i%10 == 0 && i/10 < otherN {
			fmt.Fprintf(other, "<13>other: %d\n", i/10)
		}
	}
	got, flooded, reports := 0, 0, 0
	// The two sources are read by two goroutines: the flood's burst must
	// have passed, and its first suppressed datagram been counted, before
	// the receivers stop (on a busy machine the TCP source was done when
	// the UDP one had handed over 32).
	for got < otherN || flooded < 50 {
		g := c.next(t)
		switch g.m.AppName {
		case "other":
			got++
		case "flood":
			flooded++
		}
	}
	awaitSuppressed(t, r.lim)
	other.Close()
	stopTCP()
	stopUDP()
	r.Close()
	for {
		select {
		case g := <-c.ch:
			switch {
			case g.m.AppName == "flood":
				flooded++
			case g.m.MsgID == SuppressedMsgID:
				reports++
				if !strings.Contains(string(g.m.Msg), "from 127.0.0.1") {
					t.Errorf("report %q names the wrong source", g.m.Msg)
				}
			}
			continue
		default:
		}
		break
	}
	if flooded > 50 || reports != 1 {
		t.Errorf("%d flood messages passed (burst 50), %d suppression reports (want 1)", flooded, reports)
	}
}

// TestFlushAfterBurst sends a burst of frames in one write: the batching
// hook runs once the burst is handed over, not once per frame, and never
// before the last frame of what was waiting.
func TestFlushAfterBurst(t *testing.T) {
	var mu sync.Mutex
	var seen, flushes, seenAtFlush int
	all := make(chan struct{})
	r := NewReceiver(func(Message, Cred) { mu.Lock(); seen++; mu.Unlock() }, ReceiverOptions{
		Flush: func() {
			mu.Lock()
			defer mu.Unlock()
			flushes++
			if seenAtFlush != 200 && seen == 200 {
				close(all) // the deferred flush at the end may follow
			}
			seenAtFlush = seen
		}})
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var burst []byte
	for i := range 200 {
		burst = AppendOctetCounted(burst, fmt.Appendf(nil, "<13>t: %d", i))
	}
	c.Write(burst)
	c.Close()
	select {
	case <-all:
	case <-time.After(waitTimeout):
		t.Fatal("no flush after the last message")
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if seen != 200 || flushes > 20 {
		t.Errorf("%d messages, %d flushes, the last after %d messages; want 200, a few, 200", seen, flushes, seenAtFlush)
	}
}

// awaitSuppressed waits until lim has suppressed a message. The limiter
// signals nothing at its first suppression (a report comes only when the
// window ends or at close), so its counts are read until one shows.
func awaitSuppressed(t *testing.T, lim *limiter) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lim.mu.Lock()
		n := 0
		for _, b := range lim.buckets {
			n += b.suppressed
		}
		lim.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no message suppressed within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
