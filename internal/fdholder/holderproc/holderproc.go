// Package holderproc is the fd holder process (package fdholder has the
// protocol and tend's client). It runs in a second process for as long as
// tend does, so its memory counts as tend's: it is built to touch as
// little as it can.
//
// Its init function takes the process over when the binary is started as
// `tend fdholder`, before the rest of tend's packages are initialised: Go
// initialises a package as soon as its imports are, preferring lower
// import paths, and this package imports only the runtime, syscall and
// memtrim (itself syscall only), so it runs before os, fmt, net and all of
// tend's own packages. The holder then never builds the command-line
// tree, the unit tables or anything else the rest of tend initialises,
// and its Go heap holds only its own table. The hidden `tend fdholder`
// command (package cli) reaches Main too, for a system without /proc.
package holderproc

import (
	"errors"
	"syscall"

	"github.com/tendproject/tend/internal/memtrim"
)

// Listener is the descriptor of the holder's listening socket, passed by
// tend run.
const Listener = 3

// Command is the argument that makes the binary the holder.
const Command = "fdholder"

// ErrNoFork: Fork is not built for this architecture.
var ErrNoFork = errors.New("fd holder: no fork on this architecture")

func init() {
	if invokedAsHolder() {
		syscall.Exit(Main(Listener))
	}
}

// invokedAsHolder reports whether argv[1] is Command. os.Args is not set
// yet (package os is initialised later), so it reads the kernel's copy.
func invokedAsHolder() bool {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var buf [4096 + len(Command) + 2]byte
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	args := buf[:n]
	for len(args) > 0 && args[0] != 0 { // argv[0]
		args = args[1:]
	}
	return len(args) > len(Command)+1 && string(args[1:len(Command)+1]) == Command && args[len(Command)+1] == 0
}

// Main runs the holder on the listening socket ln and returns the exit
// status.
func Main(ln int) int {
	closeInherited(ln)
	// Accept only when a client is there, whatever the socket's flags.
	if err := syscall.SetNonblock(ln, true); err != nil {
		return fail("listener", err)
	}
	// Hold as many descriptors as the limits allow.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	// Drop the holder's mappings of what starting the runtime touched in
	// the executable: the holder runs little code, and the manager's own
	// trim (which only pages out what one process maps) can then give
	// back what both touched.
	memtrim.Executable(syscall.MADV_DONTNEED)
	if err := New(syscall.Getuid()).Serve(ln, -1); err != nil {
		return fail("serve", err)
	}
	return 0
}

func fail(what string, err error) int {
	msg := "tend fdholder: " + what + ": " + err.Error() + "\n"
	_, _ = syscall.Write(2, []byte(msg))
	return 1
}

// closeInherited closes every descriptor above stderr, but keep, that
// came without close-on-exec: the holder outlives tend, and one it kept
// by mistake (an instance lock, a pipe's write end) would outlive tend
// with it — a lock held so would refuse the next tend run. The Go
// runtime's own descriptors are close-on-exec.
func closeInherited(keep int) {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer syscall.Close(dir)
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		var names []string
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if fd, ok := atoi(name); ok && fd > 2 && fd != keep && fd != dir {
				fds = append(fds, fd)
			}
		}
	}
	// Closed after the listing, which closing would disturb.
	for _, fd := range fds {
		if fl, err := fcntl(fd, syscall.F_GETFD, 0); err == nil && fl&syscall.FD_CLOEXEC == 0 {
			syscall.Close(fd)
		}
	}
}

func fcntl(fd, cmd, arg int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
