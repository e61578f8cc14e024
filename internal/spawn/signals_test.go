package spawn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// signalsEnv makes the re-executed test binary act as a tend whose own
// signal state is not the default: it starts processes that copy their
// /proc/self/status into the directory the variable names.
const signalsEnv = "TEND_SPAWN_TEST_SIGNALS"

// sigBit is the bit of sig in a /proc status signal mask.
func sigBit(sig syscall.Signal) uint64 { return 1 << (uint(sig) - 1) }

// statusMask reads a hexadecimal mask line (SigBlk, SigIgn) of a
// /proc status file.
func statusMask(text, key string) (uint64, error) {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no %s line", key)
}

// signalsChild runs in the re-executed binary. Round "mask" starts with
// the signal mask it inherited (SIGUSR1 blocked); round "ignored" also
// ignores SIGHUP and SIGPIPE, as a manager that keeps running under nohup
// or after its log reader went away does. Each round starts one process
// on the direct path and one through the exec helper (UMask=).
func signalsChild(dir string) int {
	r, err := reaper.New(reaper.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	copyStatus := func(to string) unit.Command {
		return unit.Command{Path: "/bin/cp", Argv: []string{"cp", "/proc/self/status", to}}
	}
	for _, round := range []string{"mask", "ignored"} {
		if round == "ignored" {
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
		}
		self, _ := os.ReadFile("/proc/thread-self/status")
		os.WriteFile(filepath.Join(dir, round+".self"), self, 0o644)
		for _, helper := range []bool{false, true} {
			s := Spec{Unit: "sig.service", SelfExe: os.Args[0], Command: copyStatus(filepath.Join(dir, fmt.Sprintf("%s.%v", round, helper)))}
			if helper {
				s.Exec = &unit.ExecContext{UMask: 0o077}
			}
			p, err := newPlan(s)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%v.path", round, helper)), []byte(strconv.FormatBool(p.helper)), 0o644)
			p.close()
			exited := make(chan reaper.Exit, 1)
			if _, err := Start(r, s, func(e reaper.Exit) { exited <- e }); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if e := <-exited; e.Status.ExitStatus() != 0 {
				fmt.Fprintf(os.Stderr, "cp exited %v\n", e.Status)
				return 1
			}
		}
	}
	return 0
}

// TestChildSignalsReset starts processes from a tend that inherited a
// blocked SIGUSR1 and ignores SIGHUP and SIGPIPE: every child starts with
// no signal blocked and none ignored but SIGPIPE (IgnoreSIGPIPE= is yes
// by default), on the direct path and through the exec helper alike.
func TestChildSignalsReset(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), signalsEnv+"="+dir)
	cmd.Stderr = os.Stderr
	// The child inherits the mask of the thread that forks it.
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var block, old unix.Sigset_t
		block.Val[0] = sigBit(syscall.SIGUSR1)
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
			t.Fatal(err)
		}
		defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("signal test process: %v", err)
		}
	case <-time.After(hangGuard):
		cmd.Process.Kill()
		t.Fatal("signal test process hangs")
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The starting tend really was in the state the test means.
	if blk, _ := statusMask(read("mask.self"), "SigBlk"); blk&sigBit(syscall.SIGUSR1) == 0 {
		t.Fatalf("test setup: SIGUSR1 not blocked in the spawning thread (SigBlk %x)", blk)
	}
	if ign, _ := statusMask(read("ignored.self"), "SigIgn"); ign&sigBit(syscall.SIGHUP) == 0 || ign&sigBit(syscall.SIGPIPE) == 0 {
		t.Fatalf("test setup: SIGHUP, SIGPIPE not ignored (SigIgn %x)", ign)
	}
	if got := read("mask.false.path"); got != "false" {
		t.Errorf("a blocked signal alone sent the process through the exec helper")
	}
	for _, round := range []string{"mask", "ignored"} {
		for _, helper := range []string{"false", "true"} {
			name := round + "." + helper
			status := read(name)
			for _, key := range []string{"SigBlk", "SigIgn"} {
				// SIGPIPE alone is ignored (IgnoreSIGPIPE= defaults to
				// yes), whether tend ignored it before the start or not.
				want := uint64(0)
				if key == "SigIgn" {
					want = sigBit(syscall.SIGPIPE)
				}
				if m, err := statusMask(status, key); err != nil || m != want {
					t.Errorf("%s (helper path %s): child %s = %x, %v; want %x", round, read(name+".path"), key, m, err, want)
				}
			}
		}
	}
}
