// Package memtrim gives back what a long-running tend process touched at
// start-up and no longer uses: the pages of its own executable. Mappings
// lists the process's mappings, for the fd holder, which drops all it
// inherited (internal/fdholder/holderproc).
package memtrim

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Executable applies madvise advice to every read-only mapping (text,
// rodata) of the running executable. The kernel keeps the file in its
// page cache, so code needed later comes back with a minor fault.
// MADV_PAGEOUT reclaims the pages only this process maps; MADV_DONTNEED
// drops this process's mappings of them, shared or not.
func Executable(advice int) {
	// Not os.Executable: it drops the " (deleted)" that the maps show
	// too once the binary is replaced on disk.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	for _, m := range Mappings() {
		if m.Path == exe && m.Perms[0] == 'r' && m.Perms[1] != 'w' {
			_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.Start), uintptr(m.End-m.Start), uintptr(advice))
		}
	}
}

// Mapping is one line of /proc/self/maps.
type Mapping struct {
	Start, End uint64
	Perms      string // "r-xp"
	Path       string // "" for anonymous memory
}

// Mappings lists the process's mappings; nil if /proc is not there.
func Mappings() []Mapping {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []Mapping
	for line := range strings.Lines(string(maps)) {
		if m, ok := parseMapping(strings.TrimSuffix(line, "\n")); ok {
			out = append(out, m)
		}
	}
	return out
}

// parseMapping reads one line of /proc/PID/maps:
// "start-end perms offset dev inode   path".
func parseMapping(line string) (Mapping, bool) {
	var f [5]string
	for i := range f {
		f[i], line, _ = strings.Cut(strings.TrimLeft(line, " "), " ")
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok || len(f[1]) < 2 || f[4] == "" {
		return Mapping{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end < start {
		return Mapping{}, false
	}
	// The path may contain spaces; it is the rest after the padding.
	return Mapping{Start: start, End: end, Perms: f[1], Path: strings.TrimLeft(line, " ")}, true
}
