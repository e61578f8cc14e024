package daemon

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fdSize is the size of this process's descriptor table (FDSize in
// /proc/self/status).
func fdSize(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/self/status")
	return 0
}

// TestReserveFDs: the table grows to the reserved size in one go, and
// the descriptor used to grow it is not left open.
func TestReserveFDs(t *testing.T) {
	const want = 3000
	if fdSize(t) >= want {
		t.Skipf("the table already holds %d descriptors", fdSize(t))
	}
	before, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	reserveFDs(want)
	if got := fdSize(t); got < want {
		t.Errorf("FDSize = %d after reserveFDs(%d)", got, want)
	}
	after, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d descriptors open before reserveFDs, %d after", len(before), len(after))
	}
}

// TestGrowFDsInOrder: a growth started after another waits for it, and
// the table ends at the later size once the later one is done.
func TestGrowFDsInOrder(t *testing.T) {
	cur := fdSize(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(cur*4) {
		t.Skipf("RLIMIT_NOFILE %d is below %d", lim.Cur, cur*4)
	}
	first := growFDs(nil, cur*2)
	second := growFDs(first, cur*4)
	<-second
	select {
	case <-first:
	default:
		t.Fatal("the later growth ended before the earlier one")
	}
	if got := fdSize(t); got < cur*4 {
		t.Errorf("FDSize = %d after growing to %d", got, cur*4)
	}
}
