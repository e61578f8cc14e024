package daemon

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimMemory gives back what boot used and idle running does not: free
// heap pages, and the pages of tend's own executable that are mapped but
// no longer touched (parsing, planning, start-up code). The kernel keeps
// the executable in its page cache, so code needed later comes back with a
// minor fault; nothing is lost, only the resident set of an idle daemon
// shrinks to what it uses. Called when the boot target is reached and
// after every daemon-reload.
func trimMemory() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || !strings.HasPrefix(fields[1], "r") || strings.Contains(fields[1], "w") {
			continue // only read-only (text, rodata) mappings of the executable
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		_ = madvisePageout(uintptr(start), uintptr(end-start))
	}
}

func madvisePageout(addr, length uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, unix.MADV_PAGEOUT)
	if errno != 0 {
		return errno
	}
	return nil
}
