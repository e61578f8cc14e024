package daemon

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDupListenersLeaveAcceptInterruptible: the copies a re-exec takes
// of the control socket must leave the socket non-blocking. A blocking
// one made the API server's next accept wait in the kernel, where
// closing the listener cannot end it: the close then waited for the
// accept, and the re-exec for the close, until a client came.
func TestDupListenersLeaveAcceptInterruptible(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{ln: ln}
	keep, h, err := d.dupListeners()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, fd := range keep {
			unix.Close(fd)
		}
	}()
	if len(keep) != 1 || h.API != keep[0] {
		t.Fatalf("kept %v, handoff API %d; want the one copy handed over", keep, h.API)
	}
	var orig, dup unix.Stat_t
	rc, _ := ln.SyscallConn()
	rc.Control(func(fd uintptr) { unix.Fstat(int(fd), &orig) })
	if err := unix.Fstat(h.API, &dup); err != nil || dup.Ino != orig.Ino {
		t.Fatalf("the copy is not the control socket: %v", err)
	}
	if fl, err := unix.FcntlInt(uintptr(h.API), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("the control socket is in blocking mode after the copy (flags %#x, %v)", fl, err)
	}

	// What the API server does next: accept, then close to stop.
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	select {
	case <-closed:
		if err := <-accepted; err == nil {
			t.Error("Accept returned a connection nobody made")
		}
	case <-time.After(10 * time.Second):
		// Let the stuck accept go, so that the goroutines end.
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
		}
		<-closed
		t.Fatal("closing the listener waited for an accept blocked in the kernel")
	}
}
