package spawn

import (
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A process that gets sockets (LISTEN_FDS=) or a watchdog
// (WATCHDOG_USEC=) must also find its own pid in LISTEN_PID= or
// WATCHDOG_PID=, and only the child knows it. Go's fork runs no code of
// ours between fork and exec, so something must run in the child before
// the program: the exec helper (the tend binary re-executed, a few
// milliseconds of Go runtime start), or, where tend has one for the
// architecture, a trampoline of a few dozen machine instructions that
// writes its pid into the environment and execs the program — the same
// process, so the pid it wrote is the program's. An Accept=yes socket
// starts one such process per connection, which is why this is worth it.
//
// The trampoline is a minimal static ELF executable kept in a sealed
// memfd for the life of tend and executed as /proc/self/fd/N. Its
// interface: argv is [count, path, argv...]; the first count entries of
// the environment are NAME=<10 placeholder bytes>, overwritten with the
// decimal pid; it then execve(path, argv, env) and exits with EXIT_EXEC
// (203) if that fails. A "p" after the count ("0p") first resets SIGPIPE
// to its default action; tend no longer asks for it, since it gives the
// child its SIGPIPE disposition at the fork itself (setSIGPIPE), which
// spares the processes that only needed that reset a second execve.

// pidPlaceholder reserves room for any pid (pid_t is 32 bits).
const pidPlaceholder = "0000000000"

// trampolineMinFD is the lowest descriptor number the trampoline's memfd
// takes: fork moves the child's descriptors into the numbers from
// len(files) up, and must not overwrite it before the exec.
const trampolineMinFD = 100

// trampolineFD is the memfd holding the trampoline, or ok=false where
// there is none (no code for this architecture, or the kernel refuses
// executable memfds). It is created on first use and never changes.
var trampolineFD = sync.OnceValues(func() (int, bool) {
	if trampolineCode == nil {
		return -1, false
	}
	fd, err := newTrampoline(trampolineELF(trampolineCode, trampolineMachine))
	return fd, err == nil
})

func newTrampoline(image []byte) (int, error) {
	const name = "tend-pid-exec"
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // before Linux 6.3 memfds are executable without asking
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return -1, err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(image); err != nil {
		f.Close()
		return -1, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return -1, err
	}
	high, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, trampolineMinFD)
	f.Close()
	if err != nil {
		return -1, err
	}
	return high, nil
}

// trampolineELF wraps code in an ELF64 executable: the header, a
// loadable segment holding the whole file, and a non-executable stack.
func trampolineELF(code []byte, machine uint16) []byte {
	const (
		base     = 0x10000 // at or above the kernel's lowest mapping address
		ehdrSize = 64
		phdrSize = 56
		hdrs     = ehdrSize + 2*phdrSize
	)
	le := binary.LittleEndian
	b := make([]byte, hdrs, hdrs+len(code))
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1, System V ABI
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], base+hdrs) // entry
	le.PutUint64(b[32:], ehdrSize)  // program headers
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], 2)
	load := b[ehdrSize:]
	le.PutUint32(load[0:], 1)                       // PT_LOAD
	le.PutUint32(load[4:], 5)                       // R+X
	le.PutUint64(load[16:], base)                   // vaddr
	le.PutUint64(load[24:], base)                   // paddr
	le.PutUint64(load[32:], uint64(hdrs+len(code))) // file size
	le.PutUint64(load[40:], uint64(hdrs+len(code))) // memory size
	le.PutUint64(load[48:], 0x1000)                 // alignment
	stack := b[ehdrSize+phdrSize:]
	le.PutUint32(stack[0:], 0x6474e551) // PT_GNU_STACK
	le.PutUint32(stack[4:], 6)          // R+W
	return append(b, code...)
}

// useTrampoline makes the fork exec the trampoline instead of the
// program when the pid variables are the only thing the child must do
// itself: not inside RootDirectory= (the memfd's path is tend's /proc),
// and with the memfd out of the way of the child's descriptors.
func (p *plan) useTrampoline() bool {
	vars := p.ownPIDVars()
	if len(vars) == 0 || len(vars) > 9 || (p.ec.RootDirectory != "" && !p.s.Command.FullPrivilege) {
		return false
	}
	fd, ok := trampolineFD()
	// The fork moves descriptors below len(files) to len(files) and up
	// (at most one per file, plus its own pipe) before placing them.
	if !ok || fd < 2*len(p.files)+2 {
		return false
	}
	env := make([]string, 0, len(p.env)+len(vars))
	for _, name := range vars {
		env = append(env, name+"="+pidPlaceholder)
	}
	for _, kv := range p.env {
		if !slices.ContainsFunc(vars, func(name string) bool { return strings.HasPrefix(kv, name+"=") }) {
			env = append(env, kv)
		}
	}
	p.exe = "/proc/self/fd/" + strconv.Itoa(fd)
	p.exeArgv = append([]string{strconv.Itoa(len(vars)), p.path}, p.argv...)
	p.exeEnv, p.tramp = env, true
	return true
}
