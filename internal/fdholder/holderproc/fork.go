//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package holderproc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/memtrim"
)

// Fork starts the holder as a child of this process that never returns
// to the Go runtime. A Go process costs a few MiB however little it does
// (heap, stacks, the runtime's own tables, the pages of the executable
// it touches); a fork that serves from raw system calls, on memory set
// aside here, and drops every other page it inherited costs a few dozen
// KiB. The child closes every descriptor but ln, the listening socket it
// serves (non-blocking from then on), and a pidfd of this process, its
// manager; it starts a session of its own, resets every signal to its
// default action and admits clients of uid only (SO_PEERCRED). Once its
// manager is gone it waits grace for a new one to take it over (the
// 'M' request) and then exits (manager.go); grace 0 waits for ever. It
// returns the child's pid.
//
// Everything the child runs is //go:nosplit and //go:norace, allocates
// nothing and stores no pointer (as in the syscall package's child after
// fork): it must not grow its stack, call the scheduler or the garbage
// collector, or need a write barrier.
func Fork(ln, uid int, grace time.Duration) (int, error) {
	mem, err := syscall.Mmap(-1, 0, int(unsafe.Sizeof(child{})), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(mem) // the child has its own copy
	st := (*child)(unsafe.Pointer(&mem[0]))
	st.ln, st.uid = int32(ln), int32(uid)
	st.graceMS = GraceMS(grace)
	// The child inherits the pidfd; without one (a kernel before 5.3)
	// the holder outlives its manager as it did before it had one.
	st.mgr, st.tfd = -1, -1
	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		st.mgr = int32(fd)
		defer unix.Close(fd)
	}
	self := uintptr(unsafe.Pointer(&mem[0]))
	for _, m := range memtrim.Mappings() {
		switch m.Path {
		case "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]":
			continue
		}
		// The kernel may have merged the child's memory into a
		// neighbouring mapping: that part is kept.
		lo, hi := uintptr(m.Start), uintptr(m.End)
		if lo < self {
			st.addDrop(lo, min(hi, self))
		}
		if hi > self+uintptr(len(mem)) {
			st.addDrop(max(lo, self+uintptr(len(mem))), hi)
		}
	}
	st.argStart, st.argEnd = argvArea()
	st.page = uintptr(syscall.Getpagesize())
	st.keep[0] = [2]uintptr{st.argStart &^ (st.page - 1), (st.argEnd + st.page - 1) &^ (st.page - 1)}
	pid, errno := forkChild(st)
	if errno != 0 {
		return 0, errno
	}
	return int(pid), nil
}

// argvArea returns where the kernel keeps this process's command line
// (/proc/self/stat, fields 48 and 49); zeros if unknown.
func argvArea() (start, end uintptr) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0
	}
	// The fields after the command's ")", the first of them field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 49-2 {
		return 0, 0
	}
	s, err1 := strconv.ParseUint(f[48-3], 10, 64)
	e, err2 := strconv.ParseUint(f[49-3], 10, 64)
	if err1 != nil || err2 != nil || e <= s || e-s > 1<<20 {
		return 0, 0
	}
	return uintptr(s), uintptr(e)
}

func (st *child) addDrop(lo, hi uintptr) {
	if st.ndrop < len(st.drop) {
		st.drop[st.ndrop] = [2]uintptr{lo, hi}
		st.ndrop++
	}
}

// forkChild forks; in the child it serves and never returns.
//
//go:nosplit
//go:norace
func forkChild(st *child) (uintptr, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return pid, errno
	}
	st.main()
	return 0, 0 // not reached
}

const (
	maxDrop     = 256
	maxFDs      = 8        // descriptors read with one request
	batchOut    = 16 << 10 // bytes of a 'G' message the holder sends; the client takes up to BatchMax
	namesSize   = MaxEntries * 128
	stackKeep   = 4 << 10 // kept at least each side of the child's stack pointer
	sysCloseRng = 436     // close_range(2), the same number on every architecture
	sigsetBytes = 8
	atFDCWD     = ^uintptr(99) // AT_FDCWD, -100
)

// child is the holder's whole state, in memory of its own: a table of
// names and descriptors, the names packed in one array, and the buffers
// of the system calls.
type child struct {
	ln, uid int32
	ep      int32
	mgr     int32 // a pidfd of the manager; -1 while there is none
	tfd     int32 // the grace timer (timerfd), armed while there is no manager
	graceMS uint64
	its     itimerspec
	ts      timespec
	pfd     pollfd
	ticks   uint64
	page    uintptr // the page size: madvise's unit
	ndrop   int
	drop    [maxDrop][2]uintptr // mappings to drop after the fork
	n       int                 // entries in ents
	used    int                 // bytes of names in use, garbage included
	garbage int                 // bytes of names no entry refers to
	ents    [MaxEntries]entry
	buf     [MsgMax + 1]byte
	out     [MsgMax + 1]byte
	bout    [batchOut]byte // a 'G' message being made
	bcmsg   cmsgBatch
	oob     cmsgIn
	cmsg    cmsgOut
	fds     [maxFDs]int32
	nfds    int
	iov     iovec
	msg     msghdr
	evs     [16]syscall.EpollEvent
	ev      syscall.EpollEvent
	cred    syscall.Ucred
	credLen uint32
	tv      syscall.Timeval
	rlim    syscall.Rlimit
	sigset  uint64
	// argStart and argEnd bound the command line, which the child
	// rewrites to "tend fdholder" (as ps shows it) and keeps.
	argStart, argEnd uintptr
	keep             [2][2]uintptr // pages not dropped: the command line's, the stack's
	sigact           [4]uintptr    // struct sigaction with SIG_DFL: all zero
	name16           [16]byte
	path             [16]byte // a path the child opens
	names            [namesSize]byte
}

// cmsgIn and cmsgOut are control messages of the kernel's layout, as
// structures: the child converts no pointer (a checkptr build would
// check such conversions in the runtime).
type cmsgIn struct {
	len        uint64
	level, typ int32
	fds        [maxFDs]int32
}

// cmsgBatch carries the descriptors of one 'G' message.
type cmsgBatch struct {
	len        uint64
	level, typ int32
	fds        [BatchFDs]int32
}

type cmsgOut struct {
	len        uint64
	level, typ int32
	fd         int32
	_          int32
}

type outcome int

const (
	keep outcome = iota
	hangUp
	exit
)

type entry struct {
	fd  int32
	len uint32
	off uint32
}

// iovec and msghdr are the kernel's, with addresses as integers: the
// child stores no pointer.
type iovec struct {
	base uintptr
	len  uint64
}

type msghdr struct {
	name       uintptr
	namelen    uint32
	_          uint32
	iov        uintptr
	iovlen     uint64
	control    uintptr
	controllen uint64
	flags      int32
	_          uint32
}

//go:nosplit
//go:norace
func sys(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, syscall.Errno) {
	r, _, errno := syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	return r, errno
}

//go:nosplit
//go:norace
func (st *child) main() {
	st.sigset = ^uint64(0)
	sys(syscall.SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, uintptr(unsafe.Pointer(&st.sigset)), 0, sigsetBytes, 0, 0)
	sys(syscall.SYS_SETSID, 0, 0, 0, 0, 0, 0)
	for sig := uintptr(1); sig <= 64; sig++ {
		sys(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&st.sigact)), 0, sigsetBytes, 0, 0)
	}
	st.closeOthers()
	if _, e := sys(syscall.SYS_PRLIMIT64, 0, syscall.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&st.rlim)), 0, 0); e == 0 && st.rlim.Cur < st.rlim.Max {
		st.rlim.Cur = st.rlim.Max
		sys(syscall.SYS_PRLIMIT64, 0, syscall.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&st.rlim)), 0, 0, 0)
	}
	if fl, e := sys(syscall.SYS_FCNTL, uintptr(st.ln), syscall.F_GETFL, 0, 0, 0, 0); e == 0 {
		sys(syscall.SYS_FCNTL, uintptr(st.ln), syscall.F_SETFL, fl|syscall.O_NONBLOCK, 0, 0, 0)
	}
	st.setCommandLine()
	st.dropInherited()
	st.sigset = 0
	sys(syscall.SYS_RT_SIGPROCMASK, 2, uintptr(unsafe.Pointer(&st.sigset)), 0, sigsetBytes, 0, 0)
	st.serve()
	sys(syscall.SYS_EXIT_GROUP, 0, 0, 0, 0, 0, 0)
}

// closeOthers closes every descriptor but the listener and the
// manager's pidfd: a fork shares all of tend's, among them its instance
// lock; stdin, stdout and stderr become /dev/null, as for any process
// tend starts without them (one waiting for tend's output to end would
// wait for the holder's too).
//
//go:nosplit
//go:norace
func (st *child) closeOthers() {
	st.path = [16]byte{'/', 'd', 'e', 'v', '/', 'n', 'u', 'l', 'l'}
	if null, e := sys(syscall.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&st.path[0])), syscall.O_RDWR, 0, 0, 0); e == 0 {
		for fd := uintptr(0); fd < 3; fd++ {
			if fd != null && !st.kept(fd) {
				sys(syscall.SYS_DUP3, null, fd, 0, 0, 0, 0)
			}
		}
		if null > 2 && !st.kept(null) {
			sys(syscall.SYS_CLOSE, null, 0, 0, 0, 0, 0)
		}
	}
	// The descriptors kept, in order, split what is closed in ranges.
	lo, hi := uintptr(st.ln), uintptr(st.mgr)
	if st.mgr < 0 {
		hi = lo
	} else if hi < lo {
		lo, hi = hi, lo
	}
	from := uintptr(3)
	for _, k := range [2]uintptr{lo, hi} {
		if k >= from {
			if k > from {
				st.closeRange(from, k-1)
			}
			from = k + 1
		}
	}
	st.closeRange(from, uintptr(^uint32(0)))
}

// kept says whether closeOthers keeps fd.
//
//go:nosplit
//go:norace
func (st *child) kept(fd uintptr) bool {
	return fd == uintptr(st.ln) || (st.mgr >= 0 && fd == uintptr(st.mgr))
}

// closeRange closes the descriptors from to to, one by one where the
// kernel has no close_range (before 5.9), up to the descriptor limit.
//
//go:nosplit
//go:norace
func (st *child) closeRange(from, to uintptr) {
	if _, e := sys(sysCloseRng, from, to, 0, 0, 0, 0); e != syscall.ENOSYS {
		return
	}
	lim := uintptr(1 << 16)
	if _, e := sys(syscall.SYS_PRLIMIT64, 0, syscall.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&st.rlim)), 0, 0); e == 0 {
		lim = uintptr(st.rlim.Cur)
	}
	st.closeLoop(from, min(to+1, lim))
}

//go:nosplit
//go:norace
func (st *child) closeLoop(from, to uintptr) {
	for fd := from; fd < to; fd++ {
		sys(syscall.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	}
}

// setCommandLine makes ps show the child as `tend fdholder`, not as a
// second `tend run`.
//
//go:nosplit
//go:norace
func (st *child) setCommandLine() {
	const line = "tend\x00fdholder\x00"
	n := st.argEnd - st.argStart
	if n < uintptr(len(line)) || n > uintptr(len(st.names)) {
		return
	}
	// Written through /proc/self/mem: the command line is this process's
	// own memory, which the child reaches by no pointer. The names'
	// array, empty yet, is the source.
	st.path = [16]byte{'/', 'p', 'r', 'o', 'c', '/', 's', 'e', 'l', 'f', '/', 'm', 'e', 'm'}
	mem, e := sys(syscall.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&st.path[0])), syscall.O_WRONLY|syscall.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return
	}
	moveString(st.names[:], line)
	for i := uintptr(len(line)); i < n; i++ {
		st.names[i] = 0
	}
	sys(syscall.SYS_PWRITE64, mem, uintptr(unsafe.Pointer(&st.names[0])), n, st.argStart, 0, 0)
	sys(syscall.SYS_CLOSE, mem, 0, 0, 0, 0, 0)
	for i := uintptr(0); i < n; i++ {
		st.names[i] = 0
	}
	st.name16 = [16]byte{'t', 'e', 'n', 'd', '-', 'f', 'd', 'h', 'o', 'l', 'd', 'e', 'r'}
	sys(syscall.SYS_PRCTL, syscall.PR_SET_NAME, uintptr(unsafe.Pointer(&st.name16[0])), 0, 0, 0, 0)
}

// dropInherited gives back every page the fork shares with tend but
// the command line's and the few around the stack pointer: tend's heap,
// stacks and data, and the executable's pages (the code the child runs
// comes back as it is touched).
//
//go:nosplit
//go:norace
func (st *child) dropInherited() {
	var here byte
	sp := uintptr(unsafe.Pointer(&here))
	st.keep[1] = [2]uintptr{(sp - stackKeep) &^ (st.page - 1), (sp + stackKeep + st.page - 1) &^ (st.page - 1)}
	if st.keep[1][0] < st.keep[0][0] {
		st.keep[0], st.keep[1] = st.keep[1], st.keep[0]
	}
	for i := 0; i < st.ndrop; i++ {
		lo, hi := st.drop[i][0], st.drop[i][1]
		for _, k := range st.keep { // in order of address
			if k[1] <= lo || hi <= k[0] {
				continue
			}
			if lo < k[0] {
				sys(syscall.SYS_MADVISE, lo, k[0]-lo, syscall.MADV_DONTNEED, 0, 0, 0)
			}
			lo = max(lo, k[1])
		}
		if lo < hi {
			sys(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_DONTNEED, 0, 0, 0)
		}
	}
}

//go:nosplit
//go:norace
func (st *child) serve() {
	ep, e := sys(syscall.SYS_EPOLL_CREATE1, syscall.EPOLL_CLOEXEC, 0, 0, 0, 0, 0)
	if e != 0 {
		return
	}
	st.ep = int32(ep)
	if !st.watch(st.ln) {
		return
	}
	st.watchManager()
	for {
		n, e := sys(syscall.SYS_EPOLL_PWAIT, uintptr(st.ep), uintptr(unsafe.Pointer(&st.evs[0])), uintptr(len(st.evs)), ^uintptr(0), 0, sigsetBytes)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return
		}
		for i := uintptr(0); i < n; i++ {
			fd := st.evs[i].Fd
			switch fd {
			case st.ln:
				if !st.accept() {
					return
				}
				continue
			case st.mgr:
				st.managerEnded()
				continue
			case st.tfd:
				if st.graceOver() {
					return
				}
				continue
			}
			switch st.serveOne(fd) {
			case hangUp:
				sys(syscall.SYS_CLOSE, uintptr(fd), 0, 0, 0, 0, 0)
			case exit:
				return
			}
		}
	}
}

//go:nosplit
//go:norace
func (st *child) watch(fd int32) bool {
	st.ev.Events, st.ev.Fd = syscall.EPOLLIN, fd
	_, e := sys(syscall.SYS_EPOLL_CTL, uintptr(st.ep), syscall.EPOLL_CTL_ADD, uintptr(fd), uintptr(unsafe.Pointer(&st.ev)), 0, 0)
	return e == 0
}

// accept takes one client of the holder's uid; false if the listener
// cannot serve at all.
//
//go:nosplit
//go:norace
func (st *child) accept() bool {
	c, e := sys(syscall.SYS_ACCEPT4, uintptr(st.ln), 0, 0, syscall.SOCK_CLOEXEC, 0, 0)
	switch e {
	case 0:
	case syscall.EAGAIN, syscall.EINTR, syscall.ECONNABORTED, syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return true
	default:
		return false
	}
	st.credLen = uint32(unsafe.Sizeof(st.cred))
	_, e = sys(syscall.SYS_GETSOCKOPT, c, syscall.SOL_SOCKET, syscall.SO_PEERCRED,
		uintptr(unsafe.Pointer(&st.cred)), uintptr(unsafe.Pointer(&st.credLen)), 0)
	if e != 0 || int32(st.cred.Uid) != st.uid || !st.watch(int32(c)) {
		sys(syscall.SYS_CLOSE, c, 0, 0, 0, 0, 0)
		return true
	}
	st.tv = syscall.Timeval{Sec: sendTimeout}
	sys(syscall.SYS_SETSOCKOPT, c, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, uintptr(unsafe.Pointer(&st.tv)), unsafe.Sizeof(st.tv), 0)
	return true
}

// serveOne answers the one request waiting on c.
//
//go:nosplit
//go:norace
func (st *child) serveOne(c int32) outcome {
	st.iov = iovec{base: uintptr(unsafe.Pointer(&st.buf[0])), len: uint64(len(st.buf))}
	st.msg = msghdr{iov: uintptr(unsafe.Pointer(&st.iov)), iovlen: 1,
		control: uintptr(unsafe.Pointer(&st.oob)), controllen: uint64(unsafe.Sizeof(st.oob))}
	n, e := sys(syscall.SYS_RECVMSG, uintptr(c), uintptr(unsafe.Pointer(&st.msg)), syscall.MSG_CMSG_CLOEXEC|syscall.MSG_DONTWAIT, 0, 0, 0)
	if e == syscall.EAGAIN || e == syscall.EINTR {
		return keep
	}
	if e != 0 || n == 0 {
		return hangUp
	}
	st.takeFDs()
	if n > MsgMax || st.msg.flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		st.closeFDs()
		return st.reply(c, "message too long")
	}
	switch st.buf[0] {
	case 'S':
		if st.nfds != 1 {
			st.closeFDs()
			return st.reply(c, "store: want one descriptor")
		}
		if n == 1 {
			st.closeFDs()
			return st.reply(c, "store: empty name")
		}
		if !st.store(st.buf[1:n], st.fds[0]) {
			sys(syscall.SYS_CLOSE, uintptr(st.fds[0]), 0, 0, 0, 0, 0)
			return st.reply(c, "store: holding too many descriptors")
		}
	case 'D':
		st.closeFDs()
		if i := st.find(st.buf[1:n]); i >= 0 {
			st.remove(i)
		}
	case 'L':
		st.closeFDs()
		if !st.list(c) {
			return hangUp
		}
		return keep
	case 'B':
		st.closeFDs()
		if !st.listBatched(c) {
			return hangUp
		}
		return keep
	case 'M':
		st.closeFDs()
		return st.reply(c, st.manage(c, st.buf[1:n]))
	case 'X':
		st.closeFDs()
		st.reply(c, "")
		return exit
	default:
		st.closeFDs()
		return st.reply(c, "unknown request")
	}
	return st.reply(c, "")
}

// takeFDs reads the descriptors of the request's SCM_RIGHTS message
// (the kernel passes them all in one) into fds; more than maxFDs make
// the message truncated (MSG_CTRUNC), and the kernel closes the rest.
//
//go:nosplit
//go:norace
func (st *child) takeFDs() {
	st.nfds = 0
	if st.msg.controllen < 16 || st.oob.level != syscall.SOL_SOCKET || st.oob.typ != syscall.SCM_RIGHTS {
		return
	}
	n := int(min(st.oob.len, st.msg.controllen)-16) / 4
	for i := 0; i < n && i < maxFDs; i++ {
		st.fds[i] = st.oob.fds[i]
		st.nfds++
	}
}

//go:nosplit
//go:norace
func (st *child) closeFDs() {
	for i := 0; i < st.nfds; i++ {
		sys(syscall.SYS_CLOSE, uintptr(st.fds[i]), 0, 0, 0, 0, 0)
	}
	st.nfds = 0
}

//go:nosplit
//go:norace
func (st *child) name(i int) []byte {
	e := &st.ents[i]
	return st.names[e.off : e.off+e.len]
}

//go:nosplit
//go:norace
func (st *child) find(name []byte) int {
	for i := 0; i < st.n; i++ {
		if st.ents[i].len == uint32(len(name)) && equal(st.name(i), name) {
			return i
		}
	}
	return -1
}

// move and moveString are copy for the child: a race or msan build
// makes copy a call into the runtime. dst must not be above an
// overlapping src.
//
//go:nosplit
//go:norace
func move(dst, src []byte) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = src[i]
	}
	return n
}

//go:nosplit
//go:norace
func moveString(dst []byte, src string) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = src[i]
	}
	return n
}

//go:nosplit
//go:norace
func equal(a, b []byte) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// store holds fd under name, closing what was held so; false if the
// table is full.
//
//go:nosplit
//go:norace
func (st *child) store(name []byte, fd int32) bool {
	if i := st.find(name); i >= 0 {
		sys(syscall.SYS_CLOSE, uintptr(st.ents[i].fd), 0, 0, 0, 0, 0)
		st.ents[i].fd = fd
		return true
	}
	if st.n == MaxEntries {
		return false
	}
	if st.used+len(name) > len(st.names) || (st.garbage > 64<<10 && st.garbage > st.used-st.garbage) {
		st.compact()
	}
	if st.used+len(name) > len(st.names) {
		return false
	}
	move(st.names[st.used:], name)
	st.ents[st.n] = entry{fd: fd, len: uint32(len(name)), off: uint32(st.used)}
	st.n++
	st.used += len(name)
	return true
}

//go:nosplit
//go:norace
func (st *child) remove(i int) {
	sys(syscall.SYS_CLOSE, uintptr(st.ents[i].fd), 0, 0, 0, 0, 0)
	st.garbage += int(st.ents[i].len)
	st.n--
	st.ents[i] = st.ents[st.n]
}

// compact packs the names of the entries held and gives back the pages
// the rest used.
//
//go:nosplit
//go:norace
func (st *child) compact() {
	// Entries in the order of their names, so each moves down only.
	for i := 1; i < st.n; i++ {
		for j := i; j > 0 && st.ents[j].off < st.ents[j-1].off; j-- {
			st.ents[j], st.ents[j-1] = st.ents[j-1], st.ents[j]
		}
	}
	used := 0
	for i := 0; i < st.n; i++ {
		e := &st.ents[i]
		move(st.names[used:], st.names[e.off:e.off+e.len])
		e.off = uint32(used)
		used += int(e.len)
	}
	base := uintptr(unsafe.Pointer(&st.names[0]))
	lo := (base + uintptr(used) + st.page - 1) &^ (st.page - 1)
	if hi := base + uintptr(st.used); hi > lo {
		sys(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_DONTNEED, 0, 0, 0)
	}
	st.used, st.garbage = used, 0
}

// list sends every entry with its descriptor, then 'E'.
//
//go:nosplit
//go:norace
func (st *child) list(c int32) bool {
	for i := 0; i < st.n; i++ {
		st.out[0] = 'F'
		l := 1 + move(st.out[1:], st.name(i))
		st.cmsg = cmsgOut{len: 16 + 4 /* CmsgLen(4) */, level: syscall.SOL_SOCKET, typ: syscall.SCM_RIGHTS, fd: st.ents[i].fd}
		if !st.send(c, l, true) {
			return false
		}
	}
	st.out[0] = 'E'
	return st.send(c, 1, false)
}

// listBatched sends every entry as list does, up to BatchFDs of them
// (or batchOut bytes of names) in one 'G' message: a manager taking
// hundreds of pipes back after a crash gets them in a few messages.
//
//go:nosplit
//go:norace
func (st *child) listBatched(c int32) bool {
	l, k := 1, 0
	st.bout[0] = 'G'
	for i := 0; i < st.n; i++ {
		nm := st.name(i)
		if k == BatchFDs || l+2+len(nm) > len(st.bout) {
			if !st.sendBatch(c, l, k) {
				return false
			}
			l, k = 1, 0
		}
		st.bout[l], st.bout[l+1] = byte(len(nm)), byte(len(nm)>>8)
		l += 2 + move(st.bout[l+2:], nm)
		st.bcmsg.fds[k] = st.ents[i].fd
		k++
	}
	if k > 0 && !st.sendBatch(c, l, k) {
		return false
	}
	st.out[0] = 'E'
	return st.send(c, 1, false)
}

// sendBatch sends the l bytes of bout with the first k descriptors of
// bcmsg.
//
//go:nosplit
//go:norace
func (st *child) sendBatch(c int32, l, k int) bool {
	st.bcmsg.len, st.bcmsg.level, st.bcmsg.typ = uint64(16+4*k), syscall.SOL_SOCKET, syscall.SCM_RIGHTS
	st.iov = iovec{base: uintptr(unsafe.Pointer(&st.bout[0])), len: uint64(l)}
	st.msg = msghdr{iov: uintptr(unsafe.Pointer(&st.iov)), iovlen: 1,
		control: uintptr(unsafe.Pointer(&st.bcmsg)), controllen: uint64(16 + (4*k+7)&^7)}
	_, e := sys(syscall.SYS_SENDMSG, uintptr(c), uintptr(unsafe.Pointer(&st.msg)), syscall.MSG_NOSIGNAL, 0, 0, 0)
	return e == 0
}

// reply answers 'K', or '!' and the reason.
//
//go:nosplit
//go:norace
func (st *child) reply(c int32, reason string) outcome {
	l := 1
	st.out[0] = 'K'
	if reason != "" {
		st.out[0] = '!'
		l += moveString(st.out[1:], reason)
	}
	if !st.send(c, l, false) {
		return hangUp
	}
	return keep
}

//go:nosplit
//go:norace
func (st *child) send(c int32, l int, withFD bool) bool {
	st.iov = iovec{base: uintptr(unsafe.Pointer(&st.out[0])), len: uint64(l)}
	st.msg = msghdr{iov: uintptr(unsafe.Pointer(&st.iov)), iovlen: 1}
	if withFD {
		st.msg.control, st.msg.controllen = uintptr(unsafe.Pointer(&st.cmsg)), uint64(unsafe.Sizeof(st.cmsg))
	}
	_, e := sys(syscall.SYS_SENDMSG, uintptr(c), uintptr(unsafe.Pointer(&st.msg)), syscall.MSG_NOSIGNAL, 0, 0, 0)
	return e == 0
}
