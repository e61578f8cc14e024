package activate

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	long := "/run/" + strings.Repeat("x", 103) // 108 bytes: one too many
	tests := []struct {
		typ     SocketType
		in      string
		family  Family
		str     string // String() of the result
		portOnl bool
		err     string // substring of the error; "" = valid
	}{
		{Stream, "7", Inet6, "[::]:7", true, ""},
		{Stream, "65535", Inet6, "[::]:65535", true, ""},
		{Stream, "0", "", "", false, "out of range"},
		{Stream, "65536", "", "", false, "out of range"},
		{Stream, "127.0.0.1:7", Inet4, "127.0.0.1:7", false, ""},
		{Stream, "0.0.0.0:7", Inet4, "0.0.0.0:7", false, ""},
		{Datagram, "[::1]:53", Inet6, "[::1]:53", false, ""},
		{Stream, "[fe80::1%eth0]:80", Inet6, "[fe80::1%eth0]:80", false, ""},
		{Stream, "[fe80::1%2]:80", Inet6, "[fe80::1%2]:80", false, ""},
		{Stream, "[fe80::1%]:80", "", "", false, "invalid interface"},
		{Stream, "[fe80::1%a/b]:80", "", "", false, "invalid interface"},
		{Stream, "[::ffff:127.0.0.1]:80", Inet6, "[::ffff:127.0.0.1]:80", false, ""},
		{Stream, "[127.0.0.1]:80", "", "", false, "not an IPv6"},
		{Stream, "[::1]", "", "", false, "want [IPv6]:port"},
		{Stream, "[::1]:0", "", "", false, "out of range"},
		{Stream, "::1:7", "", "", false, "not an IPv4"},
		{Stream, "localhost:7", "", "", false, "not an IPv4"},
		{Stream, "*:7", "", "", false, "not an IPv4"},
		{Stream, "1.2.3.4", "", "", false, "want a port"},
		{Stream, "1.2.3.4:x", "", "", false, "invalid port"},
		{Stream, "1.2.3.4:+7", "", "", false, "invalid port"},
		{Stream, " 7", "", "", false, "want a port"},
		{Stream, "/run/x.sock", Unix, "/run/x.sock", false, ""},
		{SeqPacket, "/run/x.sock", Unix, "/run/x.sock", false, ""},
		{Stream, long[:len(long)-1], Unix, long[:len(long)-1], false, ""},
		{Stream, long, "", "", false, "longer than"},
		{Stream, "@abs", Unix, "@abs", false, ""},
		{Stream, "@a/b", Unix, "@a/b", false, ""},
		{Stream, "@", "", "", false, "empty abstract"},
		{Stream, "rel/path", "", "", false, "want a port"},
		{Stream, "", "", "", false, "empty"},
		{Stream, "vsock:2:7", "", "", false, "AF_VSOCK"},
		{SeqPacket, "127.0.0.1:7", "", "", false, "AF_UNIX addresses only"},
		{SeqPacket, "7", "", "", false, "AF_UNIX addresses only"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+tt.in, func(t *testing.T) {
			a, err := ParseAddress(tt.typ, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, %v; want error containing %q", a, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want %s", err, tt.str)
			}
			if a.Family != tt.family || a.String() != tt.str || a.PortOnly != tt.portOnl || a.Type != tt.typ {
				t.Fatalf("got %s %q port-only=%v type %s; want %s %q port-only=%v type %s",
					a.Family, a.String(), a.PortOnly, a.Type, tt.family, tt.str, tt.portOnl, tt.typ)
			}
		})
	}
	if _, err := ParseAddress(Stream, "vsock:2:7"); !errors.Is(err, ErrVsock) {
		t.Fatalf("vsock: got %v; want ErrVsock", err)
	}
}

func TestV6Only(t *testing.T) {
	v6, _ := ParseAddress(Stream, "7")
	v4, _ := ParseAddress(Stream, "0.0.0.0:7")
	tests := []struct {
		a      Address
		b      BindIPv6Only
		sysctl bool
		want   bool
	}{
		{v6, IPv6Default, false, false},
		{v6, IPv6Default, true, true},
		{v6, IPv6Both, true, false},
		{v6, IPv6Only, false, true},
		{v4, IPv6Only, true, false},
	}
	for _, tt := range tests {
		if got := tt.a.V6Only(tt.b, tt.sysctl); got != tt.want {
			t.Errorf("%s with %s, sysctl %v: got %v; want %v", tt.a, tt.b, tt.sysctl, got, tt.want)
		}
	}
}

// FuzzParseAddress checks that whatever parses formats back to a value
// that parses to the same address.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"7", "127.0.0.1:7", "[::1]:7", "[fe80::1%eth0]:80", "/run/a", "@x", "vsock:1:2", "[::ffff:1.2.3.4]:9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseAddress(Stream, in)
		if err != nil {
			return
		}
		if a.IsIP() && a.Port == 0 {
			t.Fatalf("%q: port 0 accepted", in)
		}
		b, err := ParseAddress(Stream, a.String())
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", in, a.String(), err)
		}
		b.PortOnly = a.PortOnly
		if a != b {
			t.Fatalf("%q: got %+v, round trip %+v", in, a, b)
		}
	})
}
