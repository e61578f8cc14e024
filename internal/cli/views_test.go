package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// viewEnv runs commands against the procfs fixture tree.
func viewEnv(proc string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "TEND_PROC" {
			return proc
		}
		return ""
	}}
	return env, &out, &errb
}

const fixtureProc = "../procfs/testdata/proc"

func TestViewCommands(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  []string // substrings of stdout
		err  string   // substring of stderr
	}{
		{args: []string{"ps", "-e"}, out: []string{"UID", "UNIT", "web.service", "[kthreadd]", "nginx: worker process"}},
		{args: []string{"ps", "--unit", "web.service", "-o", "pid,stat,unit"}, out: []string{"100 S<s  web.service", "300 Z    web.service"}},
		{args: []string{"ps", "--zombies"}, out: []string{"nginx(100)", "[defunct-child] <defunct>"}},
		{args: []string{"ps", "-p", "4242"}, code: 1, out: []string{"PID"}}, // procps: the header, exit 1
		{args: []string{"ps", "-p", "x"}, code: 1, err: "error: process ID list syntax error\n\nUsage:\n tend ps [options]"},
		{args: []string{"ps", "-Q"}, code: 1, err: "error: unsupported SysV option\n"},
		{args: []string{"ps", "Q"}, code: 1, err: "error: unsupported option (BSD syntax)\n"},
		{args: []string{"ps", "-ef"}, out: []string{"UID        PID  PPID  C STIME TTY          TIME CMD\n"}},
		{args: []string{"ps", "aux"}, out: []string{"USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"}},
		{args: []string{"ps", "-e", "-o", "pid=,comm="}, out: []string{"    2 kthreadd\n"}},
		{args: []string{"ps", "--help"}, out: []string{"aux, axjf, xf"}},
		{args: []string{"ps", "--unit", "nope.service"}, code: 1, err: "no processes in unit nope.service"},
		{args: []string{"ps", "-e", "-o", "pid,nonsense"}, code: 1, err: `error: unknown user-defined format specifier "nonsense"`},
		{args: []string{"tree", "-A", "-p"}, out: []string{"tend(1)-+-[app.service]---app(400)"}},
		{args: []string{"tree", "web.service"}, out: []string{"[web.service]───nginx"}},
		{args: []string{"tree", "4242"}, code: 1, err: "no such process: 4242"},
		{args: []string{"tree", "bogus"}, code: 1, err: "no processes in unit bogus.service"},
		{args: []string{"tree", "a/b"}, code: 1, err: "neither a process id nor a unit name"},
		{args: []string{"top", "-b", "-n", "1"}, out: []string{"Tasks:   8 total", "%Cpu(s):", "COMMAND"}},
		{args: []string{"top", "-b", "-n", "1", "--units"}, out: []string{"PROCS", "web.service"}},
		{args: []string{"top", "-b", "-d", "0"}, code: 1, err: "invalid delay"},
		{args: []string{"fds", "4242"}, code: 1, err: "no such process: 4242"},
		{args: []string{"fds", "nope.service"}, code: 1, err: "no processes in unit nope.service"},
		{args: []string{"inspect", "4242"}, code: 1, err: "no such process: 4242"},
		{args: []string{"inspect", "-1"}, code: 1},
		{args: []string{"inspect", "500"}, code: 1, err: "no such process: 500"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, out, errb := viewEnv(fixtureProc)
			if code := Run(env, tt.args); code != tt.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, tt.code, errb.String())
			}
			for _, want := range tt.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.err) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.err)
			}
		})
	}
}

func TestViewJSON(t *testing.T) {
	for _, args := range [][]string{
		{"ps", "-e", "-o", "json"},
		{"tree", "-o", "json"},
		{"top", "-b", "-n", "1", "-o", "json"},
	} {
		env, out, errb := viewEnv(fixtureProc)
		if code := Run(env, args); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		var v any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Errorf("%v: output is not JSON: %v\n%s", args, err, out.String())
		}
	}
	env, out, _ := viewEnv("/proc")
	if code := Run(env, []string{"fds", "-o", "json", strconv.Itoa(os.Getpid())}); code != 0 {
		t.Fatalf("fds -o json: exit %d", code)
	}
	var lists []struct {
		PID   int `json:"pid"`
		Files []struct {
			FD string `json:"fd"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out.Bytes(), &lists); err != nil || len(lists) != 1 || lists[0].PID != os.Getpid() || len(lists[0].Files) < 3 {
		t.Errorf("fds json = %+v, %v", lists, err)
	}
}

// TestTopInteractive drives the interactive top through a pseudo terminal:
// it waits for the first frame, switches to the unit list, and quits.
func TestTopInteractive(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo terminals: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 120})
	env, _, errb := viewEnv(fixtureProc)
	env.Stdin, env.Stdout = tty, tty
	done := make(chan int, 1)
	go func() { done <- Run(env, []string{"top", "-d", "60"}) }()

	screen := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				screen <- string(buf[:n])
			}
			if err != nil {
				close(screen)
				return
			}
		}
	}()
	var seen strings.Builder
	waitScreen := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for !strings.Contains(seen.String(), want) {
			select {
			case s, ok := <-screen:
				if !ok {
					t.Fatalf("terminal closed before %q appeared:\n%s", want, seen.String())
				}
				seen.WriteString(s)
			case <-timeout:
				t.Fatalf("%q did not appear:\n%q", want, seen.String())
			}
		}
	}
	waitScreen("Tasks:   8 total")
	waitScreen("web.service")
	ptmx.Write([]byte("G"))
	waitScreen("PROCS")
	ptmx.Write([]byte("h"))
	waitScreen("q quit")
	ptmx.Write([]byte("q"))
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("top exited %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not quit on q")
	}
}

// TestPsCutsAtTerminalWidth: on a terminal ps -f cuts the command at the
// terminal's width, as procps does; -ww does not.
func TestPsCutsAtTerminalWidth(t *testing.T) {
	for _, tt := range []struct {
		args []string
		cut  bool
	}{{[]string{"ps", "-ef"}, true}, {[]string{"ps", "-ef", "-ww"}, false}} {
		out := runOnTerminal(t, tt.args, 60)
		long := strings.Contains(out, "nginx: master process /usr/sbin/nginx -g daemon off;")
		for _, l := range strings.Split(out, "\n") {
			if tt.cut && len(l) > 60 {
				t.Errorf("%v: line longer than the terminal's 60 columns: %q", tt.args, l)
			}
		}
		if long == tt.cut {
			t.Errorf("%v: full nginx command line shown = %v; want %v:\n%s", tt.args, long, !tt.cut, out)
		}
	}
}

// runOnTerminal runs args with standard output on a new pseudo terminal
// of the given width and returns all it wrote: the terminal side is
// closed after the run, so reading the master to its end (EIO) gets the
// whole output however the kernel splits it.
func runOnTerminal(t *testing.T, args []string, cols uint16) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo terminals: %v", err)
	}
	defer ptmx.Close()
	pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: cols})
	env, _, errb := viewEnv(fixtureProc)
	env.Stdout = tty
	code := Run(env, args)
	tty.Close()
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errb.String())
	}
	b, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed and drained
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
