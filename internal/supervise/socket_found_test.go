package supervise

import (
	"net/netip"
	"testing"
)

func TestParseInstance(t *testing.T) {
	for _, tc := range []struct {
		inst string
		n    uint64
		peer string // "" for none
		ok   bool
	}{
		{"0-127.0.0.1:24011-127.0.0.1:57416", 0, "127.0.0.1", true},
		{"17-::1:80-::1:5555", 17, "::1", true},
		{"3-fe80::1:22-2001:db8::2:40000", 3, "2001:db8::2", true},
		{"5-1234-1000", 5, "", true}, // a unix socket: peer pid and uid
		{"9-unknown", 9, "", true},
		{"x-127.0.0.1:1-127.0.0.1:2", 0, "", false},
		{"web", 0, "", false},
		{"", 0, "", false},
	} {
		n, peer, ok := parseInstance(tc.inst)
		var want netip.Addr
		if tc.peer != "" {
			want = netip.MustParseAddr(tc.peer)
		}
		if ok != tc.ok || (ok && (n != tc.n || peer != want)) {
			t.Errorf("parseInstance(%q) = %d, %v, %v; want %d, %v, %v", tc.inst, n, peer, ok, tc.n, want, tc.ok)
		}
	}
}
