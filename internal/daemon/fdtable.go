package daemon

import "golang.org/x/sys/unix"

// descriptorsPerUnit is about what a running unit holds in tend's table,
// with room to spare: a service directory holds nine (log pipe, pidfd,
// cgroup directory and events, supervise/ lock, ok and both ends of
// control), a unit-file service fewer.
const descriptorsPerUnit = 10

// reserveFDs grows tend's descriptor table once, to hold n descriptors.
// The kernel grows a table by doubling, and while threads share it each
// growth waits for an RCU grace period, during which every thread that
// opens a file waits too: a bring-up of 1000 service directories grew it
// eight times, ~120 ms blocked on the start path (off-CPU profile in
// bench/README.md). One growth ahead waits once, while the journal opens.
// Tables never shrink, so this costs 8 bytes per slot for tend's life:
// sized from the units loaded, within RLIMIT_NOFILE.
func reserveFDs(n int) {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	if uint64(n) > lim.Cur {
		n = int(lim.Cur)
	}
	if n <= 256 {
		return // the table a daemon starts with grows to this in a step or two
	}
	src, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(src)
	if fd, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, n-1); err == nil {
		unix.Close(fd)
	}
}
