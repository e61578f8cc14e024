// Package memtrim gives back what a long-running tend process touched at
// start-up and no longer uses: the pages of its own executable.
package memtrim

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Executable applies madvise advice to every read-only mapping (text,
// rodata) of the running executable. The kernel keeps the file in its
// page cache, so code needed later comes back with a minor fault.
// MADV_PAGEOUT reclaims the pages only this process maps; MADV_DONTNEED
// drops this process's mappings of them, shared or not.
func Executable(advice int) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe || !strings.HasPrefix(f[1], "r") || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), uintptr(advice))
	}
}
