package activate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

// Defaults of systemd.socket(5).
const (
	DefaultBacklog                 = 4096 // SOMAXCONN
	DefaultMaxConnections          = 64
	DefaultTriggerLimitInterval    = 2 * time.Second
	DefaultTriggerLimitBurst       = 20  // Accept=no
	DefaultTriggerLimitBurstAccept = 200 // Accept=yes
)

// Builtins are the services of inetd's "internal" column, which the
// socket engine serves itself (X-Tend-Internal=).
var Builtins = []string{"echo", "discard", "daytime", "chargen", "time"}

// Listener is one Listen*= line.
type Listener struct {
	Directive string  // "ListenStream", "ListenDatagram", "ListenSequentialPacket", "ListenFIFO", "ListenSpecial", "ListenNetlink"
	Address   Address // for the three socket directives
	Path      string  // ListenFIFO=, ListenSpecial=: an absolute path
	Netlink   string  // ListenNetlink=: "family [group]"
	File      string
	Line      int
}

// Spec is the typed [Socket] section of a socket unit.
type Spec struct {
	Listen       []Listener
	Accept       bool
	BindIPv6Only BindIPv6Only
	Backlog      int
	BindToDevice string

	SocketUser, SocketGroup string
	SocketMode              uint32 // default 0666
	DirectoryMode           uint32 // default 0755

	ReusePort, FreeBind, Transparent    bool
	KeepAlive, NoDelay, PassCredentials bool
	RemoveOnStop                        bool
	ReceiveBuffer, SendBuffer           uint64 // bytes; 0 = kernel default

	Symlinks           []string
	FileDescriptorName string // default: the socket unit's name
	// Service is the unit to activate: Service= or the socket's own
	// name with .service; for Accept=yes the template "name@.service".
	Service string

	MaxConnections          int
	MaxConnectionsPerSource int // default MaxConnections
	TriggerLimitInterval    time.Duration
	TriggerLimitBurst       int

	ExecStartPre, ExecStartPost []unit.Command
	ExecStopPre, ExecStopPost   []unit.Command
	// Exec is how those commands run: the systemd.exec(5) settings of
	// the [Socket] section (User=, Environment=, WorkingDirectory=, …);
	// nil when there is none of them to run. (A started socket keeps its
	// Spec: the settings, 688 bytes, were most of an idle socket's.)
	Exec *unit.ExecContext
	// Timeout bounds each of them (TimeoutSec=; unit.Infinity for none).
	Timeout time.Duration

	// IPAddressAllow= and IPAddressDeny= with systemd's rule: a peer
	// matching Allow is let in; else one matching Deny is refused; else
	// it is let in. The engine checks the peer of each connection it
	// accepts (Accept=yes, built-ins) and closes a refused one; every
	// other Internet listener — Accept=no, datagram — carries a socket
	// filter that has the kernel drop refused peers' packets (filter.go).
	IPAddressAllow, IPAddressDeny []netip.Prefix

	// Tend extensions, written by the inetd reader (X-Tend-… keys, which
	// systemd ignores).

	// Internal names a built-in service (one of Builtins) the engine
	// serves in-process; such a socket activates no unit.
	Internal string
	// TriggerLimitHold, when set, re-enables the socket that long after
	// its trigger limit was hit (inetd's 10 minutes, xinetd's cps wait)
	// instead of leaving it failed as systemd does.
	TriggerLimitHold time.Duration
	// StdioOnly gives the service the socket only on the standard
	// streams its unit names, as inetd does: no descriptors from 3 and
	// no LISTEN_FDS, LISTEN_FDNAMES or LISTEN_PID. An inetd server never
	// looks for them, and without LISTEN_PID the instance is executed
	// directly, not through the pid trampoline (spawn/pidexec.go).
	StdioOnly bool

	// Unsupported lists directives tend reads but does not apply.
	Unsupported []string
}

// ParseSpec types the [Socket] section of u (a socket unit from the unit
// loader, which keeps its raw entries), resolving specifiers with env.
// Bad values are reported as file:line diags and dropped; a unit that
// cannot work (no listener, Accept=yes on a datagram socket) gets an
// error diag and ok=false, as systemd refuses it.
func ParseSpec(u *unit.Unit, env *unit.Env) (spec *Spec, diags []unit.Diag, ok bool) {
	if env == nil {
		env = &unit.Env{}
	}
	p := &specParser{u: u, env: env, s: &Spec{
		BindIPv6Only: IPv6Default, Backlog: DefaultBacklog, SocketMode: 0o666, DirectoryMode: 0o755,
		MaxConnections: DefaultMaxConnections, MaxConnectionsPerSource: -1,
		TriggerLimitInterval: DefaultTriggerLimitInterval, TriggerLimitBurst: -1,
		Timeout: unit.DefaultTimeout,
	}, exec: unit.NewExecSettings(u, env)}
	for _, e := range u.Entries {
		if e.Section == "Socket" {
			p.entry(e)
		}
	}
	ok = p.finish()
	return p.s, p.diags, ok
}

type specParser struct {
	u       *unit.Unit
	env     *unit.Env
	s       *Spec
	diags   []unit.Diag
	service bool // Service= given
	exec    *unit.ExecSettings
}

func (p *specParser) bad(e unit.Entry, format string, args ...any) {
	p.diags = append(p.diags, unit.Diag{File: e.File, Line: e.Line, Severity: unit.Error,
		Msg: fmt.Sprintf("%s=%s: %s, ignoring", e.Key, e.Value, fmt.Sprintf(format, args...))})
}

func (p *specParser) refuse(msg string) {
	p.diags = append(p.diags, unit.Diag{File: p.u.Path, Severity: unit.Error, Msg: msg + " Refusing."})
}

func (p *specParser) entry(e unit.Entry) {
	v, err := p.env.Expand(e.Value, p.u.Name, p.u.Path)
	if err != nil {
		p.bad(e, "%v", err)
		return
	}
	s := p.s
	switch e.Key {
	case "ListenStream", "ListenDatagram", "ListenSequentialPacket":
		p.listenAddr(e, v)
	case "ListenFIFO", "ListenSpecial":
		p.listenPath(e, v)
	case "ListenNetlink":
		if v == "" {
			s.Listen = nil
			return
		}
		s.Listen = append(s.Listen, Listener{Directive: e.Key, Netlink: v, File: e.File, Line: e.Line})
	case "ListenMessageQueue", "ListenUSBFunction", "SmackLabel", "SmackLabelIPIn", "SmackLabelIPOut",
		"SELinuxContextFromNet", "IPTOS", "IPTTL", "Mark", "Priority", "Broadcast", "PassSecurity",
		"PassPacketInfo", "Timestamping", "DeferAcceptSec", "KeepAliveTimeSec", "KeepAliveIntervalSec",
		"KeepAliveProbes", "PipeSize", "MessageQueueMaxMessages", "MessageQueueMessageSize",
		"TCPCongestion", "FlushPending", "PollLimitIntervalSec", "PollLimitBurst", "Writable":
		p.unsupported(e.Key)
	case "ExecStartPre", "ExecStartPost", "ExecStopPre", "ExecStopPost":
		p.execEntry(e, v)
	case "TimeoutSec":
		if d, ok := p.timespan(e, v); ok {
			if d == 0 {
				d = unit.Infinity // as systemd: 0 disables the timeout
			}
			s.Timeout = d
		}
	case "X-Tend-Internal":
		if !slices.Contains(Builtins, v) {
			p.bad(e, "unknown built-in service %q (want one of %s)", v, strings.Join(Builtins, ", "))
			return
		}
		s.Internal = v
	case "X-Tend-TriggerLimitHoldSec":
		if d, ok := p.timespan(e, v); ok {
			s.TriggerLimitHold = d
		}
	case "X-Tend-StdioOnly":
		p.boolean(e, v, &s.StdioOnly)
	default:
		if p.option(e, v) {
			return
		}
		ok, diags := p.exec.Entry(e)
		p.diags = append(p.diags, diags...)
		if !ok {
			p.unsupported(e.Key)
		}
	}
}

// execEntry takes the Exec*= lines of a socket unit (v: the value with
// its specifiers resolved).
func (p *specParser) execEntry(e unit.Entry, v string) {
	var dst *[]unit.Command
	switch e.Key {
	case "ExecStartPre":
		dst = &p.s.ExecStartPre
	case "ExecStartPost":
		dst = &p.s.ExecStartPost
	case "ExecStopPre":
		dst = &p.s.ExecStopPre
	case "ExecStopPost":
		dst = &p.s.ExecStopPost
	}
	if v == "" {
		*dst = nil
		return
	}
	cmds, err := unit.ParseExecLine(v)
	if err != nil {
		p.bad(e, "%v", err)
		return
	}
	for i := range cmds {
		cmds[i].File, cmds[i].Line = e.File, e.Line
	}
	*dst = append(*dst, cmds...)
}

func (p *specParser) unsupported(key string) {
	if !strings.HasPrefix(key, "X-") && !slices.Contains(p.s.Unsupported, key) {
		p.s.Unsupported = append(p.s.Unsupported, key)
	}
}

func (p *specParser) listenAddr(e unit.Entry, v string) {
	if v == "" {
		p.s.Listen = nil // an empty assignment resets the list, as in systemd
		return
	}
	t := map[string]SocketType{"ListenStream": Stream, "ListenDatagram": Datagram, "ListenSequentialPacket": SeqPacket}[e.Key]
	a, err := ParseAddress(t, v)
	if err != nil {
		p.bad(e, "%v", err)
		return
	}
	p.s.Listen = append(p.s.Listen, Listener{Directive: e.Key, Address: a, File: e.File, Line: e.Line})
}

func (p *specParser) listenPath(e unit.Entry, v string) {
	if v == "" {
		p.s.Listen = nil
		return
	}
	if !strings.HasPrefix(v, "/") {
		p.bad(e, "path %q is not absolute", v)
		return
	}
	p.s.Listen = append(p.s.Listen, Listener{Directive: e.Key, Path: v, File: e.File, Line: e.Line})
}

func (p *specParser) timespan(e unit.Entry, v string) (time.Duration, bool) {
	d, err := unit.ParseTimespan(v, time.Second)
	if err != nil {
		p.bad(e, "%v", err)
		return 0, false
	}
	return d, true
}

func (p *specParser) number(e unit.Entry, v string, dst *int, lo int) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || int(n) < lo {
		p.bad(e, "invalid number (want %d…%d)", lo, uint32(1<<32-1))
		return
	}
	*dst = int(n)
}

func (p *specParser) boolean(e unit.Entry, v string, dst *bool) {
	b, err := unit.ParseBool(v)
	if err != nil {
		p.bad(e, "%v", err)
		return
	}
	*dst = b
}

// option handles the scalar directives; it reports whether key is one.
func (p *specParser) option(e unit.Entry, v string) bool {
	s := p.s
	switch e.Key {
	case "Accept":
		p.boolean(e, v, &s.Accept)
	case "BindIPv6Only":
		switch b := BindIPv6Only(v); b {
		case IPv6Default, IPv6Both, IPv6Only:
			s.BindIPv6Only = b
		default:
			p.bad(e, "want default, both or ipv6-only")
		}
	case "Backlog":
		p.number(e, v, &s.Backlog, 0)
	case "BindToDevice":
		if v != "" && !validIfname(v) {
			p.bad(e, "invalid interface name")
			return true
		}
		s.BindToDevice = v
	case "SocketUser":
		s.SocketUser = v
	case "SocketGroup":
		s.SocketGroup = v
	case "SocketMode", "DirectoryMode":
		m, err := unit.ParseMode(v)
		if err != nil {
			p.bad(e, "%v", err)
			return true
		}
		if e.Key == "SocketMode" {
			s.SocketMode = m
		} else {
			s.DirectoryMode = m
		}
	case "ReusePort":
		p.boolean(e, v, &s.ReusePort)
	case "FreeBind":
		p.boolean(e, v, &s.FreeBind)
	case "Transparent":
		p.boolean(e, v, &s.Transparent)
	case "KeepAlive":
		p.boolean(e, v, &s.KeepAlive)
	case "NoDelay":
		p.boolean(e, v, &s.NoDelay)
	case "PassCredentials":
		p.boolean(e, v, &s.PassCredentials)
	case "RemoveOnStop":
		p.boolean(e, v, &s.RemoveOnStop)
	case "ReceiveBuffer", "SendBuffer":
		n, err := unit.ParseSize(v)
		if err != nil {
			p.bad(e, "%v", err)
			return true
		}
		if e.Key == "ReceiveBuffer" {
			s.ReceiveBuffer = n
		} else {
			s.SendBuffer = n
		}
	case "Symlinks":
		p.symlinks(e, v)
	case "FileDescriptorName":
		if len(v) > 255 || strings.ContainsAny(v, ":\n\t ") {
			p.bad(e, "invalid name (at most 255 characters, no ':' or whitespace)")
			return true
		}
		s.FileDescriptorName = v
	case "Service":
		if err := unit.ValidName(v); err != nil || !strings.HasSuffix(v, ".service") || unit.IsTemplate(v) {
			p.bad(e, "not a service unit name")
			return true
		}
		s.Service, p.service = v, true
	case "MaxConnections":
		p.number(e, v, &s.MaxConnections, 1)
	case "MaxConnectionsPerSource":
		p.number(e, v, &s.MaxConnectionsPerSource, 0)
	case "TriggerLimitIntervalSec":
		if d, ok := p.timespan(e, v); ok {
			s.TriggerLimitInterval = d
		}
	case "TriggerLimitBurst":
		p.number(e, v, &s.TriggerLimitBurst, 0)
	case "IPAddressAllow", "IPAddressDeny":
		dst := &s.IPAddressAllow
		if e.Key == "IPAddressDeny" {
			dst = &s.IPAddressDeny
		}
		if v == "" {
			*dst = nil
			return true
		}
		ps, err := ParsePrefixes(v)
		if err != nil {
			p.bad(e, "%v", err)
			return true
		}
		*dst = append(*dst, ps...)
	default:
		return false
	}
	return true
}

func (p *specParser) symlinks(e unit.Entry, v string) {
	if v == "" {
		p.s.Symlinks = nil
		return
	}
	for _, l := range strings.Fields(v) {
		if !strings.HasPrefix(l, "/") {
			p.bad(e, "path %q is not absolute", l)
			continue
		}
		p.s.Symlinks = append(p.s.Symlinks, l)
	}
}

// finish fills the defaults that depend on other settings and refuses
// what systemd refuses.
func (p *specParser) finish() bool {
	s, u := p.s, p.u
	if s.MaxConnectionsPerSource < 0 {
		s.MaxConnectionsPerSource = s.MaxConnections
	}
	if s.TriggerLimitBurst < 0 {
		s.TriggerLimitBurst = DefaultTriggerLimitBurst
		if s.Accept {
			s.TriggerLimitBurst = DefaultTriggerLimitBurstAccept
		}
	}
	if s.FileDescriptorName == "" {
		s.FileDescriptorName = u.Name
	}
	prefix, _, _ := unit.SplitName(u.Name)
	if s.Service == "" && s.Internal == "" {
		s.Service = prefix + ".service"
		if s.Accept {
			s.Service = prefix + "@.service"
		}
	}
	ec, bad := p.exec.Result()
	if len(s.ExecStartPre)+len(s.ExecStartPost)+len(s.ExecStopPre)+len(s.ExecStopPost) > 0 {
		s.Exec = &ec
	}
	if len(s.Unsupported) > 0 {
		p.diags = append(p.diags, unit.Diag{File: u.Path, Severity: unit.Warning,
			Msg: "directives not supported by tend, ignored: " + strings.Join(s.Unsupported, ", ")})
	}
	switch {
	case bad:
		return false // the exec setting's diag says why
	case len(s.Listen) == 0:
		p.refuse("Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...).")
		return false
	case s.Accept && p.service:
		p.refuse("Explicit service configuration for accepting socket units not supported.")
		return false
	case s.Accept && !accepting(s.Listen):
		p.refuse("Unit configured for accepting sockets, but sockets are non-accepting.")
		return false
	}
	return true
}

// accepting reports whether every listener can accept connections.
func accepting(ls []Listener) bool {
	for _, l := range ls {
		if l.Directive != "ListenStream" && l.Directive != "ListenSequentialPacket" {
			return false
		}
	}
	return true
}
