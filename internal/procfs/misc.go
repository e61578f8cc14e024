package procfs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Limit is one line of /proc/PID/limits; -1 means unlimited.
type Limit struct {
	Name  string // "Max open files"
	Soft  int64
	Hard  int64
	Units string // "files", "bytes", "seconds", … or ""
}

// Limits reads /proc/PID/limits.
func (r *Reader) Limits(pid int) ([]Limit, error) {
	b, err := r.read(r.FS.pidPath(pid, "limits"))
	if err != nil {
		return nil, err
	}
	return ParseLimits(b)
}

// ParseLimits parses the fixed-width table of a limits file. The name
// column is 26 characters wide; the values are separated by spaces.
func ParseLimits(b []byte) ([]Limit, error) {
	var out []Limit
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if i == 0 || strings.TrimSpace(line) == "" {
			continue // header
		}
		if len(line) < 26 {
			return nil, fmt.Errorf("limits: short line %q", line)
		}
		name := strings.TrimSpace(line[:26])
		f := strings.Fields(line[26:])
		if len(f) < 2 {
			return nil, fmt.Errorf("limits: %s: %d values; want 2", name, len(f))
		}
		l := Limit{Name: name}
		var err error
		if l.Soft, err = limitValue(f[0]); err == nil {
			l.Hard, err = limitValue(f[1])
		}
		if err != nil {
			return nil, fmt.Errorf("limits: %s: %w", name, err)
		}
		if len(f) > 2 {
			l.Units = f[2]
		}
		out = append(out, l)
	}
	return out, nil
}

func limitValue(s string) (int64, error) {
	if s == "unlimited" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// Namespace is one entry of /proc/PID/ns.
type Namespace struct {
	Type  string // "net", "mnt", …
	Inode uint64
}

// Namespaces reads the links of /proc/PID/ns ("net:[4026531840]").
func (r *Reader) Namespaces(pid int) ([]Namespace, error) {
	dir := r.FS.pidPath(pid, "ns")
	var out []Namespace
	link := make([]byte, 128)
	for _, typ := range nsTypes {
		n, err := unix.Readlink(dir+"/"+typ, link)
		if err != nil {
			if err == unix.ENOENT && r.FS.Exists(pid) {
				continue // namespace type this kernel lacks
			}
			return out, fileErr(dir+"/"+typ, err)
		}
		_, ino, ok := ParseLinkInode(string(link[:n]))
		if !ok {
			return out, fmt.Errorf("ns: bad link %q", link[:n])
		}
		out = append(out, Namespace{Type: typ, Inode: ino})
	}
	return out, nil
}

var nsTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// Syscall is /proc/PID/syscall: the system call the task is blocked in.
type Syscall struct {
	// Running is true when the task is on a CPU (the file says "running").
	Running bool
	// Number is the syscall number, or -1 when the task is blocked outside
	// a system call (in a fault).
	Number int
	Args   [6]uint64
	SP, PC uint64
}

// Syscall reads /proc/PID/syscall (needs ptrace access: root or owner).
func (r *Reader) Syscall(pid int) (Syscall, error) {
	b, err := r.read(r.FS.pidPath(pid, "syscall"))
	if err != nil {
		return Syscall{}, err
	}
	return ParseSyscall(b)
}

// ParseSyscall parses "running", "-1 sp pc" or "nr a0 … a5 sp pc".
func ParseSyscall(b []byte) (Syscall, error) {
	var s Syscall
	b = bytes.TrimSpace(b)
	if string(b) == "running" {
		s.Running = true
		return s, nil
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return s, fmt.Errorf("syscall: empty")
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return s, fmt.Errorf("syscall: bad number %q", f[0])
	}
	s.Number = nr
	vals := make([]uint64, 0, 8)
	for _, w := range f[1:] {
		v, err := strconv.ParseUint(strings.TrimPrefix(w, "0x"), 16, 64)
		if err != nil {
			return s, fmt.Errorf("syscall: bad value %q", w)
		}
		vals = append(vals, v)
	}
	switch {
	case nr == -1 && len(vals) == 2:
		s.SP, s.PC = vals[0], vals[1]
	case nr >= 0 && len(vals) == 8:
		copy(s.Args[:], vals[:6])
		s.SP, s.PC = vals[6], vals[7]
	default:
		return s, fmt.Errorf("syscall: %d values after the number", len(vals))
	}
	return s, nil
}
