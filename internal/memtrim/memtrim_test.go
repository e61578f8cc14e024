package memtrim

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseMapping(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
		want Mapping
	}{
		{"00400000-0047d000 r-xp 00000000 fe:00 10020321                           /usr/bin/tend", true,
			Mapping{0x400000, 0x47d000, "r-xp", "/usr/bin/tend"}},
		{"7f9d0a402000-7f9d0a462000 rw-p 00000000 00:00 0 ", true, Mapping{0x7f9d0a402000, 0x7f9d0a462000, "rw-p", ""}},
		{"7f9d0a402000-7f9d0a462000 rw-p 00000000 00:00", false, Mapping{}},
		{"00400000-0047d000 r--p 00000000 fe:00 1 /tmp/a b (deleted)", true,
			Mapping{0x400000, 0x47d000, "r--p", "/tmp/a b (deleted)"}},
		{"0047d000-00400000 r--p 00000000 fe:00 1 /x", false, Mapping{}},
		{"zz-00400000 r--p 00000000 fe:00 1 /x", false, Mapping{}},
		{"00400000 r--p 00000000 fe:00 1 /x", false, Mapping{}},
		{"", false, Mapping{}},
		{"00400000-0047d000 r--p 00000000 fe:00 1", true, Mapping{0x400000, 0x47d000, "r--p", ""}},
	} {
		got, ok := parseMapping(c.line)
		if ok != c.ok || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

// exeRSS is the resident KiB of the test binary's read-only mappings.
func exeRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-"):
			in = f[5] == exe && !strings.Contains(f[1], "w")
		case in && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			total += n
		}
	}
	return total
}

// Dropping the executable's mappings lowers the resident set; the
// process runs on, faulting back what it touches.
func TestExecutable(t *testing.T) {
	before := exeRSS(t)
	Executable(syscall.MADV_DONTNEED)
	if after := exeRSS(t); after >= before {
		t.Fatalf("resident executable pages: %d KiB before, %d KiB after", before, after)
	}
}
