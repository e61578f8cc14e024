package syslog

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Cred is the sender of a /dev/log datagram as the kernel reports it
// (SCM_CREDENTIALS). Known is false for network messages and for the
// receiver's own suppression reports.
type Cred struct {
	PID, UID, GID int
	Known         bool
	// PIDFD is a pidfd of the sender (SCM_PIDFD, Linux 6.5), which stays
	// valid after the sender exited; 0 when the kernel sent none (a
	// received descriptor is never 0: Go keeps 0, 1 and 2 open). It is
	// open only while the Handler runs.
	PIDFD int
	// Again is set when the datagram read just before this one, in the
	// same recvmmsg, came from the same pid: then it is the same process
	// (a pid cannot be reused while both datagrams sat in the socket's
	// short queue), and a handler may reuse what it found for it.
	Again bool
	// Addr is the source address of a network message (UDP, TCP, TLS);
	// invalid for /dev/log. AddrText is its text form, made once per
	// connection (per run of datagrams from one source) rather than by
	// each handler for each message.
	Addr     netip.Addr
	AddrText string
}

// Handler receives each accepted message. m.Msg is the handler's to keep,
// unless ReceiverOptions.BorrowMsg lends it for the call only.
// It is called from the goroutine of each Serve method (concurrently when
// several run) and from the receiver's rate-limit timer, so it must be
// safe for concurrent use; a slow handler slows the sockets down rather
// than queueing without bound.
type Handler func(m Message, cred Cred)

// Defaults for ReceiverOptions, matching journald's rate limit.
const (
	DefaultRateLimitInterval = 30 * time.Second
	DefaultRateLimitBurst    = 10000
	DefaultMaxSenders        = 4096
	DefaultMaxMessageSize    = 64 << 10
	DefaultMaxConns          = 256
	DefaultHandshakeTimeout  = 10 * time.Second
)

// ReceiverOptions configure a Receiver; zero fields take the defaults.
type ReceiverOptions struct {
	// RateLimitInterval and RateLimitBurst bound the messages accepted per
	// sender (pid, or remote address) in each interval, like journald's
	// RateLimitIntervalSec= and RateLimitBurst=. A negative value of
	// either disables rate limiting.
	RateLimitInterval time.Duration
	RateLimitBurst    int
	// UIDRateLimitBurst bounds all processes of one non-root uid together
	// (default 4 × RateLimitBurst), so that forking does not escape the
	// limit. Root is exempt: its many services are limited per pid only.
	UIDRateLimitBurst int
	// MaxSenders bounds the rate-limit state kept (default 4096 senders).
	MaxSenders int
	// MaxMessageSize is the largest datagram or TCP frame accepted; longer
	// datagrams are truncated (default 64 KiB).
	MaxMessageSize int
	// MaxConns bounds concurrent TCP connections per ServeTCP (default 256).
	MaxConns int
	// HandshakeTimeout bounds a TLS client's handshake (default 10s): a
	// client that never finishes it must not hold a connection slot.
	HandshakeTimeout time.Duration
	// Flush, when set, is called whenever a serve loop has handed the
	// Handler every message that was waiting and is about to block, and
	// after suppression reports: a Handler that batches its writes
	// writes them then. Like the Handler it must be safe for concurrent
	// use.
	Flush func()
	// BorrowMsg lends each message's Msg to the Handler for its call
	// only (it points into the receive buffer, which the next read
	// overwrites): a Handler that copies what it keeps into memory of
	// its own spares the receiver a copy, and the garbage collector the
	// receiver's copies, of every message.
	BorrowMsg bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the receiver's own errors (default slog.Default()).
	Logger *slog.Logger
}

// Suppression reports are delivered to the Handler as a Message with this
// AppName and MsgID, facility syslog and severity warning, and a zero Cred.
const (
	SuppressedAppName = "tend"
	SuppressedMsgID   = "suppressed"
)

// Receiver accepts syslog messages from sockets, applies the rate limit
// and hands them to a Handler. Its Serve methods may run concurrently.
// Close must be called when all Serve calls have returned.
type Receiver struct {
	h    Handler
	opts ReceiverOptions
	lim  *limiter // nil when rate limiting is disabled
	log  *slog.Logger
	diag diags

	// mu guards timer, armed and closed.
	mu     sync.Mutex
	timer  *time.Timer
	armed  time.Time
	closed bool
	// timerWG joins the timer's callback.
	timerWG sync.WaitGroup
}

// NewReceiver returns a Receiver that hands messages to h.
func NewReceiver(h Handler, opts ReceiverOptions) *Receiver {
	o := opts
	if o.RateLimitInterval == 0 {
		o.RateLimitInterval = DefaultRateLimitInterval
	}
	if o.RateLimitBurst == 0 {
		o.RateLimitBurst = DefaultRateLimitBurst
	}
	if o.UIDRateLimitBurst <= 0 {
		o.UIDRateLimitBurst = 4 * o.RateLimitBurst
	}
	if o.MaxSenders < 2 {
		o.MaxSenders = DefaultMaxSenders
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Receiver{h: h, opts: o, log: o.Logger, diag: diags{log: o.Logger}}
	if o.RateLimitInterval > 0 && o.RateLimitBurst > 0 {
		r.lim = newLimiter(o.RateLimitInterval, o.RateLimitBurst, o.UIDRateLimitBurst, o.MaxSenders)
	}
	return r
}

// Close stops the rate-limit timer and reports every outstanding count of
// suppressed messages, so that none goes unreported.
func (r *Receiver) Close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil && r.timer.Stop() {
		r.timerWG.Done()
	}
	r.mu.Unlock()
	r.timerWG.Wait()
	if r.lim != nil {
		r.report(r.lim.drain())
	}
}

// deliver rate-limits, parses and hands on one packet received at now
// (the time of the read that brought it: one clock reading per read, not
// per message). pkt is copied, into sc's slab.
func (r *Receiver) deliver(pkt []byte, cred Cred, from sender, sc *scratch, now time.Time) {
	if r.lim != nil {
		uid := -1
		if cred.Known {
			uid = cred.UID
		}
		ok, armAt, reps := r.lim.allow(from, uid, now, nil)
		r.report(reps)
		if !armAt.IsZero() {
			r.arm(armAt, now)
		}
		if !ok {
			return
		}
	}
	if !r.opts.BorrowMsg {
		pkt = sc.clone(pkt)
	}
	m, err := parse(pkt, now, sc)
	if err != nil {
		return // nothing but whitespace: nothing to keep
	}
	if m.Format == FormatRaw && cred.Addr.IsValid() {
		// Kept (nothing is dropped for not parsing), but said once: a
		// misconfigured sender, or not a syslog sender at all.
		r.diag.once("raw", cred.Addr.String(), "syslog: a message without a syslog header from this source; kept as raw text (reported once per source)")
	}
	r.h(m, cred)
}

// report hands suppression counts to the handler, like journald's
// "Suppressed N messages from ..." entries.
func (r *Receiver) report(reps []suppression) {
	if len(reps) == 0 {
		return
	}
	defer r.flush()
	for _, s := range reps {
		r.h(Message{
			Facility: 5, Severity: 4, Time: r.opts.Now(),
			AppName: SuppressedAppName, MsgID: SuppressedMsgID, Format: FormatRaw,
			Msg: fmt.Appendf(nil, "Suppressed %d messages from %s", s.count, s.from),
		}, Cred{})
	}
}

// arm makes sure the rate-limit timer fires by at. It runs only while some
// sender is being suppressed, so an idle receiver has no timer.
func (r *Receiver) arm(at, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || (!r.armed.IsZero() && !at.Before(r.armed)) {
		return
	}
	if r.timer != nil && r.timer.Stop() {
		r.timerWG.Done()
	}
	r.armed = at
	r.timerWG.Add(1)
	r.timer = time.AfterFunc(at.Sub(now), r.expire)
}

// expire is the timer callback: it reports ended windows and re-arms for
// the next one.
func (r *Receiver) expire() {
	defer r.timerWG.Done()
	r.mu.Lock()
	r.armed = time.Time{}
	r.mu.Unlock()
	now := r.opts.Now()
	next, reps := r.lim.expire(now)
	r.report(reps)
	if !next.IsZero() {
		r.arm(next, now)
	}
}

// flush tells a batching Handler that nothing more is waiting.
func (r *Receiver) flush() {
	if r.opts.Flush != nil {
		r.opts.Flush()
	}
}
