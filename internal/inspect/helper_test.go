package inspect

import (
	"bufio"
	"context"
	"sort"

	"fmt"
	"github.com/tendproject/tend/internal/procfs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary double as the processes the tests look
// at: with INSPECT_HELPER set it becomes one and never runs tests.
func TestMain(m *testing.M) {
	switch os.Getenv("INSPECT_HELPER") {
	case "":
		os.Exit(m.Run())
	case "wait":
		helperWait()
	case "fds":
		helperFDs()
	case "unprivileged":
		helperUnprivileged()
	case "nondumpable":
		// As after a setuid program drops its privileges: the kernel
		// gives the process's /proc files to root.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		helperWait()
	}
	os.Exit(0)
}

// helperWait reports ready and blocks until its stdin closes.
func helperWait() {
	fmt.Println("ready")
	os.Stdin.Read(make([]byte, 1))
}

// helperFDs opens one of each kind of file, prints "name=fd" for each,
// then blocks until stdin closes.
func helperFDs() {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	f, err := os.Open(os.Getenv("INSPECT_FILE"))
	if err != nil {
		fail(err)
	}
	w, err := os.OpenFile(os.Getenv("INSPECT_FILE")+".w", os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fail(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fail(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		fail(err)
	}
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		fail(err)
	}
	fdOf := func(c any) int {
		sc, err := c.(syscall.Conn).SyscallConn()
		if err != nil {
			fail(err)
		}
		var n int
		sc.Control(func(fd uintptr) { n = int(fd) })
		return n
	}
	listen6 := -1 // a host without IPv6 has no ::1
	if ln6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		listen6 = fdOf(ln6)
	}
	fmt.Printf("file=%d write=%d pipe_r=%d pipe_w=%d listen=%d client=%d server=%d pair0=%d pair1=%d listen6=%d\n",
		f.Fd(), w.Fd(), pr.Fd(), pw.Fd(), fdOf(ln), fdOf(c1), fdOf(c2), sp[0], sp[1], listen6)
	os.Stdin.Read(make([]byte, 1))
}

// helperUnprivileged runs the views on a process it may not fully read
// (it runs as nobody) and prints what they made of it.
func helperUnprivileged() {
	pid, _ := strconv.Atoi(os.Getenv("INSPECT_TARGET"))
	c := NewCollector(procfs.New("/proc"), nil)
	d, err := Inspect(context.Background(), c, pid)
	if err != nil {
		fmt.Println("inspect error:", err)
		return
	}
	var keys []string
	for k := range d.Unreadable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	l, err := FDs(context.Background(), c, pid)
	if err != nil {
		fmt.Println("fds error:", err)
		return
	}
	fmt.Printf("unreadable=%s fds=%s comm=%s\n", strings.Join(keys, ","), l.Files[len(l.Files)-1].Error, d.Process.Comm)
}

// nobodyBinary copies the test binary where the user nobody can run it.
func nobodyBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	bin := dir + "/helper"
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// helper is a started helper process; closing stdin ends it.
type helper struct {
	cmd   *exec.Cmd
	stdin *os.File
	line  string
}

// startHelper starts the test binary in helper mode with extra args (which
// show in its command line) and waits for its first line.
func startHelper(t *testing.T, mode string, env []string, args ...string) *helper {
	t.Helper()
	return startHelperCmd(t, exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...), mode, env)
}

// startHelperCmd starts cmd, a copy of the test binary, in helper mode.
func startHelperCmd(t *testing.T, cmd *exec.Cmd, mode string, env []string) *helper {
	t.Helper()
	cmd.Env = append(append(os.Environ(), "INSPECT_HELPER="+mode), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: in.(*os.File)}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s: %v", mode, err)
	}
	h.line = strings.TrimSpace(line)
	if strings.HasPrefix(h.line, "error") {
		t.Fatalf("helper %s: %s", mode, h.line)
	}
	return h
}

// fields parses the helper's "k=v" line.
func (h *helper) fields() map[string]int {
	m := map[string]int{}
	for _, kv := range strings.Fields(h.line) {
		k, v, _ := strings.Cut(kv, "=")
		m[k], _ = strconv.Atoi(v)
	}
	return m
}

// startProc starts a command in a new process group and, at cleanup,
// kills that group (the command and any children it forked) and reaps it.
func startProc(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// waitFor polls cond until it holds or 10 s pass. It is used only for
// changes in other processes the kernel sends no event for (an exec, a
// child becoming a zombie).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (the differential tests compare against it)", tool)
		}
	}
}
