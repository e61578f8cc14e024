package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holderPID is the pid of the fd holder serving work's runtime
// directory, 0 if none runs: the process that holds the socket listening
// there. (The peer credentials of a connection to it would name the tend
// that bound it and handed it over, dead after a crash.)
func holderPID(work string) int {
	b, _ := os.ReadFile("/proc/net/unix")
	path := filepath.Join(work, "run", "fdholder.sock")
	// The listening socket's line (flags __SO_ACCEPTCON): a connection
	// the holder accepted shows the path too, and right after a crash the
	// holder closes its end of tend's, so its inode may no longer be
	// held by the time the descriptors are read.
	inode := ""
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 8 && f[7] == path && f[3] == "00010000" {
			inode = f[6]
		}
	}
	if inode == "" {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if l, _ := os.Readlink(fd); l == "socket:["+inode+"]" {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			if pid != os.Getpid() {
				return pid
			}
		}
	}
	return 0
}

// reapHolder makes sure the test leaves no holder behind, whatever
// happened to the tend that should have ended it.
func reapHolder(t *testing.T, work string) {
	t.Cleanup(func() {
		if pid := holderPID(work); pid > 0 {
			t.Errorf("fd holder %d still runs after tend's clean exit", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// After kill -9 of tend, a service writing all the while neither gets
// EPIPE nor loses a line: every sequence number it wrote is in the
// journal once, in order. A socket unit's listener is kept too: a
// client connecting while no tend runs is queued and served after.
func TestFDHolderCrashLosesNothing(t *testing.T) {
	units, tmp := t.TempDir(), t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The writer exits 1 on its first failed write (EPIPE): its
	// survival proves it never lost its reader.
	writer := loopWriter(t, tmp, 50, "0.01")
	server := filepath.Join(tmp, "server.py")
	if err := os.WriteFile(server, []byte(`import socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(b"served\n")
    c.close()
`), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	write("default.target", "[Unit]\nWants=writer.service echo.socket\n")
	write("writer.service", "[Service]\nExecStart=/usr/bin/python3 "+writer+"\n")
	write("echo.socket", "[Socket]\nListenStream=127.0.0.1:"+strconv.Itoa(port)+"\n")
	write("echo.service", "[Service]\nExecStart=/usr/bin/python3 "+server+"\n")
	work := t.TempDir()
	reapHolder(t, work)

	first := startTendAt(t, units, work)
	pid := first.mainPID("writer.service")
	first.follow("writer.service")("seq 1000")
	first.crash()

	// No manager runs: the writer goes on, and a client connects.
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Errorf("connection while tend is down: %v (want it queued)", err)
	} else {
		defer conn.Close()
	}
	time.Sleep(500 * time.Millisecond) // the writer writes meanwhile: ~2500 lines
	if !alive(pid) {
		t.Fatalf("writer %d died while tend was down (EPIPE)", pid)
	}

	second := startTendAt(t, units, work)
	if conn != nil {
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "served\n" {
			t.Errorf("queued connection after the restart: %q, %v", line, err)
		}
	}
	if got := second.mainPID("writer.service"); got != pid {
		t.Fatalf("writer MainPID after the crash = %d; want %d\n%s", got, pid, second.stderr)
	}
	second.mustCtl("stop", "writer.service")
	if alive(pid) {
		t.Fatalf("writer %d not stopped", pid)
	}
	if r := second.prop("writer.service", "Result"); r != "success" && r != "signal" {
		t.Logf("writer Result=%s", r)
	}
	next := checkSeqLog(t, second, "writer.service")
	if next < 3000 {
		t.Fatalf("journal has only %d lines of the writer", next)
	}
	t.Logf("%d lines, none lost across the crash", next)
}

// The holder a crashed tend left waits for the next one for the grace
// period, no longer: a tend that takes it over gives it its own grace
// period (--fd-holder-grace), and once that tend is killed too and none
// comes back, the holder exits by itself (it lingered for ever before).
func TestFDHolderEndsWithoutManager(t *testing.T) {
	units := writeUnits(t, map[string]string{
		"default.target":  "[Unit]\nWants=sleeper.service\n",
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	work := t.TempDir()
	reapHolder(t, work)

	first := startTendAt(t, units, work) // the default grace: minutes
	pid := first.mainPID("sleeper.service")
	holder := holderOf(t, first.cmd.Process.Pid)
	first.crash()

	second := startTendAt(t, units, work, "--fd-holder-grace=300ms")
	if got := second.mainPID("sleeper.service"); got != pid {
		t.Fatalf("sleeper MainPID after the crash = %d; want %d", got, pid)
	}
	second.crash()
	awaitGone(t, holder)

	// A tend started afterwards starts a holder of its own, adopts the
	// service, and stops it at its clean exit.
	third := startTendAt(t, units, work)
	if got := third.mainPID("sleeper.service"); got != pid {
		t.Fatalf("sleeper MainPID after the holder's end = %d; want %d", got, pid)
	}
	if got := holderOf(t, third.cmd.Process.Pid); got == holder {
		t.Fatalf("the third tend has the old holder %d", holder)
	}
}

// holderOf is the pid of the fd holder tend started: its child running
// tend's executable (a fork, which renames itself tend-fdholder only once
// it runs; the services here run other programs). holderPID finds a
// holder by the socket it listens on, whichever tend started it.
func holderOf(t *testing.T, tend int) int {
	t.Helper()
	self, err := os.Readlink("/proc/" + strconv.Itoa(tend) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(tend) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if exe, _ := os.Readlink("/proc/" + c + "/exe"); exe == self {
				pid, _ := strconv.Atoi(c)
				return pid
			}
		}
	}
	t.Fatalf("tend %d has no fd holder", tend)
	return 0
}
