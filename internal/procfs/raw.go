package procfs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// WithRawSyscalls returns f whose Readers open and read the small
// per-process files without telling Go's scheduler: a /proc read takes
// 5–20 µs, just long enough that the runtime hands the goroutine's
// processor to another thread during it, and on a listing of thousands
// of processes those hand-offs cost 15 % of the wall time. The price is
// that a read which blocks (cmdline waits for the target's memory map
// lock; a process stuck in the kernel can hold it) also stalls Go's
// garbage collector until it returns. The command-line views, which
// would wait for that read anyway, take the trade; the daemon does not.
func (f FS) WithRawSyscalls() FS {
	f.raw = true
	return f
}

// atFDCWD is AT_FDCWD as a variable: the constant is negative and cannot
// be converted to a uintptr at compile time.
var atFDCWD = unix.AT_FDCWD

func rawOpen(path string) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	for {
		fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)),
			unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

func rawRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawClose(fd int) { unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

func rawPread(fd int, b []byte, off int64) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
