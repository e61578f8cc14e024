package holderproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMain: the test binary links this package, so started with
// Command as its first argument it is the holder, as tend is, from the
// package's init: reaching TestMain so started is a failure.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Command {
		os.Stderr.WriteString("the holder's init did not take over\n")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// The binary started as `… fdholder` serves on descriptor 3 from the
// package's init, holds a pipe's read end after the client closed its
// own, and exits with status 0 when asked.
func TestHolderProcess(t *testing.T) {
	ln, path := listen(t)
	d, err := syscall.Dup(ln)
	if err != nil {
		t.Fatal(err)
	}
	lnf := os.NewFile(uintptr(d), "listener")
	defer lnf.Close()
	cmd := exec.Command(os.Args[0], Command)
	cmd.ExtraFiles = []*os.File{lnf}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	c := dial(t, path)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if got := c.request("Sa", p[0]); got != "K" {
		t.Fatalf("store: %q", got)
	}
	syscall.Close(p[0]) // only the holder has the read end now
	if _, err := syscall.Write(p[1], []byte("x")); err != nil {
		t.Fatalf("write with the read end held: %v", err)
	}
	syscall.Close(p[1])
	if got := c.request("S"); got[0] != '!' {
		t.Fatalf("store without a descriptor: %q", got)
	}
	if got := c.request("X"); got != "K" {
		t.Fatalf("exit: %q", got)
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("holder: %v", err)
	}
}

// TestCloseInherited: the holder closes what it inherited by mistake
// (no close-on-exec: a lock held so would outlive tend) and keeps its
// listener and its own close-on-exec descriptors.
func TestCloseInherited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	leaked, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT, 0o600) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	keep, err := syscall.Open(path, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(keep)
	own, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(own)
	closeInherited(keep)
	if _, err := fcntl(leaked, syscall.F_GETFD, 0); err == nil {
		syscall.Close(leaked)
		t.Fatal("an inherited descriptor without close-on-exec is still open")
	}
	for _, fd := range []int{keep, own} {
		if _, err := fcntl(fd, syscall.F_GETFD, 0); err != nil {
			t.Fatalf("descriptor %d closed: %v", fd, err)
		}
	}
}
