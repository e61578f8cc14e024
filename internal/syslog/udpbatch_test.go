package syslog

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
)

// queueUDP sends each of msgs to dst from the local address of its
// source, before anyone reads dst: the datagrams wait in its queue
// together, so that the receiver takes several per recvmmsg.
func queueUDP(t *testing.T, dst *net.UDPConn, srcs []string, msgs []string, from []int) {
	t.Helper()
	conns := make([]*net.UDPConn, len(srcs))
	for i, s := range srcs {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(s)}, dst.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Skipf("cannot send from %s: %v", s, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, m := range msgs {
		if _, err := conns[from[i]].Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUDPBurstAcrossBatches queues more datagrams than one batch reads,
// from two source addresses in alternating runs: every one arrives, in
// order, with the address it came from.
func TestUDPBurstAcrossBatches(t *testing.T) {
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitBurst: -1, BorrowMsg: false})
	defer r.Close()
	udp, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srcs := []string{"127.0.0.2", "127.0.0.3"}
	n := 3*batchSize + 5
	msgs, from := make([]string, n), make([]int, n)
	for i := range n {
		from[i] = i / 3 % 2 // runs of three from each source
		msgs[i] = fmt.Sprintf("<14>Dec  3 04:00:00 h app: burst %d", i)
	}
	queueUDP(t, udp, srcs, msgs, from)
	serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	for i := range n {
		g := c.next(t)
		want := fmt.Sprintf("burst %d", i)
		if string(g.m.Msg) != want || g.cred.Addr.String() != srcs[from[i]] || g.cred.AddrText != srcs[from[i]] {
			t.Fatalf("message %d: %q from %v (%q); want %q from %s", i, g.m.Msg, g.cred.Addr, g.cred.AddrText, want, srcs[from[i]])
		}
	}
	c.none(t)
}

// TestUDPOversizedInBatch: datagrams longer than MaxMessageSize among
// others in the same batch are cut to the limit and said once per source;
// the datagrams around them arrive whole.
func TestUDPOversizedInBatch(t *testing.T) {
	const limit = 64
	c, lb := newCollector(), &logBuf{}
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitBurst: -1, MaxMessageSize: limit, Logger: lb.logger()})
	defer r.Close()
	udp, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	big := "<14>" + strings.Repeat("x", 3*limit)
	var msgs []string
	for i := range 10 {
		msgs = append(msgs, fmt.Sprintf("<14>small %d", i))
		if i%3 == 1 {
			msgs = append(msgs, big)
		}
	}
	queueUDP(t, udp, []string{"127.0.0.1"}, msgs, make([]int, len(msgs)))
	serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	for _, m := range msgs {
		g := c.next(t)
		want := []byte(m[4:])
		if m == big {
			want = []byte(big[4:limit])
		}
		if !bytes.Equal(g.m.Msg, want) {
			t.Fatalf("got %q; want %q", g.m.Msg, want)
		}
	}
	c.none(t)
	if n := lb.count("longer than the limit"); n != 1 {
		t.Errorf("%d diagnostics for 3 oversized datagrams from one source; want 1:\n%s", n, lb.b.String())
	}
}
