package spawn

import (
	"errors"
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

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// TestProcessSettingsApplied checks from outside — /proc and the
// util-linux tools — that the exec helper applied the scheduling,
// affinity, personality and SIGPIPE settings.
func TestProcessSettingsApplied(t *testing.T) {
	r := startReaper(t)
	prio := 6
	ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{
		CPUAffinity:              []int{0},
		IOSchedulingClass:        "best-effort",
		IOSchedulingPriority:     &prio,
		CPUSchedulingPolicy:      "batch",
		CPUSchedulingResetOnFork: true,
		SecureBits:               []string{"keep-caps"},
	}}
	if runtime.GOARCH == "amd64" {
		ec.Proc.Personality = "x86"
	}
	pid := runReady(t, r, Spec{Exec: ec})
	if got := statusField(t, pid, "Cpus_allowed_list"); got != "0" {
		t.Errorf("Cpus_allowed_list %s; want 0", got)
	}
	ign, _ := strconv.ParseUint(statusField(t, pid, "SigIgn"), 16, 64)
	if ign&(1<<(unix.SIGPIPE-1)) == 0 {
		t.Errorf("SigIgn %x lacks SIGPIPE", ign)
	}
	tool := func(name string, args ...string) string {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s not installed", name)
		}
		out, err := exec.Command(name, args...).CombinedOutput()
		// This test's reaper reaps every child, the tool too: its output
		// is complete, but its wait may find it gone.
		if err != nil && !errors.Is(err, syscall.ECHILD) {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		return string(out)
	}
	if out := tool("ionice", "-p", strconv.Itoa(pid)); !strings.Contains(out, "best-effort: prio 6") {
		t.Errorf("ionice: %q; want best-effort: prio 6", out)
	}
	if out := tool("chrt", "-p", strconv.Itoa(pid)); !strings.Contains(out, "SCHED_BATCH|SCHED_RESET_ON_FORK") {
		t.Errorf("chrt: %q; want SCHED_BATCH|SCHED_RESET_ON_FORK", out)
	}
	if runtime.GOARCH == "amd64" {
		if got := strings.TrimSpace(procFile(t, pid, "personality")); got != "00000008" {
			t.Errorf("personality %s; want 00000008 (PER_LINUX32)", got)
		}
	}
}

// TestPersonalityOfAnotherArchRefused: a personality this machine
// cannot run fails the start with 230/PERSONALITY.
func TestPersonalityOfAnotherArchRefused(t *testing.T) {
	other := "s390x"
	if runtime.GOARCH == "s390x" {
		other = "x86-64"
	}
	ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{Personality: other}}
	_, err := Start(startReaper(t), Spec{Command: sleepCmd(), Exec: ec, SelfExe: os.Args[0]}, nil)
	if se, ok := err.(*SetupError); !ok || se.Status != ExitPersonality {
		t.Errorf("Start: %v; want status 230/PERSONALITY", err)
	}
}

// TestExecSearchPath: a bare command name is looked up in
// ExecSearchPath=, which also becomes PATH.
func TestExecSearchPath(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "tend-search-test")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"found $PATH\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{ExecSearchPath: []string{dir, "/bin"}}}
	cmd := unit.Command{Path: "tend-search-test", Argv: []string{"tend-search-test"}}
	out, e := runOutput(t, Spec{Command: cmd, Exec: ec, Env: []string{"PATH=" + DefaultPath}})
	if want := "found " + dir + ":/bin\n"; out != want || e.Status.ExitStatus() != 0 {
		t.Errorf("output %q, exit %v; want %q", out, e.Status, want)
	}
}

// TestCredentials: SetCredential= and LoadCredential= land in
// $CREDENTIALS_DIRECTORY, readable by the unit's user only, and go at
// RemoveCredentials; a LoadCredential= path that cannot be read fails
// the start with 243/CREDENTIALS, a missing named one is left out.
func TestCredentials(t *testing.T) {
	src := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(src, []byte("loaded"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := Dirs{Runtime: t.TempDir()}
	ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{Credentials: []unit.Credential{
		{ID: "set", Data: []byte("literal")},
		{ID: "load", Path: src, Load: true},
	}}}
	cmd := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c",
		`cat "$CREDENTIALS_DIRECTORY/set" "$CREDENTIALS_DIRECTORY/load"; stat -c %a "$CREDENTIALS_DIRECTORY" "$CREDENTIALS_DIRECTORY/set"`}}
	out, _ := runOutput(t, Spec{Unit: "cred.service", Command: cmd, Exec: ec, Dirs: d})
	if want := "literalloaded500\n400\n"; out != want {
		t.Errorf("output %q; want %q", out, want)
	}
	if err := RemoveCredentials(d, "cred.service"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(CredentialsDir(d, "cred.service")); !os.IsNotExist(err) {
		t.Errorf("credentials left after RemoveCredentials: %v", err)
	}
	credDir := t.TempDir()
	os.WriteFile(filepath.Join(credDir, "one"), []byte("1"), 0o600)
	os.WriteFile(filepath.Join(credDir, "two"), []byte("2"), 0o600)
	ec.Proc.Credentials = []unit.Credential{{ID: "dir", Path: credDir, Load: true}}
	cmd.Argv = []string{"sh", "-c", `cat "$CREDENTIALS_DIRECTORY/dir_one" "$CREDENTIALS_DIRECTORY/dir_two"`}
	if out, _ := runOutput(t, Spec{Unit: "cred.service", Command: cmd, Exec: ec, Dirs: d}); out != "12" {
		t.Errorf("credentials from a directory: %q; want 12", out)
	}
	ec.Proc.Credentials = []unit.Credential{{ID: "gone", Path: "/nonexistent/cred", Load: true}}
	_, err := Start(startReaper(t), Spec{Unit: "cred.service", Command: sleepCmd(), Exec: ec, Dirs: d}, nil)
	if se, ok := err.(*SetupError); !ok || se.Status != ExitCredentials {
		t.Errorf("Start with a missing credential: %v; want status 243/CREDENTIALS", err)
	}
}

// TestMissingNamedCredentialLeftOut: a LoadCredential= given by name
// only that no credential store holds is left out, as systemd does; the
// service starts and finds $CREDENTIALS_DIRECTORY without it.
func TestMissingNamedCredentialLeftOut(t *testing.T) {
	ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{Credentials: []unit.Credential{{ID: "absent-everywhere", Load: true}}}}
	cmd := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", `test -d "$CREDENTIALS_DIRECTORY" && ! test -e "$CREDENTIALS_DIRECTORY/absent-everywhere" && echo ok`}}
	if out, _ := runOutput(t, Spec{Unit: "cred.service", Command: cmd, Exec: ec, Dirs: Dirs{Runtime: t.TempDir()}}); out != "ok\n" {
		t.Errorf("a missing named credential: %q; want the start to go on without it", out)
	}
}

// TestStandardInputFile: StandardInput=file:PATH reads the file.
func TestStandardInputFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(src, []byte("from the file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ec := &unit.ExecContext{UMask: 0o022, StandardInput: "file:" + src}
	out, _ := runOutput(t, Spec{Command: unit.Command{Path: "/bin/cat", Argv: []string{"cat"}}, Exec: ec})
	if out != "from the file\n" {
		t.Errorf("output %q; want the file's text", out)
	}
}

// TestStandardInputTTY: StandardInput=tty-force on a pseudo-terminal
// makes it the process's controlling terminal and its stdout.
func TestStandardInputTTY(t *testing.T) {
	ptmx, pts := openPTY(t)
	r := startReaper(t)
	ec := &unit.ExecContext{UMask: 0o022, StandardInput: "tty-force", StandardOutput: "inherit", TTYPath: pts,
		Proc: &unit.ProcContext{TTYReset: true, TTYVHangup: true}}
	pid := run(t, r, Spec{Command: unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "echo on-tty; exec sleep 30"}}, Exec: ec})
	readTTY(t, ptmx, "on-tty")
	checkControllingTTY(t, pid, pts)
}

// TestStandardInputTTYWaitsAfterStart: StandardInput=tty on a terminal
// another session holds waits for it in the started process, not in
// Start (which runs on the manager's loop); once the holder lets go, the
// program runs on it.
func TestStandardInputTTYWaitsAfterStart(t *testing.T) {
	ptmx, pts := openPTY(t)
	r := startReaper(t)
	tty, err := os.OpenFile(pts, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("sleep", "60")
	holder.Stdin = tty
	holder.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	// The reaper collects it; Wait would race it for the status.
	t.Cleanup(func() { holder.Process.Kill() })

	ec := &unit.ExecContext{UMask: 0o022, StandardInput: "tty", StandardOutput: "inherit", TTYPath: pts}
	type started struct {
		pid int
		err error
	}
	done := make(chan started, 1)
	go func() {
		pid, err := Start(r, Spec{Command: unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "echo on-tty; exec sleep 30"}},
			Exec: ec, SelfExe: os.Args[0]}, func(reaper.Exit) {})
		done <- started{pid, err}
	}()
	var s started
	select {
	case s = <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("Start waited for the terminal its holder keeps")
		holder.Process.Kill() // let Start return
		s = <-done
	}
	if s.err != nil {
		t.Fatalf("Start: %v", s.err)
	}
	t.Cleanup(func() { unix.Kill(s.pid, unix.SIGKILL) })
	holder.Process.Kill() // the terminal is let go
	readTTY(t, ptmx, "on-tty")
	checkControllingTTY(t, s.pid, pts)
}

// openPTY opens a new pseudo-terminal: its master and the slave's path.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	// Through the RawConn: Fd() would make the master blocking, and
	// readTTY's deadline would then not end a read that never gets its
	// text.
	rc, err := ptmx.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := -1
	rc.Control(func(fd uintptr) {
		if n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); err == nil {
			err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, fmt.Sprintf("/dev/pts/%d", n)
}

// readTTY reads the terminal's master until want appears.
func readTTY(t *testing.T, ptmx *os.File, want string) {
	t.Helper()
	ptmx.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 256)
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		k, err := ptmx.Read(buf)
		if err != nil {
			t.Fatalf("read terminal: %v (got %q)", err, got.String())
		}
		got.Write(buf[:k])
	}
}

// checkControllingTTY checks that pts is pid's controlling terminal.
func checkControllingTTY(t *testing.T, pid int, pts string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(pts, &st); err != nil {
		t.Fatal(err)
	}
	if ttyNr := statField(t, pid, 7); ttyNr != strconv.FormatUint(st.Rdev, 10) {
		t.Errorf("tty_nr %s; want %d (%s as controlling terminal)", ttyNr, st.Rdev, pts)
	}
}

// TestSIGPIPEDisposition: with the daemon's SIGPIPE ignored, a plain
// start inherits "ignore" (IgnoreSIGPIPE=yes, the default) without the
// helper, and IgnoreSIGPIPE=no starts the process with the default
// action, as seen in /proc/PID/status.
func TestSIGPIPEDisposition(t *testing.T) {
	signal.Ignore(syscall.SIGPIPE) // as daemon.Run does
	t.Cleanup(func() { signal.Reset(syscall.SIGPIPE) })
	r := startReaper(t)
	ignored := func(pid int) bool {
		ign, _ := strconv.ParseUint(statusField(t, pid, "SigIgn"), 16, 64)
		return ign&(1<<(unix.SIGPIPE-1)) != 0
	}
	p, err := newPlan(Spec{Command: sleepCmd(), Exec: &unit.ExecContext{UMask: 0o022}})
	if err != nil {
		t.Fatal(err)
	}
	if p.close(); p.helper {
		t.Error("the daemon's ignored SIGPIPE sends plain starts through the exec helper")
	}
	if pid := runReady(t, r, Spec{Exec: &unit.ExecContext{UMask: 0o022}}); !ignored(pid) {
		t.Error("plain start: SIGPIPE not ignored; want IgnoreSIGPIPE=yes by default")
	}
	sandboxedExec := &unit.ExecContext{UMask: 0o077}
	if pid := runReady(t, r, Spec{Exec: sandboxedExec, SelfExe: os.Args[0]}); !ignored(pid) {
		t.Error("start through the helper: SIGPIPE not ignored; want IgnoreSIGPIPE=yes by default")
	}
	no := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{SIGPIPEDefault: true}}
	if pid := runReady(t, r, Spec{Exec: no, SelfExe: os.Args[0]}); ignored(pid) {
		t.Error("IgnoreSIGPIPE=no: SIGPIPE still ignored")
	}
	// IgnoreSIGPIPE=no alone needs neither the helper nor the pid
	// trampoline (a second execve per start): the fork gives it.
	p, err = newPlan(Spec{Command: sleepCmd(), Exec: no, SelfExe: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	if p.close(); p.helper || p.tramp {
		t.Errorf("IgnoreSIGPIPE=no alone: helper %v, trampoline %v; want a plain fork and exec", p.helper, p.tramp)
	}
	// Starts of both kinds in turn each get their own disposition. (That
	// tend itself is never left at SIGPIPE's default action is Go's: the
	// runtime keeps its handler installed whatever signal.Notify and
	// Ignore were told, so no check here could fail.)
	for i, dfl := range []bool{true, false, true, true, false, false, true} {
		ec := &unit.ExecContext{UMask: 0o022, Proc: &unit.ProcContext{SIGPIPEDefault: dfl}}
		if ign := ignored(runReady(t, r, Spec{Exec: ec})); ign == dfl {
			t.Errorf("start %d, IgnoreSIGPIPE=%v: SIGPIPE ignored %v", i, !dfl, ign)
		}
	}
}
