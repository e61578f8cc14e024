package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/syslog"
)

// parseForward turns --forward-syslog's URL (udp://host:514,
// tcp://host:514, tls://host:6514) into the forwarder's network and address.
func parseForward(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("--forward-syslog %q: want udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", s)
	}
	switch u.Scheme {
	case "udp", "tcp", "tls":
		return u.Scheme, u.Host, nil
	}
	return "", "", fmt.Errorf("--forward-syslog %q: unknown scheme %q (udp, tcp or tls)", s, u.Scheme)
}

// startForward runs the forwarder until ctx ends. Its cursor lives beside
// the journal, so a restart of tend resumes where the server left off.
func (d *daemon) startForward(ctx context.Context, wg *sync.WaitGroup) error {
	if d.cfg.Forward == "" {
		return nil
	}
	network, addr, err := parseForward(d.cfg.Forward)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	d.forward = syslog.NewForwarder(syslog.ForwardOptions{
		Network:   network,
		Address:   addr,
		Hostname:  host,
		StateFile: filepath.Join(d.cfg.Paths.Journal, "forward.cursor"),
		Source:    journalSource{j: d.journal},
		Logger:    d.log,
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.forward.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("syslog forwarding stopped", "to", d.cfg.Forward, "err", err)
		}
	}()
	return nil
}

// journalSource is the journal as the forwarder reads it.
type journalSource struct {
	j *journal.Journal
	// keep, when set, selects the entries to send (a syslog.conf rule).
	keep func(journal.Entry) bool
}

// Follow hands fn every entry after the cursor, then new ones as they come.
// Without a cursor (forwarding never ran) it starts with the entries
// written from now on rather than the whole history.
func (s journalSource) Follow(ctx context.Context, after string, fn func(syslog.Record) error) error {
	if after == "" {
		_ = s.j.Query(ctx, journal.Query{Lines: 1}, func(e journal.Entry) error {
			after = journal.FormatCursor(e)
			return nil
		})
	}
	q := journal.Query{AfterCursor: after}
	return s.j.Follow(ctx, q, func(e journal.Entry) error {
		if s.keep != nil && !s.keep(e) {
			return nil
		}
		return fn(syslogRecord(e))
	})
}

// syslogRecord is e as the forwarder sends it: a relayed message keeps
// its own host name and timestamp, every message its MSGID and SD.
func syslogRecord(e journal.Entry) syslog.Record {
	t := e.Realtime
	if !e.Origin.Time.IsZero() {
		t = e.Origin.Time
	}
	return syslog.Record{
		Cursor: journal.FormatCursor(e), Time: t, Hostname: e.Origin.Hostname, AppName: e.Identifier,
		PID: e.PID, Facility: e.Facility, Severity: e.Priority,
		MsgID: e.Origin.MsgID, StructuredData: e.Origin.StructuredData,
		Msg: bytes.Clone(e.Message), Unit: e.Unit,
	}
}
