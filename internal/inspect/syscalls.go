package inspect

import (
	"runtime"
	"strconv"
)

// amd64Syscalls names the system calls processes are usually found
// blocked in; others show as their number.
var amd64Syscalls = map[int]string{
	0: "read", 1: "write", 7: "poll", 23: "select", 34: "pause", 35: "nanosleep", 43: "accept",
	45: "recvfrom", 47: "recvmsg", 61: "wait4", 72: "fcntl", 202: "futex", 228: "clock_gettime",
	230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 270: "pselect6", 271: "ppoll",
	281: "epoll_pwait", 288: "accept4", 441: "epoll_pwait2", 130: "rt_sigsuspend", 128: "rt_sigtimedwait",
	17: "pread64", 19: "readv", 44: "sendto", 46: "sendmsg", 42: "connect", 74: "fsync", 59: "execve",
}

// arm64Syscalls is the same for arm64 (the generic table).
var arm64Syscalls = map[int]string{
	63: "read", 64: "write", 73: "ppoll", 72: "pselect6", 101: "nanosleep", 202: "accept", 242: "accept4",
	207: "recvfrom", 212: "recvmsg", 260: "wait4", 98: "futex", 115: "clock_nanosleep", 22: "epoll_pwait",
	95: "waitid", 133: "rt_sigsuspend", 137: "rt_sigtimedwait", 82: "fsync", 221: "execve",
}

func syscallName(nr int) string {
	table := amd64Syscalls
	if runtime.GOARCH == "arm64" {
		table = arm64Syscalls
	}
	if n, ok := table[nr]; ok {
		return n
	}
	return "syscall " + strconv.Itoa(nr)
}
