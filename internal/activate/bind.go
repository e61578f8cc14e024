package activate

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/nowait"
)

// Owner is the uid and gid SocketUser=/SocketGroup= resolve to; -1
// leaves a file's owner or group as it is.
type Owner struct{ UID, GID int }

// NoOwner keeps files as tend creates them.
var NoOwner = Owner{UID: -1, GID: -1}

// Bound is one open listener of a socket unit.
type Bound struct {
	Listener Listener
	File     *os.File
	// Key identifies what was bound and how: a reload keeps a Bound whose
	// listener has the same key, so the socket and its queue survive.
	Key string

	filtered bool // carries the IPAddressAllow=/IPAddressDeny= filter (filter.go)
}

// Name is the listener as list-sockets shows it.
func (l Listener) Name() string {
	switch l.Directive {
	case "ListenFIFO", "ListenSpecial":
		return l.Path
	case "ListenNetlink":
		return l.Netlink
	}
	return l.Address.String()
}

// Kind is the listener's type as systemctl list-sockets names it
// (Stream, Datagram, SequentialPacket, FIFO, Special, Netlink).
func (l Listener) Kind() string { return strings.TrimPrefix(l.Directive, "Listen") }

// Key identifies a listener together with the settings that shape its
// socket, so that a reload can tell whether a bound one can be kept.
func (s *Spec) Key(l Listener) string {
	return fmt.Sprintf("%s %s|%s|%d|%s|%t%t%t%t%t%t|%d/%d|%o|%s:%s", l.Directive, l.Name(), s.BindIPv6Only, s.Backlog,
		s.BindToDevice, s.ReusePort, s.FreeBind, s.Transparent, s.KeepAlive, s.NoDelay, s.PassCredentials,
		s.ReceiveBuffer, s.SendBuffer, s.SocketMode, s.SocketUser, s.SocketGroup)
}

// Open binds (or creates and opens) every listener of s, in order. On an
// error nothing stays open, and the error names the listener. keep, if
// not nil, offers listeners bound earlier (by Key): they are reused
// instead of bound again, and those Open does not take are left to the
// caller to close.
func (s *Spec) Open(own Owner, keep map[string]*Bound) ([]*Bound, error) {
	var out []*Bound
	reused := map[string]*Bound{}
	fail := func(l Listener, err error) ([]*Bound, error) {
		for _, b := range out {
			if reused[b.Key] == b {
				keep[b.Key] = b // the caller's again
			} else {
				b.File.Close()
			}
		}
		return nil, fmt.Errorf("%s=%s: %w", l.Directive, l.Name(), err)
	}
	for _, l := range s.Listen {
		key := s.Key(l)
		if b, ok := keep[key]; ok && b != nil {
			out = append(out, b)
			reused[key] = b
			delete(keep, key)
			continue
		}
		f, err := s.open(l, own)
		if err != nil {
			return fail(l, err)
		}
		out = append(out, &Bound{Listener: l, File: f, Key: key})
	}
	for _, b := range out {
		if err := s.applyAccess(b); err != nil {
			return fail(b.Listener, err)
		}
	}
	return out, nil
}

func (s *Spec) open(l Listener, own Owner) (*os.File, error) {
	switch l.Directive {
	case "ListenFIFO":
		return s.openFIFO(l.Path, own)
	case "ListenSpecial":
		return openSpecial(l.Path)
	case "ListenNetlink":
		return openNetlink(l.Netlink)
	}
	return s.bind(l.Address, own)
}

// bind creates, configures, binds and (for stream and seqpacket) listens
// on the socket of a. The socket is blocking, as a service expects.
func (s *Spec) bind(a Address, own Owner) (*os.File, error) {
	typ := map[SocketType]int{Stream: unix.SOCK_STREAM, Datagram: unix.SOCK_DGRAM, SeqPacket: unix.SOCK_SEQPACKET}[a.Type]
	family := unix.AF_INET6
	switch a.Family {
	case Inet4:
		family = unix.AF_INET
	case Unix:
		family = unix.AF_UNIX
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil && a.Family == Inet6 && a.PortOnly && errors.Is(err, unix.EAFNOSUPPORT) {
		// A bare port on a system without IPv6 is 0.0.0.0:port.
		a.Family, a.IP, family = Inet4, netip.IPv4Unspecified(), unix.AF_INET
		fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), a.String())
	if err := s.configure(fd, a); err != nil {
		f.Close()
		return nil, err
	}
	if err := s.bindAddr(fd, a, own); err != nil {
		f.Close()
		return nil, err
	}
	if typ != unix.SOCK_DGRAM {
		if err := unix.Listen(fd, s.Backlog); err != nil {
			f.Close()
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	return f, nil
}

// configure sets the socket options of the unit before bind.
func (s *Spec) configure(fd int, a Address) error {
	type opt struct {
		on          bool
		level, name int
		what        string
	}
	tcp := a.IsIP() && a.Type == Stream
	opts := []opt{
		{a.IsIP(), unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR"},
		{s.ReusePort && a.IsIP(), unix.SOL_SOCKET, unix.SO_REUSEPORT, "ReusePort="},
		{s.KeepAlive && a.Type == Stream, unix.SOL_SOCKET, unix.SO_KEEPALIVE, "KeepAlive="},
		{s.PassCredentials, unix.SOL_SOCKET, unix.SO_PASSCRED, "PassCredentials="},
		{s.NoDelay && tcp, unix.IPPROTO_TCP, unix.TCP_NODELAY, "NoDelay="},
	}
	if a.IsIP() {
		lvl, fb, tr := unix.IPPROTO_IP, unix.IP_FREEBIND, unix.IP_TRANSPARENT
		if a.Family == Inet6 {
			lvl, fb, tr = unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, unix.IPV6_TRANSPARENT
		}
		opts = append(opts, opt{s.FreeBind, lvl, fb, "FreeBind="}, opt{s.Transparent, lvl, tr, "Transparent="})
	}
	for _, o := range opts {
		if o.on {
			if err := unix.SetsockoptInt(fd, o.level, o.name, 1); err != nil {
				return fmt.Errorf("%s: %w", o.what, err)
			}
		}
	}
	if a.Family == Inet6 {
		v6only := 0
		if a.V6Only(s.BindIPv6Only, sysctlV6Only()) {
			v6only = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fmt.Errorf("BindIPv6Only=: %w", err)
		}
	}
	if err := setBuffer(fd, s.ReceiveBuffer, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF); err != nil {
		return fmt.Errorf("ReceiveBuffer=: %w", err)
	}
	if err := setBuffer(fd, s.SendBuffer, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF); err != nil {
		return fmt.Errorf("SendBuffer=: %w", err)
	}
	if s.BindToDevice != "" && a.IsIP() {
		if err := unix.BindToDevice(fd, s.BindToDevice); err != nil {
			return fmt.Errorf("BindToDevice=%s: %w", s.BindToDevice, err)
		}
	}
	return nil
}

// setBuffer sets a buffer size, past the sysctl maximum when tend may
// (the FORCE variant needs CAP_NET_ADMIN), as systemd does.
func setBuffer(fd int, n uint64, force, plain int) error {
	if n == 0 {
		return nil
	}
	v := int(min(n, 1<<31-1))
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, v) == nil {
		return nil
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, v)
}

func (s *Spec) bindAddr(fd int, a Address, own Owner) error {
	var sa unix.Sockaddr
	switch a.Family {
	case Inet4:
		sa = &unix.SockaddrInet4{Port: int(a.Port), Addr: a.IP.As4()}
	case Inet6:
		sa6 := &unix.SockaddrInet6{Port: int(a.Port), Addr: a.IP.As16()}
		if z := a.IP.Zone(); z != "" {
			sa6.ZoneId = zoneID(z)
		}
		sa = sa6
	case Unix:
		if a.Abstract {
			return bindErr(unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + a.Path}))
		}
		if err := s.mkdirs(filepath.Dir(a.Path), own); err != nil {
			return err
		}
		// A file left by an earlier run would make bind fail; systemd
		// removes it too (only sockets: a regular file is not ours).
		if fi, err := os.Lstat(a.Path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(a.Path)
		}
		if err := bindErr(unix.Bind(fd, &unix.SockaddrUnix{Name: a.Path})); err != nil {
			return err
		}
		return s.setFile(a.Path, own)
	}
	return bindErr(unix.Bind(fd, sa))
}

func bindErr(err error) error {
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

func zoneID(z string) uint32 {
	if n, err := strconv.ParseUint(z, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := netInterfaceIndex(z); err == nil {
		return uint32(ifi)
	}
	return 0
}

// setFile gives a socket or FIFO file its SocketMode= and owner.
func (s *Spec) setFile(path string, own Owner) error {
	if err := os.Chmod(path, os.FileMode(s.SocketMode)); err != nil {
		return fmt.Errorf("SocketMode=: %w", err)
	}
	if own.UID >= 0 || own.GID >= 0 {
		if err := os.Lchown(path, own.UID, own.GID); err != nil {
			return fmt.Errorf("SocketUser=/SocketGroup=: %w", err)
		}
	}
	return nil
}

// mkdirs creates the missing parents of a socket or FIFO with
// DirectoryMode=.
func (s *Spec) mkdirs(dir string, own Owner) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := s.mkdirs(filepath.Dir(dir), own); err != nil {
		return err
	}
	if err := os.Mkdir(dir, os.FileMode(s.DirectoryMode)); err != nil && !os.IsExist(err) {
		return fmt.Errorf("DirectoryMode=: %w", err)
	}
	_ = os.Chmod(dir, os.FileMode(s.DirectoryMode)) // past the umask
	return nil
}

func (s *Spec) openFIFO(path string, own Owner) (*os.File, error) {
	if err := s.mkdirs(filepath.Dir(path), own); err != nil {
		return nil, err
	}
	if err := unix.Mkfifo(path, s.SocketMode); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("mkfifo: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, fmt.Errorf("%s exists and is not a FIFO", path)
	}
	if err := s.setFile(path, own); err != nil {
		return nil, err
	}
	// Read-write, so that the FIFO never reports end-of-file while no
	// writer has it open.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openSpecial opens a ListenSpecial= file: a regular file (in /proc or
// /sys) or a character device, as systemd takes, without waiting in the
// open (nowait).
func openSpecial(path string) (*os.File, error) {
	const flags = unix.O_NOCTTY | unix.O_NOFOLLOW
	fd, err := nowait.Open(path, unix.O_RDWR|flags, 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EROFS) {
		fd, err = nowait.Open(path, unix.O_RDONLY|flags, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat: %w", err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is neither a regular file nor a character device", path)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// netlinkFamilies are the ListenNetlink= families tend knows by name.
var netlinkFamilies = map[string]int{
	"route": unix.NETLINK_ROUTE, "firewall": unix.NETLINK_FIREWALL, "inet-diag": unix.NETLINK_INET_DIAG,
	"nflog": unix.NETLINK_NFLOG, "xfrm": unix.NETLINK_XFRM, "selinux": unix.NETLINK_SELINUX,
	"iscsi": unix.NETLINK_ISCSI, "audit": unix.NETLINK_AUDIT, "fib-lookup": unix.NETLINK_FIB_LOOKUP,
	"connector": unix.NETLINK_CONNECTOR, "netfilter": unix.NETLINK_NETFILTER, "ip6-fw": unix.NETLINK_IP6_FW,
	"dnrtmsg": unix.NETLINK_DNRTMSG, "kobject-uevent": unix.NETLINK_KOBJECT_UEVENT, "generic": unix.NETLINK_GENERIC,
	"scsitransport": unix.NETLINK_SCSITRANSPORT, "ecryptfs": unix.NETLINK_ECRYPTFS, "rdma": unix.NETLINK_RDMA,
}

// ParseNetlink parses a ListenNetlink= value: "FAMILY [GROUP]".
func ParseNetlink(v string) (family int, group uint32, err error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("want FAMILY [GROUP], got %q", v)
	}
	family, ok := netlinkFamilies[f[0]]
	if !ok {
		return 0, 0, fmt.Errorf("unknown netlink family %q", f[0])
	}
	if len(f) == 2 {
		g, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid netlink group %q", f[1])
		}
		group = uint32(g)
	}
	return family, group, nil
}

func openNetlink(v string) (*os.File, error) {
	family, group, err := ParseNetlink(v)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, family)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: group}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind: %w", err)
	}
	return os.NewFile(uintptr(fd), v), nil
}

// Cleanup undoes what binding left in the file system: with RemoveOnStop=
// the socket and FIFO files and the Symlinks=. Errors are ignored: the
// files may be gone already.
func (s *Spec) Cleanup() {
	if !s.RemoveOnStop {
		return
	}
	for _, l := range s.Listen {
		switch {
		case l.Directive == "ListenFIFO", l.Address.Family == Unix && !l.Address.Abstract && l.Address.Path != "":
			p := l.Path
			if p == "" {
				p = l.Address.Path
			}
			_ = os.Remove(p)
		}
	}
	for _, l := range s.Symlinks {
		_ = os.Remove(l)
	}
}

// LinkSymlinks creates Symlinks= pointing at the unit's first AF_UNIX
// path or FIFO, as systemd does; a link that cannot be made is an error
// the caller reports without failing the socket.
func (s *Spec) LinkSymlinks() error {
	target := ""
	for _, l := range s.Listen {
		if l.Directive == "ListenFIFO" {
			target = l.Path
		} else if l.Address.Family == Unix && !l.Address.Abstract {
			target = l.Address.Path
		}
		if target != "" {
			break
		}
	}
	if len(s.Symlinks) == 0 {
		return nil
	}
	if target == "" {
		return errors.New("Symlinks= needs a ListenStream=, ListenDatagram=, ListenSequentialPacket= path or a ListenFIFO=")
	}
	var errs []error
	for _, l := range s.Symlinks {
		_ = os.MkdirAll(filepath.Dir(l), 0o755)
		if cur, err := os.Readlink(l); err == nil && cur == target {
			continue
		}
		_ = os.Remove(l)
		if err := os.Symlink(target, l); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sysctlV6Only reads net.ipv6.bindv6only (BindIPv6Only=default).
func sysctlV6Only() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
