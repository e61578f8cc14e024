// Package activate owns socket units: the listening sockets a unit
// declares, how they are bound and held, and the services they start.
//
// This file and socket.go are its pure half: the addresses of Listen*=
// as systemd.socket(5) writes them, and the typed [Socket] section. The
// runtime (binding, LISTEN_FDS, Accept=yes instances) builds on them.
package activate

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// SocketType is the kind of socket a Listen*= directive asks for.
type SocketType string

// Socket types, named after their directives.
const (
	Stream    SocketType = "stream"            // ListenStream=, SOCK_STREAM
	Datagram  SocketType = "datagram"          // ListenDatagram=, SOCK_DGRAM
	SeqPacket SocketType = "sequential-packet" // ListenSequentialPacket=, SOCK_SEQPACKET
)

// Family is the address family of an Address.
type Family string

// Address families tend binds.
const (
	Inet4 Family = "inet"  // AF_INET
	Inet6 Family = "inet6" // AF_INET6
	Unix  Family = "unix"  // AF_UNIX, a path or (Abstract) a name
)

// BindIPv6Only is BindIPv6Only= of a socket unit.
type BindIPv6Only string

// BindIPv6Only values. Default follows the kernel's
// net.ipv6.bindv6only sysctl (0 on every usual system, i.e. both).
const (
	IPv6Default BindIPv6Only = "default"
	IPv6Both    BindIPv6Only = "both"
	IPv6Only    BindIPv6Only = "ipv6-only"
)

// maxUnixPath is the longest path sun_path holds with its NUL.
const maxUnixPath = 107

// ErrVsock is returned for vsock: addresses, which tend does not bind.
var ErrVsock = errors.New("AF_VSOCK addresses are not supported by tend")

// Address is one parsed ListenStream=, ListenDatagram= or
// ListenSequentialPacket= value.
type Address struct {
	Type   SocketType
	Family Family
	// IP is the address to bind for Inet4/Inet6, with its zone (the
	// interface name or index of "[fe80::1%eth0]:80") when given. A bare
	// port yields the IPv6 unspecified address "::".
	IP       netip.Addr
	Port     uint16
	PortOnly bool // written as a bare port: [::] when IPv6 exists, else 0.0.0.0

	Path     string // Unix: the file path, or the abstract name without '@'
	Abstract bool   // Unix: abstract namespace ("@name")
}

// ParseAddress parses a Listen*= value of socket type t the way
// systemd.socket(5) describes it: a port ("80"), "IPv4:port",
// "[IPv6]:port", "[IPv6%iface]:port", an absolute path for AF_UNIX, or
// "@name" for the abstract namespace. "vsock:" addresses are refused
// (ErrVsock). ListenSequentialPacket= takes AF_UNIX addresses only, as
// in systemd.
func ParseAddress(t SocketType, s string) (Address, error) {
	a := Address{Type: t}
	switch {
	case s == "":
		return a, errors.New("empty address")
	case strings.HasPrefix(s, "/"):
		if len(s) > maxUnixPath {
			return a, fmt.Errorf("socket path %q is longer than %d bytes", s, maxUnixPath)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return a, errors.New("socket path contains a NUL byte")
		}
		a.Family, a.Path = Unix, s
		return a, nil
	case strings.HasPrefix(s, "@"):
		if len(s) == 1 {
			return a, errors.New("empty abstract socket name")
		}
		if len(s) > maxUnixPath {
			return a, fmt.Errorf("abstract socket name %q is longer than %d bytes", s, maxUnixPath-1)
		}
		a.Family, a.Path, a.Abstract = Unix, s[1:], true
		return a, nil
	case strings.HasPrefix(s, "vsock:"):
		return a, ErrVsock
	}
	if t == SeqPacket {
		return a, fmt.Errorf("address %q: ListenSequentialPacket= takes AF_UNIX addresses only", s)
	}
	if isDigits(s) {
		p, err := parsePort(s)
		if err != nil {
			return a, err
		}
		a.Family, a.IP, a.Port, a.PortOnly = Inet6, netip.IPv6Unspecified(), p, true
		return a, nil
	}
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return a, fmt.Errorf("address %q: want [IPv6]:port", s)
		}
		host, port = s[1:end], s[end+2:]
		ip, err := parseIPv6(host)
		if err != nil {
			return a, fmt.Errorf("address %q: %w", s, err)
		}
		a.Family, a.IP = Inet6, ip
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return a, fmt.Errorf("address %q: want a port, IPv4:port, [IPv6]:port, a path or @name", s)
		}
		host, port = s[:i], s[i+1:]
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is4() {
			return a, fmt.Errorf("address %q: %q is not an IPv4 address (IPv6 goes in brackets)", s, host)
		}
		a.Family, a.IP = Inet4, ip
	}
	p, err := parsePort(port)
	if err != nil {
		return a, fmt.Errorf("address %q: %w", s, err)
	}
	a.Port = p
	return a, nil
}

// parseIPv6 accepts an IPv6 address with an optional "%zone" (an
// interface name or index). IPv4-mapped forms are kept as written.
func parseIPv6(s string) (netip.Addr, error) {
	addr, zone, hasZone := strings.Cut(s, "%")
	if hasZone && !validIfname(zone) {
		return netip.Addr{}, fmt.Errorf("invalid interface %q", zone)
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv6 address", addr)
	}
	if hasZone {
		ip = ip.WithZone(zone)
	}
	return ip, nil
}

// validIfname follows the kernel's rules for interface names (IFNAMSIZ
// 16 with NUL; no '/', ':' or whitespace) and also accepts an index.
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parsePort accepts 1…65535; port 0 (any port) is refused, as systemd does.
func parsePort(s string) (uint16, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %s out of range 1…65535", s)
	}
	return uint16(n), nil
}

// IsIP reports whether a is an Internet address.
func (a Address) IsIP() bool { return a.Family == Inet4 || a.Family == Inet6 }

// V6Only reports whether the socket of an IPv6 address must set
// IPV6_V6ONLY under the given BindIPv6Only=, with sysctlV6Only the
// kernel's net.ipv6.bindv6only. An IPv6 socket on a specific address
// never receives IPv4 anyway, so only the unspecified address matters.
func (a Address) V6Only(b BindIPv6Only, sysctlV6Only bool) bool {
	if a.Family != Inet6 {
		return false
	}
	switch b {
	case IPv6Only:
		return true
	case IPv6Both:
		return false
	}
	return sysctlV6Only
}

// String formats a as systemctl list-sockets shows a listener.
func (a Address) String() string {
	switch a.Family {
	case Unix:
		if a.Abstract {
			return "@" + a.Path
		}
		return a.Path
	case Inet6:
		return "[" + a.IP.String() + "]:" + strconv.Itoa(int(a.Port))
	case Inet4:
		return a.IP.String() + ":" + strconv.Itoa(int(a.Port))
	}
	return ""
}

// Directive is the Listen*= directive that declares an address of a's type.
func (a Address) Directive() string {
	switch a.Type {
	case Datagram:
		return "ListenDatagram"
	case SeqPacket:
		return "ListenSequentialPacket"
	}
	return "ListenStream"
}
