package supervise

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestGroupMain: after a crash the instance's main process is the one
// whose parent is outside its group, not the lowest pid (a child forked
// after the pids wrapped has a lower one).
func TestGroupMain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		procs map[int][2]uint64 // pid → ppid, start time
		want  int
	}{
		{"alone", map[int][2]uint64{500: {1, 10}}, 500},
		{"child with a lower pid", map[int][2]uint64{300: {1, 10}, 200: {300, 20}}, 300},
		{"two reparented, the older", map[int][2]uint64{400: {1, 30}, 600: {1, 10}}, 600},
		{"empty", map[int][2]uint64{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc, cg := t.TempDir(), t.TempDir()
			var list strings.Builder
			for pid, p := range tc.procs {
				fmt.Fprintf(&list, "%d\n", pid)
				dir := filepath.Join(proc, strconv.Itoa(pid))
				stat := fmt.Sprintf("%d (x) S %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", pid, p[0], pid, pid, p[1])
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(list.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			m := &Manager{opts: Options{Proc: proc}}
			if got := m.groupMain(cg); got != tc.want {
				t.Errorf("groupMain = %d; want %d", got, tc.want)
			}
		})
	}
}
