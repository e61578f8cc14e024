package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/sandbox"
	"github.com/tendproject/tend/internal/unit"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("sandboxing needs root (namespaces, mounts, capabilities)")
	}
}

// sandboxed is a sandbox as Debian's daemons ask for it.
func sandboxed() *unit.ExecContext {
	kill := uint64(1 << 5) // CAP_KILL
	return &unit.ExecContext{UMask: 0o022, Sandbox: &sandbox.Config{
		NoNewPrivileges: true, CapabilityBoundingSet: &kill, PrivateTmp: true, ProtectSystem: "strict",
		PrivateDevices: true, SystemCallFilter: &sandbox.SyscallList{Calls: map[string]int{"uname": 84}},
	}}
}

// TestSandboxApplied: the settings reach the process, as seen from
// outside in /proc.
func TestSandboxApplied(t *testing.T) {
	needRoot(t)
	r := startReaper(t)
	pid := runReady(t, r, Spec{Exec: sandboxed(), SelfExe: os.Args[0]})
	for key, want := range map[string]string{"NoNewPrivs": "1", "CapBnd": "0000000000000020", "Seccomp": "2"} {
		if got := statusField(t, pid, key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); ns == self {
		t.Error("the process shares tend's mount namespace")
	}
	mi := procFile(t, pid, "mountinfo")
	for _, want := range []string{" /tmp ", " /dev "} {
		if !strings.Contains(mi, want) {
			t.Errorf("no private mount%sin mountinfo:\n%s", want, mi)
		}
	}
	for _, l := range strings.Split(mi, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "/" && !strings.HasPrefix(f[5], "ro") {
			t.Errorf("/ is not read-only under ProtectSystem=strict: %s", l)
		}
	}
}

// TestSandboxRefused: what cannot be set up fails the start with the
// step's status and a reason, and runs nothing.
func TestSandboxRefused(t *testing.T) {
	needRoot(t)
	r := startReaper(t)
	ec := &unit.ExecContext{UMask: 0o022, Sandbox: &sandbox.Config{ReadOnlyPaths: []string{"/nonexistent-tend-test"}}}
	_, err := Start(r, Spec{Command: unit.Command{Path: "/bin/true"}, Exec: ec, SelfExe: os.Args[0]}, func(reaper.Exit) {
		t.Error("a process ran")
	})
	var se *SetupError
	if !errors.As(err, &se) || se.Status != ExitNamespace || !strings.Contains(err.Error(), "/nonexistent-tend-test") {
		t.Fatalf("Start: %v; want a NAMESPACE (226) failure naming the path", err)
	}
}

// TestFullPrivilegeSkipsSandbox: a "+" command runs without the sandbox
// (and without the helper's extra exec).
func TestFullPrivilegeSkipsSandbox(t *testing.T) {
	p, err := newPlan(Spec{Command: unit.Command{Path: "/bin/true", FullPrivilege: true}, Exec: sandboxed()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.sandbox != nil || p.helper {
		t.Errorf("a + command gets sandbox %v, helper %v", p.sandbox, p.helper)
	}
}

// TestSyscallFilterEffect: a denied call fails with the errno the unit
// names (uname(1) then exits 1); without the filter it succeeds.
func TestSyscallFilterEffect(t *testing.T) {
	needRoot(t)
	r := startReaper(t)
	for _, filtered := range []bool{false, true} {
		ec := &unit.ExecContext{UMask: 0o022}
		if filtered {
			ec.Sandbox = &sandbox.Config{SystemCallFilter: &sandbox.SyscallList{Calls: map[string]int{"uname": 84}}}
		}
		exited := make(chan reaper.Exit, 1)
		s := Spec{Command: unit.Command{Path: "/bin/uname"}, Exec: ec, SelfExe: os.Args[0]}
		if _, err := Start(r, s, func(e reaper.Exit) { exited <- e }); err != nil {
			t.Fatal(err)
		}
		e := <-exited
		if ok := e.Status.Exited() && e.Status.ExitStatus() == 0; ok == filtered {
			t.Errorf("filtered=%v: uname ended with wait status %#x", filtered, e.Status)
		}
	}
}

// TestRootImageRefused: RootImage= fails the start with a reason rather
// than running the program on the host's root.
func TestRootImageRefused(t *testing.T) {
	ec := &unit.ExecContext{UMask: 0o022, Sandbox: &sandbox.Config{RootImage: "/srv/os.raw"}}
	_, err := newPlan(Spec{Command: unit.Command{Path: "/bin/true"}, Exec: ec})
	var se *SetupError
	if !errors.As(err, &se) || se.Status != ExitNamespace || !strings.Contains(err.Error(), "RootImage=") {
		t.Fatalf("newPlan: %v; want a NAMESPACE failure about RootImage=", err)
	}
}

// TestPrivateUsers: the process runs in a user namespace of its own
// that maps only root and its user, with a new /proc (ProtectProc=)
// that tend mounted for it, and PrivateDevices= still gives it devices.
func TestPrivateUsers(t *testing.T) {
	needRoot(t)
	r := startReaper(t)
	ec := sandboxed()
	ec.User = "65534"
	ec.Sandbox.PrivateUsers, ec.Sandbox.ProtectProc = true, "invisible"
	pid := runReady(t, r, Spec{Exec: ec, SelfExe: os.Args[0]})
	self, _ := os.Readlink("/proc/self/ns/user")
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid)); ns == self {
		t.Fatal("the process shares tend's user namespace")
	}
	if got := strings.Join(strings.Fields(procFile(t, pid, "uid_map")), " "); got != "0 0 1 65534 65534 1" {
		t.Errorf("uid_map %q; want root and 65534 mapped to themselves", got)
	}
	mi := procFile(t, pid, "mountinfo")
	if !strings.Contains(mi, "hidepid=invisible") || !strings.Contains(mi, " /dev/null ") {
		t.Errorf("no hidepid /proc or no /dev/null in mountinfo:\n%s", mi)
	}
}

// TestPrivateTmpShared: PrivateTmp= is one directory per unit, seen by
// each of its processes (a file written by one command is there for the
// next) and by no one else, and RemovePrivateTmp removes it.
func TestPrivateTmpShared(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("privtmp-%d.service", os.Getpid())
	t.Cleanup(func() { RemovePrivateTmp(name) })
	ec := &unit.ExecContext{UMask: 0o022, Sandbox: &sandbox.Config{PrivateTmp: true}}
	write := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "echo hi > /tmp/f && echo there > /var/tmp/g"}}
	if out, e := runOutput(t, Spec{Unit: name, Command: write, Exec: ec}); e.Status != 0 {
		t.Fatalf("writing: %q %+v", out, e)
	}
	read := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "cat /tmp/f /var/tmp/g; stat -c %a /tmp"}}
	if out, _ := runOutput(t, Spec{Unit: name, Command: read, Exec: ec}); out != "hi\nthere\n1777\n" {
		t.Errorf("second process of the unit sees %q; want the files of the first", out)
	}
	if _, err := os.Stat("/tmp/f"); err == nil {
		t.Error("the private file is on the host's /tmp")
	}
	if err := RemovePrivateTmp(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(privateTmpDir("/tmp", name)); !os.IsNotExist(err) {
		t.Errorf("private /tmp left after RemovePrivateTmp: %v", err)
	}
}

// TestMakeMountPoint: a file mount point is made in missing directories,
// and whatever already is at the path (a FIFO here) is left for the
// mount to cover, without an error. (The race this guards against, a
// FIFO put at the path between a check and an open, is not reproduced.)
func TestMakeMountPoint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a", "b", "file")
	if err := makeMountPoint(file, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(file); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Fatalf("mount point %s: %v, %v; want an empty regular file", file, fi, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := makeMountPoint(fifo, false); err != nil {
		t.Fatalf("over a FIFO: %v", err)
	}
	if err := makeMountPoint(filepath.Join(dir, "d", "e"), true); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "d", "e")); err != nil || !fi.IsDir() {
		t.Fatalf("directory mount point: %v, %v", fi, err)
	}
}
