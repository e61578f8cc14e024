//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package holderproc

import (
	"bufio"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// manager is a process that takes a holder over (the 'M' request) and
// then lives until killed, as a tend run after a crash does.
type manager struct {
	cmd *exec.Cmd
}

// takeOver starts a manager of the holder at path with grace ms and
// returns once the holder has answered it.
func takeOver(t *testing.T, path string, graceMS int) *manager {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", `import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(b"M" + struct.pack("<Q", int(sys.argv[2])))
print(s.recv(600).decode(), flush=True)
sys.stdin.read()
`, path, strconv.Itoa(graceMS))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no python3 for a manager: %v", err)
	}
	m := &manager{cmd: cmd}
	t.Cleanup(m.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "K\n" {
		t.Fatalf("manage: %q, %v", line, err)
	}
	return m
}

// kill ends the manager as kill -9 does, and reaps it.
func (m *manager) kill() {
	if m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	}
}

// running says whether the holder has not exited (it is not reaped).
func (h *holder) running(t *testing.T) bool {
	t.Helper()
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(h.pid, &ws, syscall.WNOHANG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pid == h.pid {
		h.reaped = true
		t.Logf("holder ended: %v", ws)
	}
	return pid == 0
}

// A holder whose manager is killed keeps what it holds for the grace
// period and then exits by itself (it lingered for ever before); a
// manager taking it over within the grace period disarms the timer, and
// the count starts again from that manager's end.
func TestHolderEndsAfterGrace(t *testing.T) {
	const grace = 400 * time.Millisecond
	ln, path := listen(t)
	h := forkHolder(t, ln)
	c := dial(t, path)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[1])
	if got := c.request("Sjournal:a.service:stdout:1", p[0]); got != "K" {
		t.Fatalf("store: %q", got)
	}
	syscall.Close(p[0]) // the holder's is the only read end

	first := takeOver(t, path, int(grace/time.Millisecond))
	first.kill()
	died := time.Now()
	// The holder still serves, and holds the pipe, in the grace period.
	if got := c.list(); len(got) != 1 {
		t.Fatalf("after the manager's end: %v", got)
	} else {
		for _, fd := range got {
			syscall.Close(fd)
		}
	}
	second := takeOver(t, path, int(grace/time.Millisecond))
	// The first manager's grace period runs out while the second lives:
	// no event says the holder did not exit, so the test lets that time
	// pass.
	time.Sleep(time.Until(died.Add(grace + grace/2)))
	if !h.running(t) {
		t.Fatal("the holder exited while a manager that took it over ran")
	}

	ended := time.Now() // before the kill: the holder's count starts after
	second.kill()
	if ws := h.wait(t); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("holder ended with %v", ws)
	}
	if waited := time.Since(ended); waited < grace {
		t.Fatalf("holder exited %v after its manager's end; want at least the grace period %v", waited, grace)
	}
	// Its descriptors went with it: the pipe has no reader left.
	if _, err := syscall.Write(p[1], []byte("x")); err != syscall.EPIPE {
		t.Fatalf("write after the holder's exit: %v; want EPIPE", err)
	}
}

// A manager that gives a grace period of 0 leaves a holder that does
// not count down at its end (it waits for ever, as before).
func TestHolderGraceZeroWaits(t *testing.T) {
	ln, path := listen(t)
	h := forkHolder(t, ln)
	takeOver(t, path, 0).kill()
	c := dial(t, path)
	// The list is answered after the holder handled the manager's end
	// (one loop, in order of events).
	if got := c.list(); len(got) != 0 {
		t.Fatalf("list: %v", got)
	}
	if !h.running(t) {
		t.Fatal("the holder exited with no grace period")
	}
}
