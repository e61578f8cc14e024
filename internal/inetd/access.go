package inetd

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

var (
	anyV4 = netip.MustParsePrefix("0.0.0.0/0")
	anyV6 = netip.MustParsePrefix("::/0")
)

// access maps only_from and no_access onto IPAddressAllow= and
// IPAddressDeny=. xinetd lets the more specific match win when a peer is
// in both lists; systemd lets Allow win. The allow list is therefore
// computed so that systemd's rule gives xinetd's answer: each only_from
// prefix minus the no_access prefixes at least as specific inside it.
func (r *xreader) access(b *block, s *Service) error {
	from, hasFrom := r.get(b, "only_from")
	noAccess, _ := r.get(b, "no_access")
	allow, err := xinetdPrefixes(from, s, "only_from")
	if err != nil {
		return err
	}
	deny, err := xinetdPrefixes(noAccess, s, "no_access")
	if err != nil {
		return err
	}
	if !hasFrom {
		s.Deny = deny
		return nil
	}
	for _, a := range allow {
		s.Allow = append(s.Allow, subtract(a, deny)...)
	}
	s.Deny = []netip.Prefix{anyV4, anyV6}
	if s.Wait {
		s.Notes = append(s.Notes, "only_from/no_access on a wait service: tend can check only the peer that starts the server")
	}
	return nil
}

// xinetdPrefixes parses xinetd's address forms: a.b.c.d (trailing zero
// parts are wildcards: 10.1.0.0 is 10.1/16, 0.0.0.0 everything),
// a.b.c.{d,e,…}, address/bits, IPv6 addresses, and "localhost". Other
// names need DNS: in only_from they are dropped (fewer peers get in), in
// no_access they are refused (tend would let in whom xinetd refuses).
func xinetdPrefixes(vals []string, s *Service, attr string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		ps, err := xinetdPrefix(v)
		if err != nil && attr == "no_access" {
			return nil, fmt.Errorf("no_access %s: %v", v, err)
		}
		if err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("only_from %s: %v; dropped (no peer matches it)", v, err))
			continue
		}
		out = append(out, ps...)
	}
	return out, nil
}

func xinetdPrefix(v string) ([]netip.Prefix, error) {
	switch {
	case v == "localhost":
		return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, nil
	case strings.Contains(v, "/"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("not an address/bits")
		}
		return []netip.Prefix{p.Masked()}, nil
	case strings.HasSuffix(v, "}"):
		head, list, ok := strings.Cut(strings.TrimSuffix(v, "}"), "{")
		if !ok || !strings.HasSuffix(head, ".") {
			return nil, fmt.Errorf("not a factorized address")
		}
		var out []netip.Prefix
		for _, last := range strings.Split(list, ",") {
			ps, err := xinetdPrefix(head + last)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		if parts := strings.Split(v, "."); len(parts) < 4 && allNumbers(parts) {
			a, err = netip.ParseAddr(v + strings.Repeat(".0", 4-len(parts)))
		}
		if err != nil {
			return nil, fmt.Errorf("not a numeric address (tend does not resolve host or network names)")
		}
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("zones are not allowed")
	}
	if a.Is6() {
		return []netip.Prefix{netip.PrefixFrom(a, 128)}, nil
	}
	b := a.As4()
	bits := 32
	for i := 3; i >= 0 && b[i] == 0; i-- {
		bits -= 8
	}
	if bits == 0 {
		return []netip.Prefix{anyV4, anyV6}, nil // 0.0.0.0: every address
	}
	return []netip.Prefix{netip.PrefixFrom(a, bits)}, nil
}

func allNumbers(parts []string) bool {
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return false
		}
	}
	return true
}

// subtract returns a minus every prefix of deny that lies inside it and
// is at least as specific, as a list of prefixes.
func subtract(a netip.Prefix, deny []netip.Prefix) []netip.Prefix {
	for _, d := range deny {
		if d.Addr().Is4() != a.Addr().Is4() || d.Bits() < a.Bits() || !a.Contains(d.Addr()) {
			continue
		}
		if d.Bits() == a.Bits() {
			return nil
		}
		// Split a into its two halves and keep going in each.
		lo, hi := halves(a)
		return append(subtract(lo, deny), subtract(hi, deny)...)
	}
	return []netip.Prefix{a}
}

// halves splits a prefix into its two children.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	lo := netip.PrefixFrom(p.Addr(), bits)
	b := p.Addr().AsSlice()
	i := p.Bits()
	b[i/8] |= 0x80 >> (i % 8)
	hiAddr, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(hiAddr, bits)
}
