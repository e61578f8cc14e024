// Package memtrim gives back what a long-running tend process touched at
// start-up and no longer uses: the pages of its own executable. Mappings
// lists the process's mappings, for the fd holder, which drops all it
// inherited (internal/fdholder/holderproc).
package memtrim

import "syscall"

// Executable applies madvise advice to every read-only mapping (text,
// rodata) of the running executable. The kernel keeps the file in its
// page cache, so code needed later comes back with a minor fault.
// MADV_PAGEOUT reclaims the pages only this process maps; MADV_DONTNEED
// drops this process's mappings of them, shared or not.
func Executable(advice int) {
	var exe [syscall.PathMax]byte
	n, err := syscall.Readlink("/proc/self/exe", exe[:])
	if err != nil || n <= 0 || n >= len(exe) {
		return
	}
	for _, m := range Mappings() {
		if m.Path == string(exe[:n]) && m.Perms[0] == 'r' && m.Perms[1] != 'w' {
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
	maps, ok := ReadProc("/proc/self/maps")
	if !ok {
		return nil
	}
	var out []Mapping
	for len(maps) > 0 {
		line := maps
		if i := indexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		if m, ok := parseMapping(line); ok {
			out = append(out, m)
		}
	}
	return out
}

// parseMapping reads one line of /proc/PID/maps:
// "start-end perms offset dev inode   path".
func parseMapping(line []byte) (Mapping, bool) {
	var f [6]string
	k := 0
	for k < len(f) {
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if len(line) == 0 {
			break
		}
		if k == len(f)-1 { // the path may contain spaces
			f[k] = string(line)
			k++
			break
		}
		i := indexByte(line, ' ')
		if i < 0 {
			i = len(line)
		}
		f[k], line = string(line[:i]), line[i:]
		k++
	}
	if k < len(f)-1 || len(f[1]) < 2 {
		return Mapping{}, false
	}
	lo, hi, ok := cut(f[0], '-')
	if !ok {
		return Mapping{}, false
	}
	start, ok1 := parseHex(lo)
	end, ok2 := parseHex(hi)
	if !ok1 || !ok2 || end < start {
		return Mapping{}, false
	}
	return Mapping{Start: start, End: end, Perms: f[1], Path: f[5]}, true
}

// ReadProc reads a file of /proc, whose size stat does not tell.
func ReadProc(path string) ([]byte, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	b := make([]byte, 0, 8192)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if n == 0 {
			return b, true
		}
		b = b[:len(b)+n]
	}
}

func parseHex(s string) (uint64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
