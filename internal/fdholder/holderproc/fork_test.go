//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package holderproc

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// holder is a forked holder, for a test.
type holder struct {
	pid    int
	reaped bool
}

// wait reaps the holder and returns how it ended.
func (h *holder) wait(t *testing.T) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(h.pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	h.reaped = true
	return ws
}

// forkHolder forks a holder serving ln; the test's end kills it if it
// was not reaped (until then its pid is its own).
func forkHolder(t *testing.T, ln int) *holder {
	t.Helper()
	pid, err := Fork(ln, os.Getuid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{pid: pid}
	t.Cleanup(func() {
		if !h.reaped {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			h.wait(t)
		}
	})
	return h
}

// The forked holder keeps a pipe's read end after the client closed its
// own (a write gets no EPIPE), gives back a duplicate of it, drops it,
// refuses bad requests, inherits no other descriptor of this process,
// and exits with status 0 when asked.
func TestForkedHolder(t *testing.T) {
	ln, path := listen(t)
	var leaked [2]int // without close-on-exec: a fork shares it all the same
	if err := syscall.Pipe(leaked[:]); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leaked[0])
	defer syscall.Close(leaked[1])
	h := forkHolder(t, ln)
	pid := h.pid
	c := dial(t, path)

	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if got := c.request("Sjournal:a.service:stdout:1", p[0]); got != "K" {
		t.Fatalf("store: %q", got)
	}
	syscall.Close(p[0])
	if _, err := syscall.Write(p[1], []byte("one\n")); err != nil {
		t.Fatalf("write with the read end held: %v", err)
	}
	syscall.Close(p[1])
	for _, bad := range []string{"S", "Sx", "?"} {
		if got := c.request(bad); got[0] != '!' {
			t.Fatalf("request %q: %q", bad, got)
		}
	}
	if got := c.request("Sother", int(os.Stdin.Fd())); got != "K" {
		t.Fatalf("store: %q", got)
	}

	// Descriptors of the holder: stdin, stdout and stderr on /dev/null,
	// the listener, the manager's pidfd, its epoll, the grace timer, the
	// client's connection and the two held.
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name())
		if fd, _ := strconv.Atoi(e.Name()); fd <= 2 && target != "/dev/null" {
			t.Errorf("the holder's descriptor %d is %s, not /dev/null", fd, target)
		}
		for _, l := range leaked {
			self, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(l))
			if target == self {
				t.Errorf("the holder shares descriptor %s (%s) of its parent", e.Name(), target)
			}
		}
	}
	if len(ents) != 10 {
		t.Errorf("the holder has %d descriptors, want 10", len(ents))
	}

	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || strings.TrimRight(string(cmdline), "\x00") != "tend\x00fdholder" {
		t.Errorf("holder's command line %q (%v)", cmdline, err)
	}

	got := c.list()
	if len(got) != 2 {
		t.Fatalf("list: %v", got)
	}
	buf := make([]byte, 16)
	n, _ := syscall.Read(got["journal:a.service:stdout:1"], buf)
	if string(buf[:n]) != "one\n" {
		t.Fatalf("read back %q", buf[:n])
	}
	for _, fd := range got {
		syscall.Close(fd)
	}
	if got := c.request("Dother"); got != "K" {
		t.Fatalf("drop: %q", got)
	}
	if got := c.list(); len(got) != 1 {
		t.Fatalf("after drop: %v", got)
	}

	if got := c.request("X"); got != "K" {
		t.Fatalf("exit: %q", got)
	}
	if ws := h.wait(t); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("holder ended with %v", ws)
	}
}

// Names stored and dropped by the thousand, as restarts do, keep the
// table right: the names' space is packed again when it fills.
func TestForkedHolderChurn(t *testing.T) {
	ln, path := listen(t)
	forkHolder(t, ln)
	c := dial(t, path)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	long := strings.Repeat("x", MaxName)
	want := map[string]bool{}
	for i := 0; i < 5000; i++ {
		name := strconv.Itoa(i%700) + ":" + long[:i%400]
		if got := c.request("S"+name, p[0]); got != "K" {
			t.Fatalf("store %d: %q", i, got)
		}
		want[name] = true
		if i%3 != 0 {
			if got := c.request("D" + name); got != "K" {
				t.Fatalf("drop %d: %q", i, got)
			}
			delete(want, name)
		}
	}
	got := c.list()
	for name, fd := range got {
		syscall.Close(fd)
		if !want[name] {
			t.Errorf("holding %q", name)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("holding %d names, want %d", len(got), len(want))
	}
	if got := c.request("X"); got != "K" {
		t.Fatalf("exit: %q", got)
	}
}
