package daemon

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/tendproject/tend/internal/fdrole"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/syslog"
)

// syslogIn receives syslog datagrams (/dev/log) into the journal, each
// attributed to the unit of its sender's pid (from kernel credentials).
type syslogIn struct {
	d    *daemon
	conn *net.UnixConn
	recv *syslog.Receiver
}

// listenSyslog binds the syslog socket; failure is not fatal (another
// syslog daemon may own /dev/log), it only means no syslog capture.
func (d *daemon) listenSyslog(path string) *syslogIn {
	if path == "" {
		return nil
	}
	conn, err := syslog.ListenUnixgram(path)
	if err != nil {
		d.log.Warn("not capturing syslog", "socket", path, "err", err)
		return nil
	}
	s := &syslogIn{d: d, conn: conn}
	s.recv = syslog.NewReceiver(s.handle, syslog.ReceiverOptions{Logger: d.log})
	return s
}

// serve runs until ctx ends; wg tracks its goroutine.
func (s *syslogIn) serve(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.recv.ServeUnixgram(ctx, s.conn); err != nil {
			s.d.log.Error("syslog receiver stopped", "err", err)
		}
		s.recv.Close()
	}()
}

// fds names the socket, for /v1/self/fds; once the receiver stopped and
// closed it, it is left out.
func (s *syslogIn) fds() map[int]string {
	r := fdrole.Roles{}
	r.Add(s.conn, "syslog "+s.d.cfg.Paths.Syslog)
	return r
}

func (s *syslogIn) handle(m syslog.Message, cred syslog.Cred) {
	s.d.appendSyslog(m, cred)
}

// appendSyslog stores one received message: from /dev/log, attributed to
// the unit of the sender (kernel credentials), or from the network, with
// the sender's host, address and own timestamp.
func (d *daemon) appendSyslog(m syslog.Message, cred syslog.Cred) {
	e := journal.Entry{
		Priority:   m.Severity,
		Facility:   m.Facility,
		Identifier: m.AppName,
		Stream:     journal.StreamSyslog,
		Origin:     originOf(m, cred),
		Message:    m.Msg,
		UID:        -1,
	}
	if pid, err := strconv.Atoi(m.ProcID); err == nil {
		e.PID = pid
	}
	if cred.Known {
		// The kernel's word beats the packet's.
		e.PID, e.UID = cred.PID, cred.UID
		e.Unit = d.unitOf(cred)
	}
	if m.AppName == syslog.SuppressedAppName && m.MsgID == syslog.SuppressedMsgID {
		e.Stream = journal.StreamTend
	}
	_ = d.journal.Append(e)
}

// unitOf attributes a datagram to a unit. The sender may have exited
// before the datagram is read (logger(1) does at once): its pidfd still
// names its cgroup; /proc serves kernels that pass no pidfd while the
// sender lives.
func (d *daemon) unitOf(cred syslog.Cred) string {
	if name, ok := d.cgroups.UnitOfPIDFD(cred.PIDFD); ok {
		return name
	}
	if name, ok := d.cgroups.UnitOf(cred.PID); ok {
		return name
	}
	return ""
}

// originOf keeps what the sender said about itself. Only a network
// message's host name and timestamp are kept: on /dev/log both are this
// machine's, and syslog(3)'s second-resolution stamp adds nothing to the
// journal's own.
func originOf(m syslog.Message, cred syslog.Cred) journal.Origin {
	o := journal.Origin{MsgID: m.MsgID, StructuredData: m.StructuredData}
	if cred.Addr.IsValid() {
		o.Address = cred.Addr.String()
		o.Hostname, o.Time = m.Hostname, m.Time
		if o.Hostname == "" {
			// As rsyslog does: a sender that names no host is its address.
			o.Hostname = o.Address
		}
	}
	return o
}
