package activate

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// IPAddressAllow= and IPAddressDeny= where tend does not see each peer.
//
// systemd enforces these with an eBPF program on the unit's cgroup: a
// packet from a peer that is not allowed is dropped before any socket
// sees it. For an Accept=yes socket tend accepts every connection
// itself and checks its peer (the connection is closed and counted as
// refused). An Accept=no socket is read by its service, not by tend:
// a stream listener's pending connection cannot be looked at without
// accepting it, and a datagram's source can be peeked at only until the
// service owns the socket. So tend attaches a classic BPF socket filter
// (SO_ATTACH_FILTER) to the listener itself: the kernel drops what the
// lists refuse — a TCP SYN never completes, a UDP datagram never
// arrives — whoever reads the socket, before and after activation, and
// so a refused peer never triggers the service. Accepted connections
// inherit the filter. It needs no privilege and no cgroup.

// skfNetOff is SKF_NET_OFF of linux/filter.h: a load at skfNetOff+n
// reads byte n of the packet's network (IP) header, wherever the socket
// layer's data pointer is.
const skfNetOff = -0x100000

const (
	verdictPass = 0xffffffff // keep the whole packet
	verdictDrop = 0
)

// needsFilter reports whether l is an Internet listener whose peers only
// a socket filter can check: every datagram listener, and the stream
// and seqpacket listeners of a socket whose service accepts them.
func (s *Spec) needsFilter(l Listener) bool {
	a := l.Address
	if l.Directive == "ListenFIFO" || l.Directive == "ListenSpecial" || l.Directive == "ListenNetlink" ||
		(a.Family != Inet4 && a.Family != Inet6) {
		return false
	}
	if len(s.IPAddressAllow) == 0 && len(s.IPAddressDeny) == 0 {
		return false
	}
	tendAccepts := s.Accept || s.Internal != ""
	return a.Type == Datagram || !tendAccepts
}

// applyAccess attaches the access filter to b, or removes one an
// earlier definition attached (a listener kept across a reload).
func (s *Spec) applyAccess(b *Bound) error {
	fd := int(b.File.Fd())
	if !s.needsFilter(b.Listener) {
		if b.filtered {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
				return fmt.Errorf("remove IPAddressAllow=/IPAddressDeny= filter: %w", err)
			}
			b.filtered = false
		}
		return nil
	}
	prog, err := AccessProgram(s.IPAddressAllow, s.IPAddressDeny)
	if err != nil {
		return err
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("attach IPAddressAllow=/IPAddressDeny= filter: %w", err)
	}
	b.filtered = true
	return nil
}

// AccessProgram compiles systemd's rule (Allowed) into a classic BPF
// socket filter over the packet's IP header: a source matching allow
// passes; else one matching deny is dropped; else it passes. IPv4
// packets (also those a dual-stack IPv6 socket receives) are matched
// against the IPv4 prefixes, IPv6 packets against the IPv6 ones.
func AccessProgram(allow, deny []netip.Prefix) ([]unix.SockFilter, error) {
	var v4, v6 []unix.SockFilter
	for _, r := range []struct {
		ps      []netip.Prefix
		verdict uint32
	}{{allow, verdictPass}, {deny, verdictDrop}} {
		for _, p := range r.ps {
			if p.Addr().Is4() {
				v4 = append(v4, matchPrefix(p, 12, r.verdict)...)
			} else {
				v6 = append(v6, matchPrefix(p, 8, r.verdict)...)
			}
		}
	}
	v4 = append(v4, ret(verdictPass))
	v6 = append(v6, ret(verdictPass))
	prog := []unix.SockFilter{
		ld(unix.BPF_B, 0), // version and header length
		{Code: unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(v4))},
	}
	prog = append(prog, v4...)
	prog = append(prog, v6...)
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("IPAddressAllow=/IPAddressDeny=: %d prefixes are too many for a socket filter", len(allow)+len(deny))
	}
	return prog, nil
}

// matchPrefix is a block that returns verdict when the source address
// (at byte off of the IP header) lies in p and falls through otherwise.
// Every jump is local to the block, so the 8-bit jump offsets of
// classic BPF suffice for any number of prefixes.
func matchPrefix(p netip.Prefix, off uint32, verdict uint32) []unix.SockFilter {
	addr := p.Masked().Addr().AsSlice()
	type word struct{ mask, val, off uint32 }
	var words []word
	for i, bits := 0, p.Bits(); bits > 0; i, bits = i+1, bits-32 {
		mask := ^uint32(0)
		if bits < 32 {
			mask <<= 32 - bits
		}
		words = append(words, word{mask, binary.BigEndian.Uint32(addr[4*i:]), off + 4*uint32(i)})
	}
	var out []unix.SockFilter
	for _, w := range words {
		out = append(out, ld(unix.BPF_W, w.off))
		if w.mask != ^uint32(0) {
			out = append(out, unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: w.mask})
		}
		out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: w.val})
	}
	fixJumps(out)
	return append(out, ret(verdict))
}

// fixJumps points each comparison's mismatch branch just past the
// block's return (appended after out): at most 13 instructions on.
func fixJumps(out []unix.SockFilter) {
	for i := range out {
		if out[i].Code == unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K {
			out[i].Jf = uint8(len(out) - i) // to the instruction after the return
		}
	}
}

func ld(size uint16, off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | size | unix.BPF_ABS, K: uint32(int32(skfNetOff) + int32(off))}
}

func ret(v uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: v} }
