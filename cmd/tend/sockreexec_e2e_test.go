package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// socketUnits writes the socket units of the re-exec and crash tests:
// web.socket (Accept=no, python3 service consuming LISTEN_FDS), lazy.socket
// (Accept=no, never triggered before), greet.socket (Accept=yes) and
// echo.socket (the in-process echo built-in). It returns the units
// directory and the ports.
func socketUnits(t *testing.T, work string) (dir string, web, lazy, greet, echo int) {
	server, instance := filepath.Join(work, "server.py"), filepath.Join(work, "instance.py")
	os.WriteFile(server, []byte(fdServer), 0o644)
	os.WriteFile(instance, []byte(instanceServer), 0o644)
	web, lazy, greet, echo = freePort(t), freePort(t), freePort(t), freePort(t)
	dir = writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=web.socket lazy.socket greet.socket echo.socket\n",
		"web.socket":     fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nBacklog=512\n", web),
		"web.service":    "[Service]\nExecStart=/usr/bin/python3 " + server + " " + filepath.Join(work, "web.got") + "\n",
		"lazy.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", lazy),
		"lazy.service":   "[Service]\nExecStart=/usr/bin/python3 " + server + " " + filepath.Join(work, "lazy.got") + "\n",
		"greet.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\nMaxConnections=64\nBacklog=512\n", greet),
		"greet@.service": "[Service]\nExecStart=/usr/bin/python3 " + instance + "\n",
		"echo.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nX-Tend-Internal=echo\nBacklog=512\nTriggerLimitBurst=0\n", echo),
	})
	return
}

// socketInodes lists the sockets pid holds, by inode.
func socketInodes(t *testing.T, pid int) map[uint64]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
			out[n] = true
		}
	}
	return out
}

// clientLoop connects to a port over and over until stopped, counting
// refused connections apart from other failures.
type clientLoop struct {
	name                string
	refused, failed, ok atomic.Int64
	firstErr            atomic.Value
	progress            chan struct{} // one token per served connection, dropped when full
	stop                atomic.Bool
	done                chan struct{}
}

func startLoop(name, addr string, exchange func(c net.Conn, r *bufio.Reader) error) *clientLoop {
	l := &clientLoop{name: name, progress: make(chan struct{}, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for !l.stop.Load() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					l.refused.Add(1)
				} else {
					l.failed.Add(1)
				}
				l.firstErr.CompareAndSwap(nil, err.Error())
				continue
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			err = exchange(c, bufio.NewReader(c))
			c.Close()
			if err != nil {
				l.failed.Add(1)
				l.firstErr.CompareAndSwap(nil, err.Error())
				continue
			}
			l.ok.Add(1)
			select {
			case l.progress <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// served waits for n more connections to be served.
func (l *clientLoop) served(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-l.progress:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no connection served for 30s (%d ok, %d refused, %d failed, first error %v)",
				l.name, l.ok.Load(), l.refused.Load(), l.failed.Load(), l.firstErr.Load())
		}
	}
}

// drain forgets the progress so far.
func (l *clientLoop) drain() {
	for {
		select {
		case <-l.progress:
		default:
			return
		}
	}
}

func (l *clientLoop) end() {
	l.stop.Store(true)
	<-l.done
}

// lineExchange sends a line and reads one back.
func lineExchange(c net.Conn, r *bufio.Reader) error {
	if _, err := c.Write([]byte("hi\n")); err != nil {
		return err
	}
	_, err := r.ReadString('\n')
	return err
}

// greetExchange talks to an Accept=yes instance: greeting, echo, bye.
func greetExchange(c net.Conn, r *bufio.Reader) error {
	if _, err := r.ReadString('\n'); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	fmt.Fprintf(c, "ping\n")
	if l, err := r.ReadString('\n'); err != nil || l != "ping\n" {
		return fmt.Errorf("echo %q: %v", l, err)
	}
	_, err := fmt.Fprintf(c, "bye\n")
	return err
}

var acceptedRE = regexp.MustCompile(`Accepted: (\d+)`)

func accepted(t *testing.T, in *instance, unit string) int {
	t.Helper()
	out := in.mustCtl("status", unit)
	m := acceptedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("status %s shows no Accepted: count:\n%s", unit, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// holdInstance opens an Accept=yes connection and keeps it: the
// instance serving it must outlive what the test does to the manager.
func holdInstance(t *testing.T, in *instance, port int) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("held connection: no greeting: %v", err)
	}
	local := c.LocalAddr().(*net.TCPAddr).Port
	re := regexp.MustCompile(`greet@\d+-127\.0\.0\.1:` + strconv.Itoa(port) + `-127\.0\.0\.1:` + strconv.Itoa(local) + `\.service`)
	name := re.FindString(in.mustCtl("list-units", "--all", "--no-legend"))
	if name == "" {
		t.Fatalf("no instance for the held connection:\n%s", in.mustCtl("list-units", "--all"))
	}
	return c, r, name
}

// TestSocketDaemonReexec: across daemon-reexec, socket units keep their
// listening sockets (the same inodes, held by tend), no client is
// refused, the activated service and a per-connection instance keep
// their pids and the instance its connection, counters are kept, and
// each socket goes on as before: the idle one activates its service on
// traffic, the running one listens again when its service stops.
func TestSocketDaemonReexec(t *testing.T) {
	needPython(t)
	work := t.TempDir()
	dir, web, lazy, greet, echo := socketUnits(t, work)
	in := startTendAt(t, dir, work)
	tend := in.cmd.Process.Pid
	for _, u := range []string{"web.socket", "lazy.socket", "greet.socket", "echo.socket"} {
		in.waitState(u, "active (listening)")
	}
	addr := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	if _, err := ask("tcp", addr(web)); err != nil {
		t.Fatal(err)
	}
	in.waitState("web.socket", "active (running)")
	webPID := in.mainPID("web.service")
	held, heldR, inst := holdInstance(t, in, greet)
	instPID := in.mainPID(inst)

	inodes := map[int]uint64{}
	have := socketInodes(t, tend)
	for _, p := range []int{web, lazy, greet, echo} {
		inodes[p] = listenInode(t, p)
		if inodes[p] == 0 || !have[inodes[p]] {
			t.Fatalf("port %d: listening inode %d not held by tend before the re-exec", p, inodes[p])
		}
	}

	loops := []*clientLoop{
		startLoop("web (Accept=no, running)", addr(web), lineExchange),
		startLoop("greet (Accept=yes)", addr(greet), greetExchange),
		startLoop("echo (built-in)", addr(echo), lineExchange),
	}
	for _, l := range loops {
		defer l.end()
		l.served(t, 3)
	}
	acceptedBefore := accepted(t, in, "greet.socket")

	in.mustCtl("daemon-reexec")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tend's log:\n%s", in.stderr)
			t.Logf("%s", in.mustCtl("status", "echo.socket"))
		}
	})
	// The re-exec'd manager answers (the API socket was kept), and every
	// loop gets through again afterwards.
	in.mustCtl("status", "greet.socket")
	for _, l := range loops {
		l.drain()
		l.served(t, 10)
	}
	for i, l := range loops {
		l.end()
		// A built-in's connection open at the exec is cut (it lived in
		// the old process); nothing else may fail.
		cut := int64(0)
		if i == 2 {
			cut = 1
		}
		if l.refused.Load() != 0 || l.failed.Load() > cut {
			t.Errorf("%s: %d served, %d refused, %d failed (first: %v)", l.name, l.ok.Load(), l.refused.Load(), l.failed.Load(), l.firstErr.Load())
		}
		t.Logf("%s: %d connections served across the re-exec", l.name, l.ok.Load())
	}

	have = socketInodes(t, tend)
	for _, p := range []int{web, lazy, greet, echo} {
		if got := listenInode(t, p); got != inodes[p] || !have[got] {
			t.Errorf("port %d: listening socket inode %d after the re-exec (held by tend: %v); want the same %d",
				p, got, have[got], inodes[p])
		}
	}
	if got := in.mainPID("web.service"); got != webPID {
		t.Errorf("web.service main pid %d after the re-exec; want %d", got, webPID)
	}
	in.waitState("web.socket", "active (running)")
	if n := accepted(t, in, "greet.socket"); n < acceptedBefore {
		t.Errorf("greet.socket Accepted: %d after the re-exec; want at least %d", n, acceptedBefore)
	}

	// The instance and its connection came through.
	if got := in.mainPID(inst); got != instPID {
		t.Errorf("%s main pid %d after the re-exec; want %d", inst, got, instPID)
	}
	if out := in.mustCtl("status", "greet.socket"); !strings.Contains(out, "Connected: 1") {
		t.Errorf("greet.socket after the re-exec does not count the held connection:\n%s", out)
	}
	fmt.Fprintf(held, "still here\n")
	if l, err := heldR.ReadString('\n'); err != nil || l != "still here\n" {
		t.Errorf("held connection after the re-exec: %q %v", l, err)
	}
	fmt.Fprintf(held, "bye\n")
	in.waitState("greet.socket", "Connected: 0")

	// The idle socket activates its service on traffic, as before.
	if a, err := ask("tcp", addr(lazy)); err != nil || !strings.HasPrefix(a, "pid ") {
		t.Errorf("lazy.socket after the re-exec: %q %v\n%s", a, err, in.stderr)
	}
	// The running one listens again when its service stops, and starts
	// it again on the next connection.
	in.mustCtl("stop", "web.service")
	in.waitState("web.socket", "active (listening)")
	if a, err := ask("tcp", addr(web)); err != nil || a == fmt.Sprintf("pid %d fd 3", webPID) {
		t.Errorf("web.socket after its service stopped: %q %v", a, err)
	}
	if p := in.mainPID("web.service"); p == 0 || p == webPID {
		t.Errorf("web.service not activated again (main pid %d, was %d)", p, webPID)
	}
}

// TestSocketCrash: after kill -9 of tend, a new tend takes back the
// listener that the running service holds (the same socket: nothing was
// refused or lost on it), binds the others again, and adopts a running
// per-connection instance.
func TestSocketCrash(t *testing.T) {
	needPython(t)
	work := t.TempDir()
	dir, web, lazy, greet, echo := socketUnits(t, work)
	first := startTendAt(t, dir, work)
	in := first
	for _, u := range []string{"web.socket", "lazy.socket", "greet.socket", "echo.socket"} {
		in.waitState(u, "active (listening)")
	}
	addr := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	if _, err := ask("tcp", addr(web)); err != nil {
		t.Fatal(err)
	}
	in.waitState("web.socket", "active (running)")
	webPID := in.mainPID("web.service")
	webInode := listenInode(t, web)
	held, heldR, inst := holdInstance(t, in, greet)
	instPID := in.mainPID(inst)
	first.crash()

	second := startTendAt(t, dir, work)
	tend := second.cmd.Process.Pid
	if got := second.mainPID("web.service"); got != webPID {
		t.Fatalf("web.service main pid %d after the crash; want the survivor %d", got, webPID)
	}
	second.waitState("web.socket", "active (running)")
	if got := listenInode(t, web); got != webInode || !socketInodes(t, tend)[got] {
		t.Errorf("web.socket: listening inode %d after the crash (held by the new tend: %v); want %d taken back from the service",
			got, socketInodes(t, tend)[got], webInode)
	}
	for _, p := range []int{lazy, greet, echo} {
		if ino := listenInode(t, p); ino == 0 || !socketInodes(t, tend)[ino] {
			t.Errorf("port %d not listening in the new tend after the crash", p)
		}
	}
	if a, err := ask("tcp", addr(echo)); err != nil || a != "hi" {
		t.Errorf("echo after the crash: %q %v", a, err)
	}
	if a, err := ask("tcp", addr(lazy)); err != nil || !strings.HasPrefix(a, "pid ") {
		t.Errorf("lazy.socket after the crash: %q %v", a, err)
	}
	if got := second.mainPID(inst); got != instPID {
		t.Errorf("%s main pid %d after the crash; want the adopted %d", inst, got, instPID)
	}
	if out := second.mustCtl("status", inst); !strings.Contains(out, "active (running)") || !strings.Contains(out, "TriggeredBy: ● greet.socket") {
		t.Errorf("status of the adopted instance:\n%s", out)
	}
	if out := second.mustCtl("status", "greet.socket"); !strings.Contains(out, "Connected: 1") {
		t.Errorf("greet.socket after the crash does not count the adopted instance's connection:\n%s", out)
	}
	// The state file did not list the instance (its cgroup did): a
	// connection made beside it is served by an instance of its own.
	if a, err := ask("tcp", addr(greet)); err != nil || !strings.HasPrefix(a, "fds=1") {
		t.Errorf("greet.socket beside the adopted instance: %q %v", a, err)
	}
	fmt.Fprintf(held, "still here\n")
	if l, err := heldR.ReadString('\n'); err != nil || l != "still here\n" {
		t.Errorf("held connection after the crash: %q %v", l, err)
	}
	fmt.Fprintf(held, "bye\n")
	second.waitState("greet.socket", "Connected: 0")
	// The adopted instance still logs into its template's journal
	// stream: its end made no directory of its own.
	if _, err := os.Stat(filepath.Join(work, "journal", inst)); err == nil {
		t.Errorf("the adopted instance %s logs into a journal directory of its own", inst)
	}
	if out := second.mustCtl("logs", "-u", inst, "--no-pager"); !strings.Contains(out, "Deactivated successfully") {
		t.Errorf("logs of the adopted instance:\n%s", out)
	}
	if a, err := ask("tcp", addr(greet)); err != nil || !strings.HasPrefix(a, "fds=1") {
		t.Errorf("greet.socket after the crash: %q %v", a, err)
	}

	// The taken-back listener is the socket's again once the service stops.
	second.mustCtl("stop", "web.service")
	second.waitState("web.socket", "active (listening)")
	if a, err := ask("tcp", addr(web)); err != nil || a == fmt.Sprintf("pid %d fd 3", webPID) {
		t.Errorf("web.socket after its service stopped: %q %v", a, err)
	}
}
