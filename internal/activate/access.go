package activate

import (
	"fmt"
	"net/netip"
	"strings"
)

// Named address sets of IPAddressAllow=/IPAddressDeny= (systemd.resource-control(5)).
var namedPrefixes = map[string][]netip.Prefix{
	"any":        {netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	"localhost":  {netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	"link-local": {netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/64")},
	"multicast":  {netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8")},
}

// ParsePrefixes parses a value of IPAddressAllow= or IPAddressDeny=:
// whitespace-separated addresses with an optional "/length", or the
// names any, localhost, link-local and multicast. A bare address is a
// host (/32 or /128). Prefixes come back masked.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, w := range strings.Fields(s) {
		if ps, ok := namedPrefixes[w]; ok {
			out = append(out, ps...)
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(w, "/") {
			p, err = netip.ParsePrefix(w)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(w); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("invalid address or prefix %q", w)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// FormatPrefixes writes prefixes as IPAddressAllow= takes them (hosts
// without their length).
func FormatPrefixes(ps []netip.Prefix) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		if p.IsSingleIP() {
			b.WriteString(p.Addr().String())
		} else {
			b.WriteString(p.String())
		}
	}
	return b.String()
}

// Allowed applies systemd's rule to a peer: an address matching allow is
// let in; else one matching deny is refused; else it is let in. An
// IPv4-mapped IPv6 peer (a dual-stack socket) is matched as IPv4.
func Allowed(peer netip.Addr, allow, deny []netip.Prefix) bool {
	peer = peer.Unmap().WithZone("")
	for _, p := range allow {
		if p.Contains(peer) {
			return true
		}
	}
	for _, p := range deny {
		if p.Contains(peer) {
			return false
		}
	}
	return true
}
