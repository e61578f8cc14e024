// Package procfs reads the Linux /proc file system: per-process files
// (stat, status, cmdline, cgroup, fd, limits, ns, …) and system-wide ones
// (loadavg, meminfo, stat). It only parses; it never writes.
//
// Everything is rooted at a path given to New, so tests run against fixture
// trees. The parsers are hand-written and lean rather than built on
// prometheus/procfs: the views read only the few files they need for
// thousands of processes, reuse one buffer per Reader and skip the
// allocation of fields nobody asked for (see docs/decisions.md).
package procfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// UserHZ is the unit of the clock-tick fields in /proc (utime, starttime,
// …). It is part of the kernel ABI and is 100 on every Linux architecture
// Go supports.
const UserHZ = 100

// ErrGone reports that a process exited (or its /proc entry vanished) while
// it was being read. It matches fs.ErrNotExist with errors.Is.
var ErrGone = fmt.Errorf("process is gone: %w", fs.ErrNotExist)

// FS is a /proc tree rooted at a path.
type FS struct {
	root string
	raw  bool // see WithRawSyscalls
}

// New returns the /proc tree mounted at root (usually "/proc").
func New(root string) FS { return FS{root: root} }

// Root returns the path the tree is rooted at.
func (f FS) Root() string { return f.root }

// Path joins elements below the root.
func (f FS) Path(elem ...string) string {
	p := f.root
	for _, e := range elem {
		p += "/" + e
	}
	return p
}

// PIDs lists the numeric entries of the root, sorted ascending.
func (f FS) PIDs() ([]int, error) {
	var pids []int
	err := f.PIDBatches(func(b []int) bool {
		pids = append(pids, b...)
		return true
	})
	if err != nil {
		return nil, err
	}
	if !sort.IntsAreSorted(pids) { // /proc lists in pid order; a fixture tree need not
		sort.Ints(pids)
	}
	return pids, nil
}

// PIDBatches lists the numeric entries of the root one directory read at
// a time (a few hundred pids, ascending in /proc), so that a caller can
// read the first processes while the kernel lists the rest: listing
// 5000 pids costs as much as reading 500 processes' stat. It stops when
// yield returns false. Each batch is a new slice.
func (f FS) PIDBatches(yield func([]int) bool) error {
	fd, err := unix.Open(f.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("list processes: %w", &fs.PathError{Op: "open", Path: f.root, Err: err})
	}
	defer unix.Close(fd)
	if err := eachDirNums(fd, yield); err != nil {
		return fmt.Errorf("list processes: %w", &fs.PathError{Op: "getdents", Path: f.root, Err: err})
	}
	return nil
}

// eachDirNums reads the open directory fd to its end, or until yield
// returns false, and gives yield the numeric names of each read.
func eachDirNums(fd int, yield func([]int) bool) error {
	buf := make([]byte, 8<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		if nums := direntNums(buf[:n]); len(nums) > 0 && !yield(nums) {
			return nil
		}
	}
}

// direntNums returns the names of a getdents64 buffer that are decimal
// numbers, as numbers.
func direntNums(b []byte) []int {
	var out []int
	// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
	const nameOff = 19
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < nameOff || reclen > len(b) {
			break
		}
		name := b[nameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if v, ok := atou(name); ok && v <= math.MaxInt32 {
			out = append(out, int(v))
		}
		b = b[reclen:]
	}
	return out
}

// Exists reports whether pid has an entry.
func (f FS) Exists(pid int) bool {
	var st unix.Stat_t
	return unix.Stat(f.pidPath(pid, ""), &st) == nil
}

func (f FS) pidPath(pid int, file string) string {
	b := make([]byte, 0, len(f.root)+24)
	b = append(b, f.root...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(pid), 10)
	if file != "" {
		b = append(b, '/')
		b = append(b, file...)
	}
	return string(b)
}

// Reader reads files of the tree with one reusable buffer. A Reader is not
// safe for concurrent use; give each goroutine its own.
type Reader struct {
	FS  FS
	buf []byte
}

// NewReader returns a Reader for f.
func (f FS) NewReader() *Reader { return &Reader{FS: f, buf: make([]byte, 4096)} }

// read returns the whole content of path in r's buffer; the slice is valid
// until the next read.
func (r *Reader) read(path string) ([]byte, error) {
	fd, err := r.open(path)
	if err != nil {
		return nil, err
	}
	return r.readFD(fd, path)
}

// open opens path for reading, with raw system calls when the tree says so.
func (r *Reader) open(path string) (int, error) {
	open := func(p string) (int, error) { return unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0) }
	if r.FS.raw {
		open = rawOpen
	}
	fd, err := open(path)
	if err != nil {
		return -1, fileErr(path, err)
	}
	return fd, nil
}

// readFD reads fd to the end into r's buffer and closes it.
func (r *Reader) readFD(fd int, path string) ([]byte, error) {
	read, closeFD := unix.Read, unix.Close
	if r.FS.raw {
		read, closeFD = rawRead, func(fd int) error { rawClose(fd); return nil }
	}
	defer closeFD(fd)
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fileErr(path, err)
		}
		if m == 0 {
			return r.buf[:n], nil
		}
		n += m
		if n < len(r.buf) {
			// /proc files are generated whole at the first read, so a
			// short read is the end; skipping the read that would
			// return 0 saves a quarter of the syscalls of a listing.
			return r.buf[:n], nil
		}
	}
}

// ReadFile returns a copy of the content of a file below the root.
func (r *Reader) ReadFile(elem ...string) ([]byte, error) {
	b, err := r.read(r.FS.Path(elem...))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// fileErr turns the errno of a vanished process into ErrGone and adds the
// path as context; permission errors keep matching fs.ErrPermission.
func fileErr(path string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("read %s: %w", path, ErrGone)
	}
	return &fs.PathError{Op: "read", Path: path, Err: err}
}
