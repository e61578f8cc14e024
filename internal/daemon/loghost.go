package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/fdrole"
	"github.com/tendproject/tend/internal/syslog"
)

// LogHost configures tend as a LOGHOST: syslog listeners on the network
// whose messages go into the journal with their sender's host name.
type LogHost struct {
	// Listen are udp://, tcp:// and tls://ADDR:PORT URLs.
	Listen []string
	// TLSCert and TLSKey are the server's certificate and key for tls://
	// listeners; TLSClientCA, when set, makes a client certificate signed
	// by one of its CAs mandatory.
	TLSCert, TLSKey, TLSClientCA string
	// RateLimit is "BURST/INTERVAL" per source address ("10000/30s"),
	// "0" for none, "" for the default.
	RateLimit string
}

// netListener is one bound --syslog-listen socket.
type netListener struct {
	url  string
	udp  *net.UDPConn
	tcp  net.Listener
	raw  syscall.Conn // the bound socket, for `tend fds`
	role string
}

// listenLogHost binds every --syslog-listen URL; any failure is fatal, as
// a LOGHOST that silently does not listen loses every message sent to it.
func (d *daemon) listenLogHost() error {
	lh := d.cfg.LogHost
	opts, err := d.receiverOptions()
	if err != nil || len(lh.Listen) == 0 {
		return err
	}
	var tlsCfg *tls.Config
	for _, raw := range lh.Listen {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--syslog-listen %q: want udp://ADDR:PORT, tcp://ADDR:PORT or tls://ADDR:PORT", raw)
		}
		l := netListener{url: raw, role: "syslog listener " + raw}
		switch u.Scheme {
		case "udp":
			if l.udp, err = syslog.ListenUDP(u.Host); err == nil {
				l.raw = l.udp
			}
		case "tcp":
			l.tcp, err = net.Listen("tcp", u.Host)
			if err == nil {
				l.raw = l.tcp.(*net.TCPListener)
			}
		case "tls":
			if tlsCfg == nil {
				if tlsCfg, err = serverTLS(lh); err != nil {
					return err
				}
			}
			var ln net.Listener
			if ln, err = net.Listen("tcp", u.Host); err == nil {
				l.tcp, l.raw = tls.NewListener(ln, tlsCfg), ln.(*net.TCPListener)
			}
		default:
			return fmt.Errorf("--syslog-listen %q: unknown scheme %q (udp, tcp or tls)", raw, u.Scheme)
		}
		if err != nil {
			return fmt.Errorf("--syslog-listen %s: %w", raw, err)
		}
		d.loghost = append(d.loghost, l)
	}
	d.loghostRecv = syslog.NewReceiver(d.appendSyslog, opts)
	return nil
}

// receiverOptions are the options of every syslog receiver: the rate
// limit of --syslog-rate-limit.
func (d *daemon) receiverOptions() (syslog.ReceiverOptions, error) {
	// syslogBatch copies each message into its reused buffer.
	opts := syslog.ReceiverOptions{Logger: d.log, Flush: func() { d.syslogBatch.flush(d.journal) }, BorrowMsg: true}
	return opts, parseRateLimit(d.cfg.LogHost.RateLimit, &opts)
}

// parseRateLimit reads "BURST/INTERVAL" or "0" into opts.
func parseRateLimit(s string, opts *syslog.ReceiverOptions) error {
	switch s {
	case "":
		return nil
	case "0":
		opts.RateLimitBurst = -1
		return nil
	}
	b, i, ok := strings.Cut(s, "/")
	burst, err1 := strconv.Atoi(b)
	interval, err2 := time.ParseDuration(i)
	if !ok || err1 != nil || err2 != nil || burst <= 0 || interval <= 0 {
		return fmt.Errorf("--syslog-rate-limit %q: want BURST/INTERVAL (10000/30s) or 0", s)
	}
	opts.RateLimitBurst, opts.RateLimitInterval = burst, interval
	return nil
}

// serverTLS loads the certificate and, for client verification, the CAs.
func serverTLS(lh LogHost) (*tls.Config, error) {
	if lh.TLSCert == "" || lh.TLSKey == "" {
		return nil, errors.New("--syslog-listen tls://: needs --syslog-tls-cert and --syslog-tls-key")
	}
	cert, err := tls.LoadX509KeyPair(lh.TLSCert, lh.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--syslog-tls-cert/--syslog-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if lh.TLSClientCA != "" {
		pem, err := os.ReadFile(lh.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--syslog-tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--syslog-tls-client-ca %s: no PEM certificate in it", lh.TLSClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// serveLogHost runs the listeners until ctx ends; wg joins them.
func (d *daemon) serveLogHost(ctx context.Context, wg *sync.WaitGroup) {
	if len(d.loghost) == 0 {
		return
	}
	var lwg sync.WaitGroup
	for _, l := range d.loghost {
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			var err error
			if l.udp != nil {
				err = d.loghostRecv.ServeUDP(ctx, l.udp)
			} else {
				err = d.loghostRecv.ServeTCP(ctx, l.tcp)
			}
			if err != nil {
				d.log.Error("syslog listener stopped", "listen", l.url, "err", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		lwg.Wait()
		d.loghostRecv.Close()
		d.syslogBatch.wait(d.journal)
	}()
}

// loghostFDs names the listening sockets for `tend fds`.
func (d *daemon) loghostFDs() map[int]string {
	r := fdrole.Roles{}
	for _, l := range d.loghost {
		r.Add(l.raw, l.role)
	}
	return r
}
