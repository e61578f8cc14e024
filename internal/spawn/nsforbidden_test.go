package spawn

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/sandbox"
	"github.com/tendproject/tend/internal/unit"
)

// TestNamespacesForbidden runs the helper where unshare(2) fails, as in
// a container that forbids namespaces: under a seccomp filter (built by
// internal/sandbox) that makes it fail with EOPNOTSUPP, in a child test
// process, as systemd's own test-execute does in its second pass.
// PrivateTmp= and ProtectHostname= are skipped with a warning and the
// program runs; TemporaryFileSystem= (a changed file system, not only a
// protected one) fails with 226/NAMESPACE, PrivateNetwork= with
// 225/NETWORK.
func TestNamespacesForbidden(t *testing.T) {
	needRoot(t)
	if os.Getenv("TEND_TEST_NO_UNSHARE") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNamespacesForbidden$", "-test.v")
		cmd.Env = append(os.Environ(), "TEND_TEST_NO_UNSHARE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("under a filter denying unshare: %v\n%s", err, out)
		}
		return
	}
	denyUnshare(t)
	ec := func(sb sandbox.Config) *unit.ExecContext { return &unit.ExecContext{UMask: 0o022, Sandbox: &sb} }
	echo := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "echo ran"}}
	out, e := runOutput(t, Spec{Unit: "nsforbidden.service", Command: echo, Exec: ec(sandbox.Config{PrivateTmp: true, ProtectHostname: true})})
	if e.Status.ExitStatus() != 0 || !strings.Contains(out, "ran") || !strings.Contains(out, "not applied") {
		t.Errorf("PrivateTmp= where namespaces are forbidden: %q, %v; want it skipped with a warning and the program run", out, e.Status)
	}
	RemovePrivateTmp("nsforbidden.service")
	for _, c := range []struct {
		name string
		sb   sandbox.Config
		want int
	}{
		{"TemporaryFileSystem=", sandbox.Config{TemporaryFileSystem: []sandbox.TmpFS{{Path: "/mnt"}}}, ExitNamespace},
		{"PrivateNetwork=", sandbox.Config{PrivateNetwork: true}, ExitNetwork},
	} {
		_, err := Start(startReaper(t), Spec{Unit: "nsforbidden.service", Command: echo, Exec: ec(c.sb), SelfExe: os.Args[0]}, nil)
		if se, ok := err.(*SetupError); !ok || se.Status != c.want {
			t.Errorf("%s where namespaces are forbidden: %v; want status %d before the program", c.name, err, c.want)
		}
	}
}

// denyUnshare makes unshare(2) fail with EOPNOTSUPP in every thread of
// this process and in its children.
func denyUnshare(t *testing.T) {
	progs, err := sandbox.Seccomp(&sandbox.Config{SystemCallFilter: &sandbox.SyscallList{Calls: map[string]int{"unshare": int(unix.EOPNOTSUPP)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range progs {
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
			t.Fatalf("load seccomp filter: %v", errno)
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWUTS); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("unshare under the filter: %v; want EOPNOTSUPP", err)
	}
}
