package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStandardInputSocketInheritsOutput: with StandardInput=socket and
// no StandardOutput=, output goes to the socket too ("inherit", as
// systemd.exec(5) defaults it), so cat echoes to its client.
func TestStandardInputSocketInheritsOutput(t *testing.T) {
	port := freePort(t)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=echo.socket\n",
		"echo.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"echo@.service":  "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
	})
	in := startTend(t, dir)
	in.waitState("echo.socket", "active (listening)")
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		t.Errorf("echo: %q, %v; want hello back on the socket\n%s", got, err, in.stderr)
	}
}

// TestStandardOutputKmsg: StandardOutput=kmsg writes the service's lines
// into the kernel log.
func TestStandardOutputKmsg(t *testing.T) {
	k, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("kernel log not readable here: %v", err)
	}
	defer k.Close()
	if _, err := k.Seek(0, io.SeekEnd); err != nil {
		t.Skipf("kernel log not seekable: %v", err)
	}
	token := fmt.Sprintf("tend-kmsg-test-%d", os.Getpid())
	dir := writeUnits(t, map[string]string{
		"k.service": "[Service]\nType=oneshot\nExecStart=/bin/echo " + token + "\nStandardOutput=kmsg\n",
	})
	in := startTend(t, dir)
	in.mustCtl("start", "k")
	fd := int(k.Fd())
	buf := make([]byte, 8192)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// /dev/kmsg is not pollable through Go's poller: wait with poll(2).
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(time.Until(deadline)/time.Millisecond))
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE { // records overwritten meanwhile: read on
			continue
		}
		if n > 0 && strings.Contains(string(buf[:n]), token) {
			return
		}
	}
	t.Errorf("%s not in the kernel log", token)
}

// TestStandardOutputFIFO: StandardOutput=file: may name a FIFO. With no
// reader, the start fails at once and says why, and tend goes on with
// other units (opening it for writing would wait for a reader, with the
// manager's loop behind it); with a reader, the service writes into it.
func TestStandardOutputFIFO(t *testing.T) {
	fifo := t.TempDir() + "/out.fifo"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("tend-fifo-test-%d", os.Getpid())
	dir := writeUnits(t, map[string]string{
		"f.service":     "[Service]\nType=oneshot\nExecStart=/bin/echo " + token + "\nStandardOutput=file:" + fifo + "\n",
		"other.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
	})
	in := startTend(t, dir)
	if out, rc := in.ctl("start", "f"); rc == 0 {
		t.Errorf("start with nobody reading the FIFO succeeded: %q", out)
	}
	if logs := in.mustCtl("logs", "-u", "f", "--no-pager"); !strings.Contains(logs, "a FIFO that no process reads") {
		t.Errorf("the log does not say why f failed:\n%s", logs)
	}
	in.mustCtl("start", "other")
	in.waitState("other.service", "active (exited)")

	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0) // Go's poller waits for data
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in.mustCtl("start", "f")
	r.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || got != token+"\n" {
		t.Errorf("read from the FIFO: %q, %v; want %s", got, err, token)
	}
}

// TestFIFODropInUnit: a FIFO among a unit's drop-ins (nothing writes to
// it) holds neither the load nor `tend cat`: it reads as empty.
func TestFIFODropInUnit(t *testing.T) {
	dir := writeUnits(t, map[string]string{
		"x.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
	})
	os.MkdirAll(dir+"/x.service.d", 0o755)
	if err := unix.Mkfifo(dir+"/x.service.d/10-fifo.conf", 0o600); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	in.mustCtl("start", "x")
	in.waitState("x.service", "active (exited)")
	if out := in.mustCtl("cat", "x"); !strings.Contains(out, "ExecStart=/bin/true") || !strings.Contains(out, "10-fifo.conf") {
		t.Errorf("tend cat x:\n%s\nwant the unit file and the (empty) drop-in", out)
	}
}
