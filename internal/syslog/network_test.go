package syslog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServeTCPFraming(t *testing.T) {
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := "<13>1 - h app - - - two\nlines"
	fmt.Fprintf(conn, "%d %s<13>Nov 22 03:44:01 h t: lf framed\n", len(msg), msg)
	for _, want := range []string{"two\nlines", "lf framed"} {
		if g := c.next(t); string(g.m.Msg) != want || g.cred.Known {
			t.Errorf("got %q (%+v); want %q", g.m.Msg, g.cred, want)
		}
	}
}

// TestServeTCPStopsConnections checks that ending ServeTCP ends open
// connections too, so no goroutine outlives it.
func TestServeTCPStopsConnections(t *testing.T) {
	r := NewReceiver(func(Message, Cred) {}, ReceiverOptions{})
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "<13>x: partial")
	stop() // returns only after the connection goroutine joined
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after ServeTCP returned")
	}
}

// TestRsyslogForwardsToUs runs rsyslogd with a TCP input and three
// forwarding actions pointing at our UDP and TCP (LF and octet-counted)
// listeners, and sends it one message with logger.
func TestRsyslogForwardsToUs(t *testing.T) {
	needCommand(t, "logger")
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, tcp) })
	in := freePort(t)
	_, udpPort, _ := net.SplitHostPort(udp.LocalAddr().String())
	_, tcpPort, _ := net.SplitHostPort(tcp.Addr().String())
	rs := newRsyslogd(t, `module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="`+in+`")
*.* action(type="omfwd" target="127.0.0.1" port="`+udpPort+`" protocol="udp")
*.* action(type="omfwd" target="127.0.0.1" port="`+tcpPort+`" protocol="tcp" template="RSYSLOG_SyslogProtocol23Format")
*.* action(type="omfwd" target="127.0.0.1" port="`+tcpPort+`" protocol="tcp" tcp_framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
`)
	rs.start()
	waitTCP(t, "127.0.0.1:"+in)
	run(t, "logger", "-T", "--octet-count", "-n", "127.0.0.1", "-P", in, "--rfc5424", "-p", "local3.err", "-t", "viarsyslog", "hello through rsyslog")
	formats := map[string]int{}
	for range 3 {
		g := c.next(t)
		if g.m.AppName != "viarsyslog" || g.m.Facility != 19 || g.m.Severity != 3 ||
			strings.TrimSpace(string(g.m.Msg)) != "hello through rsyslog" {
			t.Errorf("got %+v (msg %q)", g.m, g.m.Msg)
		}
		formats[g.m.Format]++
	}
	if formats[FormatRFC3164] != 1 || formats[FormatRFC5424] != 2 {
		t.Errorf("formats %v; want one rfc3164 (UDP) and two rfc5424 (TCP)", formats)
	}
}

// TestBorrowMsg sends many messages over TCP (frames cut across reads,
// several per read) and UDP (several per recvmmsg) to a receiver that
// lends each message for the Handler's call only: a Handler that copies
// during the call gets every message whole, and one that keeps the loan
// sees it overwritten by later reads, as the option says.
func TestBorrowMsg(t *testing.T) {
	const n = 2000
	type kept struct{ copied, lent []byte }
	ch := make(chan kept, n)
	r := NewReceiver(func(m Message, _ Cred) {
		ch <- kept{copied: bytes.Clone(m.Msg), lent: m.Msg}
	}, ReceiverOptions{RateLimitBurst: -1, BorrowMsg: true})
	defer r.Close()
	msg := func(i int) string { return fmt.Sprintf("message %06d %s", i, strings.Repeat("x", i%200)) }
	check := func(t *testing.T, send func(i int)) {
		for i := range n {
			send(i)
		}
		overwritten := 0
		for i := range n {
			var k kept
			select {
			case k = <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("%d of %d messages arrived", i, n)
			}
			if want := msg(i); string(k.copied) != want {
				t.Fatalf("message %d: %q, want %q", i, k.copied, want)
			}
			if string(k.lent) != string(k.copied) {
				overwritten++
			}
		}
		if overwritten == 0 {
			t.Errorf("no lent message was overwritten: the receiver copied them")
		}
	}
	t.Run("tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		w := bufio.NewWriterSize(conn, 4096)
		check(t, func(i int) {
			fmt.Fprintf(w, "<13>Nov 22 03:44:01 h t: %s\n", msg(i))
			if i == n-1 {
				w.Flush()
			}
		})
	})
	t.Run("udp", func(t *testing.T) {
		pc, err := ListenUDP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, pc) })()
		conn, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		check(t, func(i int) { fmt.Fprintf(conn, "<13>Nov 22 03:44:01 h t: %s", msg(i)) })
	})
}
