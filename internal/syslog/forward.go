package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tendproject/tend/internal/fdrole"
)

// Record is one journal entry as the Forwarder needs it.
type Record struct {
	// Cursor identifies the entry in the Source; it is what the
	// Forwarder persists and passes back to Follow. It must not be empty.
	Cursor             string
	Time               time.Time
	Hostname, AppName  string
	PID                int
	Facility, Severity int
	// MsgID and StructuredData are sent on as received (RFC 5424).
	MsgID, StructuredData string
	Msg                   []byte
	Unit                  string
}

// Source is the journal as the Forwarder reads it; the daemon adapts
// internal/journal to it.
type Source interface {
	// Follow calls fn for every entry after afterCursor ("" means from the
	// start of what the Source keeps), in order, then waits for new ones
	// until ctx is done or fn returns an error, which Follow returns. It
	// returns ctx.Err() when ctx ends.
	Follow(ctx context.Context, afterCursor string, fn func(Record) error) error
}

// ForwardOptions configure a Forwarder.
type ForwardOptions struct {
	// Network is "udp", "tcp" or "tls"; Address is host:port.
	Network, Address string
	// TLSConfig is used for "tls"; nil means the system roots and the
	// host part of Address as server name.
	TLSConfig *tls.Config
	// Hostname is sent for records without one.
	Hostname string
	// StateFile keeps the cursor of the last record handed to the server,
	// so that a restart resumes after it. Empty: start from the Source's
	// beginning on every Run and persist nothing.
	StateFile string
	// Backlog bounds how many records are queued between the Source and
	// the connection (default 1024); a slow server holds the Source back.
	Backlog int
	// MaxMessageSize bounds one formatted message; longer ones are cut at
	// a UTF-8 boundary (default 8192, rsyslog's default limit).
	MaxMessageSize int
	// SDID, if set (for example "origin@<your PEN>"), adds
	// [SDID unit="..."] structured data carrying the unit name.
	SDID string
	// MinBackoff and MaxBackoff bound the delay between reconnection
	// attempts (defaults 200ms and 30s); it doubles after each failure.
	MinBackoff, MaxBackoff time.Duration
	Source                 Source
	Logger                 *slog.Logger
}

// Forwarder sends journal records to a remote syslog server in RFC 5424
// format, octet-counted on TCP and TLS (RFC 6587), one record per datagram
// on UDP (RFC 5426). See Run for the delivery guarantees.
type Forwarder struct {
	opts ForwardOptions
	log  *slog.Logger

	mu   sync.Mutex // guards conn
	conn net.Conn   // the connection to the server, nil between sessions
}

// fatalError marks a failure of the Source or of the state file, which
// ends Run; connection errors only lead to a reconnect.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// NewForwarder returns a Forwarder; Run starts it.
func NewForwarder(opts ForwardOptions) *Forwarder {
	o := opts
	if o.Backlog <= 0 {
		o.Backlog = 1024
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 8192
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Forwarder{opts: o, log: o.Logger}
}

// Run forwards records until ctx is done (then it returns nil) or the
// Source fails. While the server is unreachable it retries with
// exponential backoff, and the unsent records wait in the journal.
//
// After each batch has been written (and, on TCP/TLS, flushed to the
// kernel) the last cursor is saved atomically. A restart therefore
// resumes after it: nothing is sent twice unless tend dies between the
// write and the save (at-least-once for that batch). Plain syslog has no
// application-level acknowledgement, so a batch the kernel accepted but
// the server never read because it died at that moment is lost
// (at-most-once for that window). Before each batch the connection is
// checked for a close by the server, which closes the window for servers
// that stopped or restarted between batches. UDP is at-most-once.
func (f *Forwarder) Run(ctx context.Context) error {
	if f.opts.Source == nil {
		return errors.New("syslog forward: no source")
	}
	switch f.opts.Network {
	case "udp", "tcp", "tls":
	default:
		return fmt.Errorf("syslog forward: unknown network %q (want udp, tcp or tls)", f.opts.Network)
	}
	cursor, err := loadCursor(f.opts.StateFile)
	if err != nil {
		return err
	}
	backoff, failing := f.opts.MinBackoff, false
	for {
		conn, err := f.dial(ctx)
		if err == nil {
			if failing {
				f.log.Info("syslog forward: connected again", "address", f.opts.Address)
			}
			var sent bool
			f.setConn(conn)
			sent, err = f.session(ctx, conn, &cursor)
			f.setConn(nil)
			conn.Close()
			if sent {
				backoff, failing = f.opts.MinBackoff, false
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		var fe fatalError
		if errors.As(err, &fe) {
			return fe.err
		}
		// Log the first failure loudly, not every retry of a long outage.
		level := slog.LevelDebug
		if !failing {
			level, failing = slog.LevelWarn, true
		}
		f.log.Log(ctx, level, "syslog forward: server unavailable, retrying",
			"address", f.opts.Address, "in", backoff, "err", err)
		if !sleepCtx(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, f.opts.MaxBackoff)
	}
}

func (f *Forwarder) setConn(c net.Conn) {
	f.mu.Lock()
	f.conn = c
	f.mu.Unlock()
}

// FDs names the connection to the server while there is one, for
// `tend fds`.
func (f *Forwarder) FDs() map[int]string {
	r := fdrole.Roles{}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if sc, ok := c.(syscall.Conn); ok {
		r.Add(sc, "syslog forwarding to "+f.opts.Network+"://"+f.opts.Address)
	}
	return r
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *Forwarder) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	switch f.opts.Network {
	case "tls":
		cfg := f.opts.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		td := tls.Dialer{NetDialer: &d, Config: cfg}
		return td.DialContext(ctx, "tcp", f.opts.Address)
	default:
		return d.DialContext(ctx, f.opts.Network, f.opts.Address)
	}
}

// session forwards over one connection until it fails or ctx ends. It
// reports whether at least one batch went out.
func (f *Forwarder) session(ctx context.Context, conn net.Conn, cursor *string) (sent bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	queue := make(chan Record, f.opts.Backlog)
	followed := make(chan error, 1)
	from := *cursor
	go func() {
		defer close(queue)
		followed <- f.opts.Source.Follow(sctx, from, func(r Record) error {
			select {
			case queue <- r:
				return nil
			case <-sctx.Done():
				return sctx.Err()
			}
		})
	}()
	defer func() {
		cancel()
		for range queue { // let Follow return, then join it
		}
	}()
	w := newConnWriter(conn, f.opts.Network)
	defer w.stop()
	// A write blocked on a server that stopped reading ends with ctx.
	defer closeOnDone(ctx, conn)()
	var batch []Record
	var buf []byte
	for {
		batch = batch[:0]
		var r Record
		var ok bool
		select {
		case r, ok = <-queue:
		case <-w.closed:
			return sent, errPeerClosed
		}
		if !ok {
			err := <-followed
			if ctx.Err() != nil {
				return sent, nil
			}
			if err == nil {
				err = errors.New("source stopped following")
			}
			return sent, fatalError{fmt.Errorf("syslog forward: read journal: %w", err)}
		}
		batch = append(batch, r)
		batch = drainQueue(queue, batch, f.opts.Backlog)
		if err := f.send(w, batch, &buf); err != nil {
			return sent, err
		}
		last := batch[len(batch)-1].Cursor
		if err := saveCursor(f.opts.StateFile, last); err != nil {
			return sent, fatalError{err}
		}
		*cursor, sent = last, true
	}
}

// send writes one batch. A server that accepts nothing for writeTimeout is
// treated as gone; the deadline is cleared afterwards so that an idle
// connection arms no timer.
func (f *Forwarder) send(w *connWriter, batch []Record, buf *[]byte) error {
	if err := w.alive(); err != nil {
		return err
	}
	if err := w.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	for _, r := range batch {
		*buf = f.format((*buf)[:0], r)
		if err := w.write(*buf); err != nil {
			return err
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	// The batch is out; a connection closed meanwhile shows up next time.
	_ = w.conn.SetWriteDeadline(time.Time{})
	return nil
}

// writeTimeout bounds how long one batch may wait for the server.
const writeTimeout = time.Minute

// drainQueue appends what is already queued, up to limit records, so that
// a busy journal is sent in batches with one flush and one cursor save.
func drainQueue(q <-chan Record, batch []Record, limit int) []Record {
	for len(batch) < limit {
		select {
		case r, ok := <-q:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// format renders r as an RFC 5424 message, sanitizing the header fields.
func (f *Forwarder) format(dst []byte, r Record) []byte {
	host := r.Hostname
	if host == "" {
		host = f.opts.Hostname
	}
	m := Message{
		Facility: clamp(r.Facility, 23, DefaultFacility), Severity: clamp(r.Severity, 7, DefaultSeverity),
		Time:     r.Time.UTC().Truncate(time.Microsecond),
		Hostname: headerField(host, 255), AppName: headerField(r.AppName, 48),
		MsgID: headerField(r.MsgID, 32), Msg: r.Msg,
	}
	if r.PID > 0 {
		m.ProcID = strconv.Itoa(r.PID)
	}
	if n, ok := structuredDataLen([]byte(r.StructuredData)); ok && n == len(r.StructuredData) && r.StructuredData != "-" {
		m.StructuredData = r.StructuredData
	}
	if f.opts.SDID != "" && r.Unit != "" {
		m.StructuredData += "[" + headerField(f.opts.SDID, 32) + ` unit="` + sdEscape(r.Unit) + `"]`
	}
	start := len(dst)
	dst = Append5424(dst, m)
	if len(dst)-start > f.opts.MaxMessageSize {
		cut := start + f.opts.MaxMessageSize
		for cut > start && !utf8.RuneStart(dst[cut]) {
			cut--
		}
		dst = dst[:cut]
	}
	return dst
}

// clamp returns v if it is in 0..hi, else def.
func clamp(v, hi, def int) int {
	if v < 0 || v > hi {
		return def
	}
	return v
}

// headerField makes s a valid RFC 5424 header field: printable US-ASCII
// without spaces, at most n bytes; "" stays "" (NILVALUE).
func headerField(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), n)])
}

// sdEscape escapes a PARAM-VALUE: '"', '\' and ']' get a backslash.
func sdEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c == ']' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// connWriter writes messages to one connection with the framing of its
// network and notices when a stream server closed its end.
type connWriter struct {
	conn   net.Conn
	stream bool
	bw     *bufio.Writer
	// closed is closed by the reader goroutine when the server ends the
	// connection; syslog servers never send data, so any read result
	// means the connection is done.
	closed chan struct{}
	done   chan struct{}
}

func newConnWriter(conn net.Conn, network string) *connWriter {
	w := &connWriter{conn: conn, stream: network != "udp", closed: make(chan struct{}), done: make(chan struct{})}
	if !w.stream {
		close(w.done)
		return w
	}
	w.bw = bufio.NewWriterSize(conn, 64<<10)
	go func() {
		defer close(w.done)
		var b [512]byte
		for {
			// TLS may deliver session tickets as data; only an error ends.
			if _, err := conn.Read(b[:]); err != nil {
				close(w.closed)
				return
			}
		}
	}()
	return w
}

// alive reports an error when the server has closed the connection, so
// that a batch is not written into a connection that can only lose it.
func (w *connWriter) alive() error {
	if !w.stream {
		return nil
	}
	if err := peerClosed(w.conn); err != nil {
		return err
	}
	select {
	case <-w.closed:
		return errPeerClosed
	default:
		return nil
	}
}

func (w *connWriter) write(msg []byte) error {
	if !w.stream {
		_, err := w.conn.Write(msg)
		return err
	}
	if _, err := w.bw.WriteString(strconv.Itoa(len(msg))); err != nil {
		return err
	}
	if err := w.bw.WriteByte(' '); err != nil {
		return err
	}
	_, err := w.bw.Write(msg)
	return err
}

func (w *connWriter) flush() error {
	if !w.stream {
		return nil
	}
	return w.bw.Flush()
}

// stop closes the connection and joins the reader goroutine.
func (w *connWriter) stop() {
	w.conn.Close()
	<-w.done
}
