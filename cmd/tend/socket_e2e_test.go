package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fdServer is a python3 service that consumes LISTEN_FDS as
// sd_listen_fds(3) does: it checks LISTEN_PID, records what it got in
// $OUT, and answers every stream connection and datagram with
// "pid N fd F". Stream connections are served on their own threads.
const fdServer = `import os, socket, sys, threading
out = sys.argv[1]
n = int(os.environ.get("LISTEN_FDS", "0"))
ok = os.environ.get("LISTEN_PID") == str(os.getpid())
with open(out + ".tmp", "w") as f:
    f.write("pid=%d fds=%d pidok=%s names=%s remote=%s\n" % (os.getpid(), n, ok, os.environ.get("LISTEN_FDNAMES"), os.environ.get("REMOTE_ADDR")))
os.rename(out + ".tmp", out)
def serve(fd):
    s = socket.socket(fileno=fd)
    if s.type == socket.SOCK_DGRAM:
        while True:
            data, peer = s.recvfrom(1500)
            s.sendto(b"pid %d fd %d\n" % (os.getpid(), fd), peer)
    while True:
        c, _ = s.accept()
        c.recv(100)
        c.sendall(b"pid %d fd %d\n" % (os.getpid(), fd))
        c.close()
ts = [threading.Thread(target=serve, args=(3 + i,), daemon=True) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
`

func needPython(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("the services are python3 programs")
	}
}

// ask connects to addr on network, sends a line and returns the answer.
func ask(network, addr string) (string, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write([]byte("hi\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// waitFile waits for path to exist and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
	}
	t.Fatalf("%s not written within 20s", path)
	return ""
}

// waitState polls status until unit shows want (state changes have no
// client-side event to await; the loop is bounded).
func (in *instance) waitState(unit, want string) string {
	in.t.Helper()
	var out string
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		out, _ = in.ctl("status", unit)
		if strings.Contains(out, want) {
			return out
		}
	}
	in.t.Fatalf("%s never showed %q:\n%s\ndaemon:\n%s", unit, want, out, in.stderr)
	return ""
}

// TestSocketActivation: a socket unit with a TCP, a UDP and a unix
// listener is bound at boot, its service starts on the first
// connection and gets the three sockets (LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES, fds from 3), and it keeps serving through restarts
// and a crash of the service without refusing a single connection.
func TestSocketActivation(t *testing.T) {
	needPython(t)
	work := t.TempDir()
	tcp, udp := freePort(t), freePort(t)
	sock := filepath.Join(work, "sub", "web.sock")
	script := filepath.Join(work, "server.py")
	os.WriteFile(script, []byte(fdServer), 0o644)
	got := filepath.Join(work, "got")
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=web.socket\n",
		"web.socket": fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nListenDatagram=127.0.0.1:%d\nListenStream=%s\nSocketMode=0600\nFileDescriptorName=web\nRemoveOnStop=yes\n",
			tcp, udp, sock),
		"web.service": "[Service]\nExecStart=/usr/bin/python3 " + script + " " + got + "\n",
	})
	in := startTend(t, dir)
	out := in.waitState("web.socket", "active (listening)")
	for _, want := range []string{fmt.Sprintf("Listen: 127.0.0.1:%d (Stream)", tcp), fmt.Sprintf("127.0.0.1:%d (Datagram)", udp), sock + " (Stream)", "Triggers: ○ web.service"} {
		if !strings.Contains(out, want) {
			t.Errorf("status web.socket lacks %q:\n%s", want, out)
		}
	}
	ls := in.mustCtl("list-sockets", "--show-types")
	for _, want := range []string{"LISTEN", "TYPE", "UNIT", "ACTIVATES", fmt.Sprintf("127.0.0.1:%d", udp), "Datagram", "web.socket", "web.service", "3 sockets listed."} {
		if !strings.Contains(ls, want) {
			t.Errorf("list-sockets lacks %q:\n%s", want, ls)
		}
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("unix socket: %v, mode %v; want 0600", err, fi)
	}
	if out, _ := in.ctl("status", "web.service"); !strings.Contains(out, "inactive") {
		t.Fatalf("web.service started before any traffic:\n%s", out)
	}

	answer, err := ask("tcp", fmt.Sprintf("127.0.0.1:%d", tcp))
	if err != nil {
		t.Fatalf("first connection: %v\n%s", err, in.stderr)
	}
	env := waitFile(t, got)
	pid := in.mainPID("web.service")
	if want := fmt.Sprintf("pid=%d fds=3 pidok=True names=web:web:web", pid); !strings.HasPrefix(env, want) {
		t.Errorf("service environment: got %q; want %q", env, want)
	}
	if answer != fmt.Sprintf("pid %d fd 3", pid) {
		t.Errorf("tcp answer %q; want it from pid %d on fd 3", answer, pid)
	}
	if a, err := ask("udp", fmt.Sprintf("127.0.0.1:%d", udp)); err != nil || a != fmt.Sprintf("pid %d fd 4", pid) {
		t.Errorf("udp answer %q, %v; want fd 4", a, err)
	}
	if a, err := ask("unix", sock); err != nil || a != fmt.Sprintf("pid %d fd 5", pid) {
		t.Errorf("unix answer %q, %v; want fd 5", a, err)
	}
	if out := in.waitState("web.socket", "active (running)"); !strings.Contains(out, "Accepted: 0") {
		t.Errorf("status of an Accept=no socket:\n%s", out)
	}
	if out := in.mustCtl("status", "web.service"); !strings.Contains(out, "TriggeredBy: ● web.socket") {
		t.Errorf("status web.service lacks TriggeredBy:\n%s", out)
	}

	// A client keeps connecting while the service restarts and crashes.
	// No connection may be refused; one the service had accepted when it
	// was stopped or killed may be cut.
	var stop atomic.Bool
	var failed, cut, served atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", tcp), 5*time.Second)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				continue
			}
			c.SetDeadline(time.Now().Add(15 * time.Second))
			c.Write([]byte("hi\n"))
			_, err = bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				cut.Add(1)
			} else {
				served.Add(1)
			}
		}
	}()
	for i := 0; i < 3; i++ {
		in.mustCtl("restart", "web.service")
		time.Sleep(100 * time.Millisecond) // let the client connect to this run
	}
	old := in.mainPID("web.service")
	in.mustCtl("kill", "-s", "KILL", "web.service")
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if p := in.mainPID("web.service"); p != 0 && p != old {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || served.Load() == 0 || cut.Load() > 4 {
		t.Errorf("during restarts: %d connections served, %d refused (first: %v), %d cut", served.Load(), failed.Load(), firstErr.Load(), cut.Load())
	}
	t.Logf("during 3 restarts and a crash: %d connections served, %d cut by the service's end", served.Load(), cut.Load())
	if p := in.mainPID("web.service"); p == old || p == 0 {
		t.Errorf("the killed service was not activated again (main pid %d, killed %d)", p, old)
	}

	in.mustCtl("stop", "web.socket", "web.service")
	if ls := in.mustCtl("list-sockets"); strings.Contains(ls, "web.socket") {
		t.Errorf("list-sockets shows a stopped socket without --all:\n%s", ls)
	}
	if ls := in.mustCtl("list-sockets", "--all"); !strings.Contains(ls, sock) {
		t.Errorf("list-sockets --all lacks the stopped socket:\n%s", ls)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("RemoveOnStop=yes left %s: %v", sock, err)
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(tcp), time.Second); err == nil {
		t.Errorf("port %d still accepts after the socket stopped", tcp)
	}
}

// instanceServer is an Accept=yes instance: it greets its client with
// what it got (fd 3, REMOTE_ADDR/REMOTE_PORT) and echoes one line.
const instanceServer = `import os, socket
s = socket.socket(fileno=3)
s.sendall(("fds=%s names=%s pidok=%s remote=%s:%s\n" % (os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_FDNAMES"), os.environ.get("LISTEN_PID") == str(os.getpid()), os.environ.get("REMOTE_ADDR"), os.environ.get("REMOTE_PORT"))).encode())
f = s.makefile("rb")
line = f.readline()
s.sendall(line)
f.readline()
`

// TestSocketAccept: Accept=yes starts one instance of the template per
// connection, named as systemd names it, with the connection on fd 3;
// beyond MaxConnections= connections are refused and counted, and
// instances vanish when their connection ends.
// TestSocketAcceptHandsOverConnection: an Accept=yes instance that
// cannot start its main process again (Restart=no) owns its connection
// alone, as under inetd: when its process closes the socket and goes on
// running, the client sees the end of the stream at once, not when tend
// reaps the instance.
func TestSocketAcceptHandsOverConnection(t *testing.T) {
	work := t.TempDir()
	port := freePort(t)
	script := filepath.Join(work, "instance.sh")
	// Say hello, let go of the connection (stdin, stdout and fd 3), then
	// stay until the test ends.
	os.WriteFile(script, []byte("echo hello\nexec 0<&- 1>&- 3>&-\nexec sleep 60\n"), 0o755)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=drop.socket\n",
		"drop.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"drop@.service":  "[Service]\nExecStart=/bin/sh " + script + "\nStandardInput=socket\nStandardError=journal\n",
	})
	in := startTend(t, dir)
	in.waitState("drop.socket", "active (listening)")
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("read %q, %v; want \"hello\\n\" then the end of the stream\n%s", got, err, in.stderr)
	}
	in.waitState("drop.socket", "Accepted: 1; Connected: 1")
	name := fmt.Sprintf("drop@0-127.0.0.1:%d-127.0.0.1:%d.service", port, c.LocalAddr().(*net.TCPAddr).Port)
	if out, code := in.ctl("status", name); code != 0 || !strings.Contains(out, "active (running)") {
		t.Errorf("status %s: exit %d\n%s", name, code, out)
	}
	in.mustCtl("stop", name)
	in.waitState("drop.socket", "Accepted: 1; Connected: 0")
}

func TestSocketAccept(t *testing.T) {
	needPython(t)
	work := t.TempDir()
	port := freePort(t)
	script := filepath.Join(work, "instance.py")
	os.WriteFile(script, []byte(instanceServer), 0o644)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=greet.socket\n",
		"greet.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\nMaxConnections=3\n", port),
		"greet@.service": "[Service]\nExecStart=/usr/bin/python3 " + script + "\n",
	})
	in := startTend(t, dir)
	in.waitState("greet.socket", "active (listening)")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		greeting, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("connection %d: %v\n%s", i, err, in.stderr)
		}
		local := c.LocalAddr().(*net.TCPAddr)
		if want := fmt.Sprintf("fds=1 names=connection pidok=True remote=127.0.0.1:%d\n", local.Port); greeting != want {
			t.Errorf("connection %d: greeting %q; want %q", i, greeting, want)
		}
		name := fmt.Sprintf("greet@%d-127.0.0.1:%d-127.0.0.1:%d.service", i, port, local.Port)
		if out, code := in.ctl("status", name); code != 0 || !strings.Contains(out, "active (running)") || !strings.Contains(out, "TriggeredBy") {
			t.Errorf("status %s: exit %d\n%s", name, code, out)
		}
		checkInstanceGroups(t, in.mainPID(name), name)
		conns, readers = append(conns, c), append(readers, r)
	}
	// The fourth is over MaxConnections=3: closed at once.
	c4, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c4.SetDeadline(time.Now().Add(20 * time.Second))
	if n, err := c4.Read(make([]byte, 10)); err == nil {
		t.Errorf("connection over MaxConnections= got %d bytes", n)
	}
	c4.Close()
	in.waitState("greet.socket", "Accepted: 3; Connected: 3; Refused: 1")
	for i, c := range conns {
		fmt.Fprintf(c, "line %d\n", i)
		if echo, err := readers[i].ReadString('\n'); err != nil || echo != fmt.Sprintf("line %d\n", i) {
			t.Errorf("echo %d: %q %v", i, echo, err)
		}
		fmt.Fprintf(c, "bye\n")
	}
	in.waitState("greet.socket", "Accepted: 3; Connected: 0; Refused: 1")
	if out := in.mustCtl("list-units", "--all"); strings.Contains(out, "greet@") {
		t.Errorf("instances still listed after their connections ended:\n%s", out)
	}
	// The socket is free again: a new connection gets instance number 3.
	if a, err := ask("tcp", addr); err != nil || !strings.HasPrefix(a, "fds=1") {
		t.Errorf("connection after the others ended: %q %v", a, err)
	}
}

// checkInstanceGroups: a per-connection instance runs in its own
// tracking group, and (on a hybrid machine) stays out of per-unit v1
// groups, whose creation and process moves would cost every connection.
func checkInstanceGroups(t *testing.T, pid int, name string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var v2 bool
	var v1 []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if id, _, _ := strings.Cut(line, ":"); strings.HasSuffix(line, "/"+name) {
			if id == "0" {
				v2 = true
			} else {
				v1 = append(v1, line)
			}
		}
	}
	switch {
	case v2 && len(v1) > 0:
		t.Errorf("instance %s is in per-unit v1 groups too: %q", name, v1)
	case !v2 && len(v1) == 0: // (v1 mode tracks in one v1 hierarchy)
		t.Errorf("instance %s (pid %d) not in its own group:\n%s", name, pid, b)
	}
}

// TestInetdServes: an inetd.conf with the internal echo and an external
// nowait server, and an xinetd.d service with only_from, are served by
// tend: the built-in answers from tend itself, the external server runs
// per connection with the connection on stdin/stdout, and a peer outside
// only_from is refused and counted.
func TestInetdServes(t *testing.T) {
	if l, err := net.Listen("tcp", "127.0.0.1:7"); err != nil {
		t.Skipf("the echo port is taken here: %v", err)
	} else {
		l.Close()
	}
	conf := t.TempDir()
	ext, xport := freePort(t), freePort(t)
	inetdConf := filepath.Join(conf, "inetd.conf")
	os.WriteFile(inetdConf, []byte(fmt.Sprintf("127.0.0.1:echo\tstream\ttcp\tnowait\troot\tinternal\n127.0.0.1:%d\tstream\ttcp\tnowait\tnobody\t/bin/sed\tsed -u s/^/sed:/\n", ext)), 0o644)
	os.MkdirAll(filepath.Join(conf, "xinetd.d"), 0o755)
	xconf := filepath.Join(conf, "xinetd.conf")
	os.WriteFile(xconf, []byte("includedir "+filepath.Join(conf, "xinetd.d")+"\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "xinetd.d", "id"), []byte(fmt.Sprintf(
		"service id\n{\n\ttype = UNLISTED\n\tport = %d\n\tbind = 127.0.0.1\n\tsocket_type = stream\n\twait = no\n\tuser = nobody\n\tserver = /usr/bin/id\n\tonly_from = 127.0.0.2\n}\n", xport)), 0o644)
	dir := t.TempDir()
	in := startTend(t, dir, "--inetd-conf", inetdConf, "--xinetd-conf", xconf)
	in.waitState("inetd-echo-tcp-127.0.0.1.socket", "active (listening)")

	if a, err := ask("tcp", "127.0.0.1:7"); err != nil || a != "hi" {
		t.Errorf("internal echo: %q %v\n%s", a, err, in.stderr)
	}
	name := fmt.Sprintf("inetd-%d-tcp-127.0.0.1.socket", ext)
	if out, code := in.ctl("status", name); code != 0 {
		out = in.mustCtl("list-units", "--all")
		t.Fatalf("no %s:\n%s", name, out)
	}
	if a, err := ask("tcp", fmt.Sprintf("127.0.0.1:%d", ext)); err != nil || a != "sed:hi" {
		t.Errorf("external nowait server: %q %v\n%s", a, err, in.stderr)
	}
	// only_from = 127.0.0.2: a client on 127.0.0.1 is refused ...
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", xport), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 100)); err == nil {
		t.Errorf("a peer outside only_from got %d bytes", n)
	}
	c.Close()
	in.waitState("xinetd-id.socket", "Refused: 1")
	// ... and one from 127.0.0.2 served.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	c, err = d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", xport))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.Contains(line, "uid=65534") {
		t.Errorf("xinetd id for 127.0.0.2: %q %v", line, err)
	}

	// daemon-reload after an edit: the unchanged listener is the same
	// socket (its queue survives), a new entry listens, a removed one
	// is closed; a connection under way goes on.
	conv, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ext), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()
	conv.SetDeadline(time.Now().Add(20 * time.Second))
	cr := bufio.NewReader(conv)
	fmt.Fprintf(conv, "a\n")
	if l, err := cr.ReadString('\n'); err != nil || l != "sed:a\n" {
		t.Fatalf("conversation before reload: %q %v", l, err)
	}
	before := listenInode(t, ext)
	ext2 := freePort(t)
	os.WriteFile(inetdConf, []byte(fmt.Sprintf("127.0.0.1:%d\tstream\ttcp\tnowait\tnobody\t/bin/sed\tsed -u s/^/sed:/\n127.0.0.1:%d\tstream\ttcp\tnowait\tnobody\t/bin/sed\tsed -u s/^/two:/\n", ext, ext2)), 0o644)
	in.mustCtl("daemon-reload")
	if after := listenInode(t, ext); after != before || before == 0 {
		t.Errorf("listener of an unchanged entry: inode %d before reload, %d after; want the same socket", before, after)
	}
	fmt.Fprintf(conv, "b\n")
	if l, err := cr.ReadString('\n'); err != nil || l != "sed:b\n" {
		t.Errorf("conversation across reload: %q %v", l, err)
	}
	in.waitState(fmt.Sprintf("inetd-%d-tcp-127.0.0.1.socket", ext2), "active (listening)")
	if a, err := ask("tcp", fmt.Sprintf("127.0.0.1:%d", ext2)); err != nil || a != "two:hi" {
		t.Errorf("entry added by reload: %q %v", a, err)
	}
	for end := time.Now().Add(20 * time.Second); listenInode(t, 7) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the removed echo entry still listens")
		}
	}
}

// listenInode is the inode of the TCP socket listening on 127.0.0.1:port
// (0 if none), from /proc/net/tcp.
func listenInode(t *testing.T, port int) uint64 {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 9 && f[1] == want && f[3] == "0A" {
			n, _ := strconv.ParseUint(f[9], 10, 64)
			return n
		}
	}
	return 0
}

// TestSocketBadInput: an address in use, a socket whose service does
// not exist and an Accept=yes socket without its template each fail
// with the reason in status, while another socket keeps serving; a
// client that connects and never sends holds only its own instance.
func TestSocketBadInput(t *testing.T) {
	needPython(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	work := t.TempDir()
	port := freePort(t)
	script := filepath.Join(work, "instance.py")
	os.WriteFile(script, []byte(instanceServer), 0o644)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=busy.socket ghost.socket tmpl.socket good.socket\n",
		"busy.socket":    "[Socket]\nListenStream=" + held.Addr().String() + "\nAccept=yes\n",
		"busy@.service":  "[Service]\nExecStart=/bin/true\n",
		"ghost.socket":   fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nService=nosuch.service\n", freePort(t)),
		"tmpl.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", freePort(t)),
		"good.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"good@.service":  "[Service]\nExecStart=/usr/bin/python3 " + script + "\n",
	})
	in := startTend(t, dir)
	for unit, reason := range map[string]string{
		"busy.socket":  "address already in use",
		"ghost.socket": "socket service nosuch.service not loaded",
		"tmpl.socket":  "template tmpl@.service for Accept=yes is not loaded",
	} {
		if out := in.waitState(unit, "failed"); !strings.Contains(out, reason) {
			t.Errorf("status %s lacks %q:\n%s", unit, reason, out)
		}
	}
	// A silent client holds its instance; others are served meanwhile.
	silent, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for i := 0; i < 3; i++ {
		if a, err := ask("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil || !strings.HasPrefix(a, "fds=1") {
			t.Errorf("good.socket beside a silent client: %q %v", a, err)
		}
	}
	in.waitState("good.socket", "Connected: 1;")
}
