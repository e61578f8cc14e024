package syslog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// memSource is an in-memory journal: cursors are "c-<index>".
type memSource struct {
	// mu guards recs and changed.
	mu      sync.Mutex
	recs    []Record
	changed chan struct{} // closed and replaced by every append
}

func newMemSource() *memSource { return &memSource{changed: make(chan struct{})} }

var recTime = time.Date(2026, 11, 22, 4, 0, 0, 123456789, time.UTC)

// add appends records whose messages are msg-<from> .. msg-<to>.
func (s *memSource) add(from, to int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from; i <= to; i++ {
		s.recs = append(s.recs, Record{
			Cursor: "c-" + strconv.Itoa(len(s.recs)), Time: recTime.Add(time.Duration(i) * time.Second),
			AppName: "app", PID: 1000 + i, Facility: 3, Severity: 6,
			Msg: []byte(fmt.Sprintf("msg-%d", i)), Unit: "demo.service",
		})
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSource) Follow(ctx context.Context, after string, fn func(Record) error) error {
	i := 0
	if after != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(after, "c-"))
		if err != nil {
			return fmt.Errorf("bad cursor %q", after)
		}
		i = n + 1
	}
	for {
		s.mu.Lock()
		recs, changed := s.recs[min(i, len(s.recs)):], s.changed
		s.mu.Unlock()
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
			i++
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
			}
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// runForwarder starts a Forwarder's Run; stop cancels and joins it.
func runForwarder(t *testing.T, opts ForwardOptions) (f *Forwarder, stop func()) {
	t.Helper()
	opts.MinBackoff, opts.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
	opts.Logger = quietLogger()
	f = NewForwarder(opts)
	return f, serve(t, f.Run)
}

// expectMsgs waits for msg-<from> .. msg-<to>, in order, and nothing else.
func expectMsgs(t *testing.T, c *collector, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		g := c.next(t)
		if want := fmt.Sprintf("msg-%d", i); string(g.m.Msg) != want {
			t.Fatalf("got %q; want %q", g.m.Msg, want)
		}
	}
}

func tcpServer(t *testing.T, c *collector, addr string) (stop func(), listenAddr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReceiver(c.handle, ReceiverOptions{})
	t.Cleanup(r.Close)
	return serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) }), ln.Addr().String()
}

func TestForwarderFormat(t *testing.T) {
	c := newCollector()
	_, addr := tcpServer(t, c, "127.0.0.1:0")
	src := newMemSource()
	src.add(1, 1)
	runForwarder(t, ForwardOptions{Network: "tcp", Address: addr, Hostname: "testhost", Source: src, SDID: "origin@32473"})
	g := c.next(t)
	want := Message{Facility: 3, Severity: 6, Time: recTime.Add(time.Second).Truncate(time.Microsecond),
		Hostname: "testhost", AppName: "app", ProcID: "1001", StructuredData: `[origin@32473 unit="demo.service"]`,
		Msg: []byte("msg-1"), Format: FormatRFC5424}
	if !sameMessage(g.m, want) {
		t.Errorf("got %+v\nwant %+v", g.m, want)
	}
}

// TestForwarderKeepsMsgIDAndSD checks that a relayed RFC 5424 message
// keeps its MSGID, structured data and host name, the unit's SD element
// added after the sender's; SD that is not valid is not sent.
func TestForwarderKeepsMsgIDAndSD(t *testing.T) {
	f := NewForwarder(ForwardOptions{Network: "tcp", Hostname: "relay", SDID: "origin@32473"})
	sd := `[exampleSDID@32473 iut="3" eventSource="App\]"]`
	r := Record{Cursor: "c", Time: recTime, Hostname: "web7", AppName: "app", Facility: 1, Severity: 5,
		MsgID: "ID47", StructuredData: sd, Msg: []byte("hi"), Unit: "u.service"}
	got, err := Parse(f.format(nil, r), recTime)
	want := Message{Facility: 1, Severity: 5, Time: recTime.Truncate(time.Microsecond), Hostname: "web7",
		AppName: "app", MsgID: "ID47", StructuredData: sd + `[origin@32473 unit="u.service"]`,
		Msg: []byte("hi"), Format: FormatRFC5424}
	if err != nil || !sameMessage(got, want) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, want)
	}
	r.StructuredData, r.Unit = "[broken", ""
	if got, _ := Parse(f.format(nil, r), recTime); got.StructuredData != "" || got.Format != FormatRFC5424 {
		t.Errorf("invalid SD sent on: %+v", got)
	}
}

// TestForwarderTCPReconnect stops the server, writes more, starts it
// again and restarts the forwarder: every record arrives exactly once.
func TestForwarderTCPReconnect(t *testing.T) {
	c := newCollector()
	stopServer, addr := tcpServer(t, c, "127.0.0.1:0")
	src := newMemSource()
	state := filepath.Join(t.TempDir(), "forward.cursor")
	opts := ForwardOptions{Network: "tcp", Address: addr, StateFile: state, Source: src}
	_, stopFwd := runForwarder(t, opts)
	src.add(1, 5)
	expectMsgs(t, c, 1, 5)

	stopServer()
	src.add(6, 10)
	tcpServer(t, c, addr)
	expectMsgs(t, c, 6, 10)
	// A duplicate would be delivered before this one.
	src.add(11, 11)
	expectMsgs(t, c, 11, 11)

	stopFwd()
	if b, err := os.ReadFile(state); err != nil || strings.TrimSpace(string(b)) != "c-10" {
		t.Fatalf("state file %q, %v; want cursor c-10", b, err)
	}
	src.add(12, 13)
	runForwarder(t, opts)
	expectMsgs(t, c, 12, 13)
	c.none(t)
}

func TestForwarderUDP(t *testing.T) {
	c := newCollector()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	serve(t, func(ctx context.Context) error { return r.ServeUDP(ctx, udp) })
	src := newMemSource()
	runForwarder(t, ForwardOptions{Network: "udp", Address: udp.LocalAddr().String(), Source: src})
	src.add(1, 3)
	expectMsgs(t, c, 1, 3)
}

func TestForwarderTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	serve(t, func(ctx context.Context) error { return r.ServeTCP(ctx, ln) })
	src := newMemSource()
	f, stop := runForwarder(t, ForwardOptions{Network: "tls", Address: ln.Addr().String(), Source: src,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	src.add(1, 3)
	expectMsgs(t, c, 1, 3)

	// FDs names the TCP socket under the TLS layer while connected.
	fds := f.FDs()
	if len(fds) != 1 {
		t.Fatalf("FDs() = %v; want the connection", fds)
	}
	for fd, role := range fds {
		sa, err := unix.Getpeername(fd)
		if in, ok := sa.(*unix.SockaddrInet4); err != nil || !ok || in.Port != ln.Addr().(*net.TCPAddr).Port {
			t.Errorf("fd %d is connected to %+v (%v); want %s", fd, sa, err, ln.Addr())
		}
		if want := "syslog forwarding to tls://" + ln.Addr().String(); role != want {
			t.Errorf("role %q; want %q", role, want)
		}
	}
	stop()
	if fds := f.FDs(); len(fds) != 0 {
		t.Errorf("stopped forwarder lists %v", fds)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestForwarderOptionsErrors(t *testing.T) {
	for _, o := range []ForwardOptions{{Network: "tcp"}, {Network: "sctp", Source: newMemSource()}} {
		if err := NewForwarder(o).Run(context.Background()); err == nil {
			t.Errorf("Run with %+v: no error", o)
		}
	}
}

// TestForwarderRsyslog forwards to a real rsyslogd, kills it, writes more
// and starts it again: its output file holds every record exactly once.
func TestForwarderRsyslog(t *testing.T) {
	port := freePort(t)
	rs := newRsyslogd(t, "")
	out := filepath.Join(rs.dir, "out.log")
	if err := os.WriteFile(rs.conf, []byte(`global(workDirectory="`+rs.dir+`")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="`+port+`")
template(name="t" type="string" string="%app-name% %procid% %msg%\n")
*.* action(type="omfile" file="`+out+`" template="t")
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rs.start()
	waitTCP(t, "127.0.0.1:"+port)
	src := newMemSource()
	runForwarder(t, ForwardOptions{Network: "tcp", Address: "127.0.0.1:" + port, Source: src,
		StateFile: filepath.Join(rs.dir, "cursor")})
	src.add(1, 5)
	waitFile(t, out, linesAtLeast(5))
	rs.stop()
	src.add(6, 10)
	rs.start()
	waitFile(t, out, linesAtLeast(10))
	src.add(11, 11) // a duplicate would be written before this one
	b := waitFile(t, out, linesAtLeast(11))
	var want []string
	for i := 1; i <= 11; i++ {
		want = append(want, fmt.Sprintf("app %d msg-%d", 1000+i, i))
	}
	if got := strings.TrimSpace(string(b)); got != strings.Join(want, "\n") {
		t.Errorf("rsyslog wrote:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func linesAtLeast(n int) func([]byte) bool {
	return func(b []byte) bool { return strings.Count(string(b), "\n") >= n }
}

func BenchmarkForwarderFormat(b *testing.B) {
	f := NewForwarder(ForwardOptions{Network: "tcp", Hostname: "host", SDID: "origin@32473"})
	r := Record{Cursor: "c-1", Time: recTime, AppName: "nginx", PID: 1234, Facility: 3, Severity: 6,
		Msg: []byte("GET /index.html 200 1234 bytes in 0.001s"), Unit: "nginx.service"}
	var buf []byte
	for b.Loop() {
		buf = f.format(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}
