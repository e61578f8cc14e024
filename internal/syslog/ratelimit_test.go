package syslog

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimiterWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10*time.Second, 3, 100, 64)
	a := sender{kind: byPID, id: 1}
	steps := []struct {
		at       time.Duration
		wantOK   bool
		wantReps string
	}{
		{0, true, ""}, {1 * time.Second, true, ""}, {2 * time.Second, true, ""},
		{3 * time.Second, false, ""}, {9 * time.Second, false, ""},
		// A new window: the two suppressed in the old one are reported.
		{10 * time.Second, true, "[{pid 1 2}]"},
		{11 * time.Second, true, ""},
		// A clock that steps back starts a new window too.
		{5 * time.Second, true, ""},
	}
	for i, s := range steps {
		ok, _, reps := l.allow(a, 0, t0.Add(s.at), nil)
		if ok != s.wantOK || repString(reps) != s.wantReps {
			t.Errorf("step %d at %v: ok %v reps %s; want %v %s", i, s.at, ok, repString(reps), s.wantOK, s.wantReps)
		}
	}
}

func repString(reps []suppression) string {
	if len(reps) == 0 {
		return ""
	}
	s := "["
	for i, r := range reps {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("{%v %d}", r.from, r.count)
	}
	return s + "]"
}

func TestLimiterUIDBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(time.Minute, 2, 3, 64)
	var got []bool
	for _, pid := range []int{10, 10, 10, 11, 11, 12} {
		ok, _, _ := l.allow(sender{kind: byPID, id: pid}, 1000, now, nil)
		got = append(got, ok)
	}
	// pid 10: 2 pass, 1 by pid limit; pid 11: 1 passes (uid budget 3
	// reached), 1 by uid; pid 12: by uid.
	if want := "[true true false true false false]"; fmt.Sprint(got) != want {
		t.Errorf("allowed %v; want %s", got, want)
	}
	if ok, _, _ := l.allow(sender{kind: byPID, id: 13}, 0, now, nil); !ok {
		t.Errorf("root's first message was refused")
	}
	reps := l.drain()
	counts := map[string]int{}
	for _, r := range reps {
		counts[r.from.String()] = r.count
	}
	if counts["pid 10"] != 1 || counts["uid 1000"] != 2 || len(counts) != 2 {
		t.Errorf("reports %v; want pid 10: 1, uid 1000: 2", counts)
	}
}

// TestLimiterBounded checks that memory stays bounded and that evicting a
// suppressing sender still reports its count.
func TestLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(time.Hour, 1, 10, 8)
	flooder := sender{kind: byAddr, addr: netip.MustParseAddr("192.0.2.1")}
	l.allow(flooder, -1, now, nil)
	l.allow(flooder, -1, now, nil) // suppressed
	var reps []suppression
	for i := range 100 {
		_, _, reps = l.allow(sender{kind: byPID, id: 1000 + i}, -1, now.Add(time.Duration(i+1)*time.Millisecond), reps)
		if len(l.buckets) > 8 {
			t.Fatalf("%d buckets; limit 8", len(l.buckets))
		}
	}
	if repString(reps) != "[{192.0.2.1 1}]" {
		t.Errorf("reports %s; want the flooder's one suppressed message", repString(reps))
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestReceiverTimerReports checks that a suppression is reported when its
// window ends even if the sender never sends again.
func TestReceiverTimerReports(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitInterval: 20 * time.Millisecond, RateLimitBurst: 1, Now: clock.Now})
	defer r.Close()
	from := sender{kind: byPID, id: 42}
	for range 4 {
		r.deliver([]byte("<13>x: y"), Cred{PID: 42, Known: true}, from, nil, r.opts.Now())
	}
	if g := c.next(t); string(g.m.Msg) != "y" {
		t.Fatalf("got %q; want the first message", g.m.Msg)
	}
	c.none(t)
	clock.Add(20 * time.Millisecond)
	if g := c.next(t); string(g.m.Msg) != "Suppressed 3 messages from pid 42" {
		t.Errorf("report %q", g.m.Msg)
	}
}

func BenchmarkReceiverDeliver(b *testing.B) {
	r := NewReceiver(func(Message, Cred) {}, ReceiverOptions{RateLimitBurst: -1})
	defer r.Close()
	pkt := []byte("<13>Nov 22 03:44:01 myservice[1234]: a typical log line of moderate length")
	b.SetBytes(int64(len(pkt)))
	var sc scratch
	for b.Loop() {
		r.deliver(pkt, Cred{PID: 1234, Known: true}, sender{kind: byPID, id: 1234}, &sc, testNow)
	}
}

func BenchmarkParse5424(b *testing.B) {
	pkt := []byte(`<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [ex@32473 a="b"] a typical log line`)
	for b.Loop() {
		if _, err := Parse(pkt, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiverDeliverRelayed is deliver for a relayed RFC 3164
// message with its host name, as bench/syslogsend writes them.
func BenchmarkReceiverDeliverRelayed(b *testing.B) {
	r := NewReceiver(func(Message, Cred) {}, ReceiverOptions{RateLimitBurst: -1, BorrowMsg: true})
	defer r.Close()
	pkt := []byte("<134>Dec  3 07:00:00 bench bench[4242]: seq-0000012345 " + strings.Repeat("x", 100))
	cred := Cred{Addr: netip.MustParseAddr("127.0.0.1"), AddrText: "127.0.0.1"}
	var sc scratch
	for b.Loop() {
		r.deliver(pkt, cred, sender{kind: byAddr}, &sc, testNow)
	}
}
