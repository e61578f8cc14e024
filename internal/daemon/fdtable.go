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
// bench/README.md). A growth ahead waits once, while tend sets up (growFDs).
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

// earlyFDs is the table tend grows to before it knows its units. Only a
// thread that needs a slot past the current table waits for a growth
// under way; set-up needs fewer than the 64 slots a process starts with,
// so the grace period passes while tend sets up instead of under the
// first starts. 2048 slots (16 KiB) hold about 200 units; a larger load
// grows the table once more.
const earlyFDs = 2048

// growFDs grows the table to n slots on a goroutine of its own, after
// the growth after has ended (nil: none); the channel it returns closes
// when it is done. A growth that finds the table large enough makes no
// system call that waits.
func growFDs(after <-chan struct{}, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() { // ends after a few system calls; fdsGrown waits for it
		defer close(done)
		if after != nil {
			<-after
		}
		reserveFDs(n)
	}()
	return done
}
