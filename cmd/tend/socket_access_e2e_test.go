package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketAccessAcceptNo: IPAddressAllow=/IPAddressDeny= of an
// Accept=no socket hold for the traffic its service reads itself. A
// datagram and a connection from a refused peer (127.0.0.1) reach
// neither tend nor the service; an allowed peer (127.0.0.2) triggers
// the service, which answers it. Each refused packet is sent before the
// allowed one, and loopback delivers in order within the sending call,
// so had it got through, its answer would be there when the allowed
// one's is.
func TestSocketAccessAcceptNo(t *testing.T) {
	needPython(t)
	work := t.TempDir()
	tcp, udp := freePort(t), freePort(t)
	script := filepath.Join(work, "server.py")
	os.WriteFile(script, []byte(fdServer), 0o644)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=acl.socket\n",
		"acl.socket": fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nListenDatagram=127.0.0.1:%d\nIPAddressDeny=any\nIPAddressAllow=127.0.0.2\n",
			tcp, udp),
		"acl.service": "[Service]\nExecStart=/usr/bin/python3 " + script + " " + filepath.Join(work, "got") + "\n",
	})
	in := startTend(t, dir)
	in.waitState("acl.socket", "active (listening)")

	refused := udpFrom(t, "127.0.0.1", udp, "refused")
	allowed := udpFrom(t, "127.0.0.2", udp, "allowed")
	allowed.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 100)
	n, err := allowed.Read(buf)
	if err != nil {
		t.Fatalf("allowed datagram not answered: %v\n%s", err, in.stderr)
	}
	pid := in.mainPID("acl.service")
	if got := strings.TrimSpace(string(buf[:n])); !strings.HasPrefix(got, fmt.Sprintf("pid %d ", pid)) {
		t.Errorf("allowed peer got %q; want an answer from pid %d", got, pid)
	}
	if got := pending(t, refused); got != "" {
		t.Errorf("refused peer got an answer: %q", got)
	}

	// Stream: the refused SYN is dropped, so that connection never
	// completes, while the allowed one is served.
	fd := connectFrom(t, "127.0.0.1", tcp)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcp))
	if err != nil {
		t.Fatalf("allowed connection: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write([]byte("hi\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, fmt.Sprintf("pid %d ", pid)) {
		t.Errorf("allowed connection got %q, %v", line, err)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		t.Errorf("the refused peer's connection completed (poll events %#x)", pfd[0].Revents)
	}
	if out, _ := in.ctl("status", "acl.socket"); !strings.Contains(out, "active (running)") {
		t.Errorf("acl.socket:\n%s", out)
	}
}

// udpFrom sends msg to 127.0.0.1:port from address src.
func udpFrom(t *testing.T, src string, port int, msg string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	return c
}

// pending is what c has received and not read yet, without waiting.
func pending(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got string
	rc.Control(func(fd uintptr) {
		buf := make([]byte, 100)
		if n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT); err == nil {
			got = string(buf[:n])
		}
	})
	return got
}

// connectFrom starts a non-blocking connection from src to
// 127.0.0.1:port and returns its descriptor.
func connectFrom(t *testing.T, src string, port int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte(net.ParseIP(src).To4())}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	return fd
}

// TestBuiltinDatagramAccess: tend's in-process UDP echo (inetd's
// "internal", xinetd's only_from) answers allowed peers only; before
// the socket filter it echoed anyone.
func TestBuiltinDatagramAccess(t *testing.T) {
	udp := freePort(t)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=echo.socket\n",
		"echo.socket":    fmt.Sprintf("[Socket]\nListenDatagram=127.0.0.1:%d\nX-Tend-Internal=echo\nIPAddressDeny=any\nIPAddressAllow=127.0.0.2\n", udp),
	})
	in := startTend(t, dir)
	in.waitState("echo.socket", "active (listening)")
	refused := udpFrom(t, "127.0.0.1", udp, "refused")
	allowed := udpFrom(t, "127.0.0.2", udp, "allowed")
	allowed.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 100)
	if n, err := allowed.Read(buf); err != nil || string(buf[:n]) != "allowed" {
		t.Fatalf("allowed peer got %q, %v", buf[:n], err)
	}
	if got := pending(t, refused); got != "" {
		t.Errorf("refused peer got an echo: %q", got)
	}
}
