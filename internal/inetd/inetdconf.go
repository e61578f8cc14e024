package inetd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// openbsd-inetd's defaults: at most 256 servers a minute (-R), then the
// service rests for ten minutes.
const (
	inetdRate     = 256
	inetdInterval = time.Minute
	inetdHold     = 10 * time.Minute
)

// Env is what the readers check entries against.
type Env struct {
	Services *Services // services(5); nil knows no names, only numbers
	Etc      string    // directory holding passwd and group ("/etc")
}

// diags collects file:line problems.
type diags []unit.Diag

func (d *diags) add(file string, line int, sev unit.Severity, format string, args ...any) {
	*d = append(*d, unit.Diag{File: file, Line: line, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}

// ParseInetd reads an inetd.conf as openbsd-inetd(8) defines it. Each
// good line becomes a Service; a bad line is a file:line error and the
// other lines still load.
func ParseInetd(path string, r io.Reader, env Env) ([]*Service, []unit.Diag) {
	var out []*Service
	var ds diags
	defHosts := []string{"*"}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) == 1 && strings.HasSuffix(f[0], ":") {
			// "host:" alone sets the listening address of the lines below.
			hosts, err := splitHosts(strings.TrimSuffix(f[0], ":"))
			if err != nil {
				ds.add(path, n, unit.Error, "%v", err)
				continue
			}
			defHosts = hosts
			continue
		}
		svcs, err := inetdLine(path, n, f, defHosts, env)
		if err != nil {
			ds.add(path, n, unit.Error, "%v, ignoring line", err)
			continue
		}
		for _, s := range svcs {
			s.Orig = strings.TrimSpace(line)
			for _, n := range s.Notes {
				ds.add(path, s.Line, unit.Warning, "%s", n)
			}
		}
		out = append(out, svcs...)
	}
	if err := sc.Err(); err != nil {
		ds.add(path, 0, unit.Error, "cannot read: %v", err)
	}
	return out, ds
}

// splitHosts parses inetd's "host[,host…]" listening addresses; "*" is
// any address. Names would need DNS at boot, so only numbers are taken.
func splitHosts(s string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "*" {
			out = append(out, h)
			continue
		}
		if _, err := netip.ParseAddr(h); err != nil {
			return nil, fmt.Errorf("listening address %q: not a numeric address (tend does not resolve host names)", h)
		}
		out = append(out, h)
	}
	return out, nil
}

// inetdLine turns the fields of one line into one service per
// listening address.
func inetdLine(path string, n int, f []string, defHosts []string, env Env) ([]*Service, error) {
	if len(f) < 6 {
		return nil, fmt.Errorf("%d fields; want service, socket type, protocol, wait/nowait, user, server and its arguments", len(f))
	}
	name, sockType, proto, waitF, userF, server := f[0], f[1], f[2], f[3], f[4], f[5]
	hosts := defHosts
	if proto != "unix" {
		if h, svc, ok := cutHost(name); ok {
			var err error
			if hosts, err = splitHosts(h); err != nil {
				return nil, err
			}
			name = svc
		}
	}
	if strings.HasPrefix(proto, "rpc/") {
		return nil, fmt.Errorf("Sun RPC service %s (%s) is not supported: run rpcbind and the server as units", name, proto)
	}
	base := Service{File: path, Line: n}
	var err error
	if base.Wait, base.RateBurst, err = parseWait(waitF); err != nil {
		return nil, err
	}
	base.RateInterval, base.RateHold = inetdInterval, inetdHold
	// inetd has no limit on concurrent servers beyond its rate; the
	// socket gets the rate as its cap rather than systemd's 64.
	base.MaxConnections = base.RateBurst
	if base.User, base.Group, err = parseUser(userF, env); err != nil {
		return nil, err
	}
	typ, err := socketType(sockType, proto)
	if err != nil {
		return nil, err
	}
	if server == "internal" {
		if base.Internal, err = builtin(name, proto, env); err != nil {
			return nil, err
		}
		base.User, base.Group = "", ""
	} else {
		if !filepath.IsAbs(server) {
			return nil, fmt.Errorf("server %q is not an absolute path", server)
		}
		base.Path, base.Argv = server, f[6:]
		if len(base.Argv) == 0 {
			base.Argv = []string{server}
		}
	}
	if typ == activate.Datagram && !base.Wait {
		base.Wait = true
		base.Notes = append(base.Notes, "dgram nowait: served as wait (the server gets the socket; one at a time until it exits)")
	}
	if proto == "unix" {
		a, err := activate.ParseAddress(typ, name)
		if err != nil {
			return nil, err
		}
		s := base
		s.Listen, s.Name = []activate.Address{a}, "inetd-"+unit.EscapePath(name)+"-unix"
		return []*Service{&s}, nil
	}
	netProto := strings.TrimRight(proto, "46")
	port, _, err := env.Services.Port(name, netProto)
	if err != nil {
		return nil, err
	}
	var out []*Service
	for _, h := range hosts {
		if !hostFits(h, proto) {
			continue // inetd binds each protocol on the addresses of its family
		}
		s := base
		s.Name = "inetd-" + nameEscape(name) + "-" + proto
		if h != "*" {
			s.Name += "-" + nameEscape(h)
		}
		addr, v6only, err := listenAddr(h, proto, port)
		if err != nil {
			return nil, err
		}
		a, err := activate.ParseAddress(typ, addr)
		if err != nil {
			return nil, err
		}
		s.Listen, s.BindIPv6Only = []activate.Address{a}, v6only
		if err := unit.ValidName(s.Name + ".socket"); err != nil {
			return nil, err
		}
		out = append(out, &s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listening address %s is of protocol %s", strings.Join(hosts, ","), proto)
	}
	return out, nil
}

// hostFits reports whether a listening address can carry proto.
func hostFits(host, proto string) bool {
	if host == "*" || strings.HasSuffix(proto, "46") {
		return true
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Is4() != strings.HasSuffix(proto, "6")
}

// nameEscape keeps the characters a unit name allows (including '-',
// which systemd-escape would turn into \x2d) and writes others as \xNN.
func nameEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":_.-", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// cutHost splits "host:service" and "[v6]:service".
func cutHost(s string) (host, svc string, ok bool) {
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]:"); i > 0 {
			return s[:i+1], s[i+2:], true
		}
		return "", s, false
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// parseWait reads "wait", "nowait" and their ".max" rate per minute.
func parseWait(s string) (wait bool, rate int, err error) {
	w, max, hasMax := strings.Cut(s, ".")
	switch w {
	case "wait":
		wait = true
	case "nowait":
	default:
		return false, 0, fmt.Errorf("%q: want wait or nowait[.max]", s)
	}
	rate = inetdRate
	if hasMax {
		rate, err = strconv.Atoi(max)
		if err != nil || rate < 1 {
			return false, 0, fmt.Errorf("%q: max must be a positive number of servers a minute", s)
		}
	}
	return wait, rate, nil
}

// parseUser reads "user", "user:group" or "user.group" and checks both
// exist.
func parseUser(s string, env Env) (user, group string, err error) {
	user, group, ok := strings.Cut(s, ":")
	if !ok {
		user, group, _ = strings.Cut(s, ".")
	}
	if user == "" {
		return "", "", fmt.Errorf("empty user in %q", s)
	}
	if _, err := spawn.LookupUserIn(env.Etc, user); err != nil {
		return "", "", fmt.Errorf("unknown user %q", user)
	}
	if group != "" {
		if _, err := spawn.LookupGroup(env.Etc, group); err != nil {
			return "", "", fmt.Errorf("unknown group %q", group)
		}
	}
	return user, group, nil
}

// socketType checks the socket type against the protocol.
func socketType(typ, proto string) (activate.SocketType, error) {
	inet := map[string]string{"tcp": "stream", "tcp4": "stream", "tcp6": "stream", "tcp46": "stream",
		"udp": "dgram", "udp4": "dgram", "udp6": "dgram", "udp46": "dgram"}
	want, isInet := inet[proto]
	if !isInet && proto != "unix" {
		return "", fmt.Errorf("protocol %q: want tcp, udp, tcp4, udp4, tcp6, udp6, tcp46, udp46 or unix", proto)
	}
	switch typ {
	case "stream", "dgram":
		if isInet && typ != want {
			return "", fmt.Errorf("socket type %s does not go with protocol %s", typ, proto)
		}
		if typ == "stream" {
			return activate.Stream, nil
		}
		return activate.Datagram, nil
	case "seqpacket":
		if isInet {
			return "", errors.New("seqpacket sockets are AF_UNIX only (protocol unix)")
		}
		return activate.SeqPacket, nil
	case "raw", "rdm":
		return "", fmt.Errorf("%s sockets are not supported", typ)
	}
	return "", fmt.Errorf("socket type %q: want stream, dgram or seqpacket", typ)
}

// builtin checks an "internal" service: its official name must be one
// tend serves, over TCP or UDP.
func builtin(name, proto string, env Env) (string, error) {
	netProto := strings.TrimRight(proto, "46")
	if netProto != "tcp" && netProto != "udp" {
		return "", fmt.Errorf("internal services run over tcp or udp, not %s", proto)
	}
	_, official, err := env.Services.Port(name, netProto)
	if err != nil {
		return "", err
	}
	if !slices.Contains(activate.Builtins, official) {
		return "", fmt.Errorf("no internal service %q (tend has %s)", name, strings.Join(activate.Builtins, ", "))
	}
	return official, nil
}

// listenAddr is the ListenStream=/ListenDatagram= value for one host and
// the BindIPv6Only= it needs: tcp/udp are IPv4, tcp6/udp6 IPv6 only (so
// the pair of lines Debian writes can share a port), tcp46/udp46 both.
func listenAddr(host, proto string, port int) (string, activate.BindIPv6Only, error) {
	p := strconv.Itoa(port)
	v6 := strings.HasSuffix(proto, "6")
	if host == "*" {
		switch {
		case strings.HasSuffix(proto, "46"):
			return "[::]:" + p, activate.IPv6Both, nil
		case v6:
			return "[::]:" + p, activate.IPv6Only, nil
		}
		return "0.0.0.0:" + p, "", nil
	}
	ip, _ := netip.ParseAddr(host)
	if ip.Is4() == v6 && !strings.HasSuffix(proto, "46") {
		return "", "", fmt.Errorf("address %s does not go with protocol %s", host, proto)
	}
	if ip.Is4() {
		return host + ":" + p, "", nil
	}
	return "[" + host + "]:" + p, activate.IPv6Only, nil
}
