package spawn

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A service starts with every signal at its default action and none
// blocked, as systemd's children do, whatever tend inherited from its own
// parent (nohup's SIGHUP, a blocked mask of a parent that reads signals
// through signalfd) or ignores itself. Two things survive exec: an
// ignored disposition and the signal mask. Go's fork resets only the
// handlers it installed, and gives the child the forking thread's mask.

// maxSignal is the highest signal number on Linux.
const maxSignal = 64

// signalIgnored reports whether tend ignores a signal, which a child
// forked directly would inherit. Go installs its own handler for every
// signal except a SIGHUP or SIGINT ignored at start and signals ignored
// with signal.Ignore; both are what signal.Ignored reports, without a
// system call. SIGPIPE is left out: the daemon ignores it so that
// children inherit IgnoreSIGPIPE='s default, yes (a unit asking for no
// goes through the helper).
func signalIgnored() bool {
	for sig := 1; sig <= maxSignal; sig++ {
		if sig != int(syscall.SIGPIPE) && signal.Ignored(syscall.Signal(sig)) {
			return true
		}
	}
	return false
}

// setSIGPIPE gives tend the SIGPIPE disposition the child it forks next
// must start with: ignored (IgnoreSIGPIPE=yes, systemd's default), kept
// through fork and exec; or handled by Go's runtime, whose fork resets
// the signals it handles to their default action in the child
// (IgnoreSIGPIPE=no, service directories, cron jobs). Before, the second
// kind went through the pid trampoline to reset it: one more execve per
// start (~0.2 ms of a restart after kill -9). Either way tend itself is
// not ended by SIGPIPE: a write of its own to a closed pipe gets EPIPE
// (Go's runtime, asked to notify the signal, raises nothing even for
// stdout and stderr).
//
// A disposition is the process's, not a thread's, and a vfork child of
// Go reads which signals the runtime handles while the other threads
// run: it is switched only inside the fork function of Reaper.Start,
// whose lock every fork of tend holds, and left as the last fork needed
// it, so that a run of starts of one kind costs no system call.
func setSIGPIPE(dfl bool) {
	if signal.Ignored(syscall.SIGPIPE) != dfl {
		return
	}
	if dfl {
		// Notify drops what the channel cannot take: nobody reads it.
		// Ignore deletes this channel's registration again.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		return
	}
	signal.Ignore(syscall.SIGPIPE)
}

// withEmptyMask runs fork with the calling thread's signal mask cleared,
// so the child starts with none blocked. Go threads block only what the
// process inherited at start, which is what a child must not get; the
// thread's mask is put back afterwards. It costs one system call when
// nothing is blocked.
func withEmptyMask(fork func() (int, bool, error)) (int, bool, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var empty, old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, &old); err != nil {
		return fork() // cannot happen with valid arguments; fork as before
	}
	defer func() {
		if old != empty {
			_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
		}
	}()
	return fork()
}

// resetSignals sets every signal to its default action and unblocks all
// of them on the calling thread: the exec helper's last step before
// execve, after which no Go code of the helper runs (a signal arriving in
// between gets its default action, as it would in the target).
func resetSignals() {
	// struct sigaction with sa_handler = SIG_DFL and everything else
	// zero; large enough for every architecture's layout.
	var act [4]uint64
	for sig := 1; sig <= maxSignal; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		// Errors are for numbers the kernel reserves; nothing to reset.
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
	var empty unix.Sigset_t
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil)
}
