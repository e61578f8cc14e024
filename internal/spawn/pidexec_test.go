package spawn

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
)

// TestOwnPIDWithoutHelper starts processes that get sockets and a
// watchdog with no exec helper to fall back on (SelfExe names nothing):
// the trampoline must give the program its own pid in LISTEN_PID and
// WATCHDOG_PID, exactly once, and leave its argv, other variables and
// credentials as they were.
func TestOwnPIDWithoutHelper(t *testing.T) {
	if trampolineCode == nil {
		t.Skip("no trampoline for this architecture")
	}
	r := startReaper(t)
	sock, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	users := []string{""}
	if os.Getuid() == 0 {
		users = append(users, "nobody")
	}
	// The shell reports what the program sees: its pid, its argv as
	// the kernel has it, and its environment.
	script := `echo "pid $$"; printf 'argv %s\n' "$(tr '\0' ' ' </proc/$$/cmdline)"; env`
	for _, user := range users {
		t.Run("user="+user, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			exited := make(chan reaper.Exit, 1)
			s := Spec{
				Command:    unit.Command{Path: "/bin/sh", Argv: []string{"argv-zero", "-c", script}, NoEnvExpand: true},
				Exec:       &unit.ExecContext{User: user, UMask: defaultUMask},
				Env:        []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=connection", "WATCHDOG_USEC=1000000", "KEEP=a b"},
				Stdout:     pw,
				ExtraFiles: []*os.File{sock},
				SelfExe:    "/nonexistent/tend",
			}
			pid, err := Start(r, s, func(e reaper.Exit) { exited <- e })
			pw.Close()
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			out, err := io.ReadAll(pr)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-exited:
				if e.Status.ExitStatus() != 0 {
					t.Errorf("exit %v; output %q", e.Status, out)
				}
			case <-time.After(hangGuard):
				t.Fatalf("pid %d never exited", pid)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			want := []string{"pid " + strconv.Itoa(pid), "argv argv-zero -c " + script + " "}
			if len(lines) < 2 || !slices.Equal(lines[:2], want) {
				t.Fatalf("program saw %q; want %q first", lines, want)
			}
			env := lines[2:]
			for _, kv := range []string{"LISTEN_PID=" + strconv.Itoa(pid), "WATCHDOG_PID=" + strconv.Itoa(pid),
				"LISTEN_FDS=1", "LISTEN_FDNAMES=connection", "WATCHDOG_USEC=1000000", "KEEP=a b"} {
				if n := count(env, kv); n != 1 {
					t.Errorf("%s %d times in %q; want once", kv, n, env)
				}
			}
			for _, kv := range env {
				if k, _, _ := strings.Cut(kv, "="); (k == "LISTEN_PID" || k == "WATCHDOG_PID") && !slices.Contains(env, k+"="+strconv.Itoa(pid)) {
					t.Errorf("stray %s", kv)
				}
			}
			if user != "" && !slices.Contains(env, "USER="+user) {
				t.Errorf("USER=%s missing from %q", user, env)
			}
		})
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestTrampolineExecFailure: a program that cannot be executed after
// the trampoline ran ends the process with EXIT_EXEC, as systemd's
// child does.
func TestTrampolineExecFailure(t *testing.T) {
	if trampolineCode == nil {
		t.Skip("no trampoline for this architecture")
	}
	dir := t.TempDir()
	bad := dir + "/bad"
	// Executable, but no format the kernel knows: the start checks pass
	// and the exec fails.
	if err := os.WriteFile(bad, []byte{0, 1, 2, 3}, 0o755); err != nil {
		t.Fatal(err)
	}
	r := startReaper(t)
	exited := make(chan reaper.Exit, 1)
	_, err := Start(r, Spec{Command: unit.Command{Path: bad}, Env: []string{"WATCHDOG_USEC=1"}, SelfExe: "/nonexistent/tend"},
		func(e reaper.Exit) { exited <- e })
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case e := <-exited:
		if got := e.Status.ExitStatus(); got != ExitExec {
			t.Errorf("exit status %d; want %d", got, ExitExec)
		}
	case <-time.After(hangGuard):
		t.Fatal("never exited")
	}
}

// TestTrampolineImage checks the executable's headers where a mistake
// would still run on a lenient kernel.
func TestTrampolineImage(t *testing.T) {
	img := trampolineELF([]byte{0xcc}, 62)
	if got := fmt.Sprintf("%x", img[:7]); got != "7f454c46020101" {
		t.Errorf("ident %s", got)
	}
	if len(img) != 64+2*56+1 || img[len(img)-1] != 0xcc {
		t.Errorf("image of %d bytes", len(img))
	}
}

// TestTrampolineFailureFallsBackToHelper: when the trampoline cannot be
// executed the process is started through the exec helper instead, with
// the same result for the program.
func TestTrampolineFailureFallsBackToHelper(t *testing.T) {
	if trampolineCode == nil {
		t.Skip("no trampoline for this architecture")
	}
	r := startReaper(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	p, err := newPlan(Spec{
		Command: unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", `echo "$$ $LISTEN_PID"`}, NoEnvExpand: true},
		Env:     []string{"LISTEN_FDS=1"}, Stdout: pw, ExtraFiles: []*os.File{pw}, SelfExe: os.Args[0],
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if !p.tramp || p.helper {
		t.Fatalf("plan does not use the trampoline (tramp %v, helper %v)", p.tramp, p.helper)
	}
	p.exe = "/proc/self/fd/999999" // as if executing the trampoline failed
	exited := make(chan reaper.Exit, 1)
	pid, err := p.start(r, func(e reaper.Exit) { exited <- e })
	pw.Close()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	out, _ := io.ReadAll(pr)
	<-exited
	if want := fmt.Sprintf("%d %d\n", pid, pid); string(out) != want {
		t.Errorf("program saw pid and LISTEN_PID %q; want %q", out, want)
	}
}
