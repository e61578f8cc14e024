package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/reaper"
)

// childEnv marks a re-executed test binary that only reports what Detect
// picks, for running as an unprivileged user.
const childEnv = "TEND_CGROUP_TEST_DETECT"

func TestMain(m *testing.M) {
	if base := os.Getenv(childEnv); base != "" {
		os.Exit(detectChild(base))
	}
	os.Exit(m.Run())
}

// detectChild prints "<mode> <where>" and checks a unit group can be
// created and removed.
func detectChild(base string) int {
	m := Detect(Options{Base: base})
	defer m.Close()
	g, err := m.Group("probe.service")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(m.Mode(), m.Where())
	if err := g.Remove(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	if m.Where() != "" {
		os.Remove(m.Where())
	}
	return 0
}

// copyExecutable copies the test binary where an unprivileged user may
// run it (go test's build directory is private).
func copyExecutable(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tend-cgroup-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "cgroup.test")
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestUnprivilegedDetect(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to prepare a delegated cgroup and switch to nobody")
	}
	root := Detect(Options{Force: ModeV2, Base: fmt.Sprintf("tend-deleg-%d", os.Getpid())})
	defer root.Close()
	if root.Mode() != ModeV2 {
		t.Skip("no writable cgroup2 here")
	}
	defer func() {
		if err := root.Prune(); err != nil {
			t.Error(err)
		}
	}()
	deleg := root.Where() // created by Detect; hand it to nobody as a delegated subtree
	const nobody = 65534
	for _, f := range []string{"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
		if err := os.Chown(filepath.Join(deleg, f), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	exe := copyExecutable(t)
	r := startReaper(t, root)
	tests := []struct {
		name      string
		delegated bool
		want      string
	}{
		{"delegated", true, ModeV2 + " " + filepath.Join(deleg, "user-tend")},
		{"not delegated", false, ModeNone + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			if tt.delegated {
				dir, err := os.Open(deleg)
				if err != nil {
					t.Fatal(err)
				}
				defer dir.Close()
				sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
			}
			pr, pw, _ := os.Pipe()
			defer pr.Close()
			exited := make(chan reaper.Exit, 1)
			_, err := r.Start(func(*int) (int, error) {
				return syscall.ForkExec(exe, []string{exe}, &syscall.ProcAttr{
					Env: []string{childEnv + "=user-tend"}, Files: []uintptr{0, pw.Fd(), 2}, Sys: sys,
				})
			}, func(e reaper.Exit) { exited <- e })
			pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(pr).ReadString('\n')
			if got := strings.TrimSuffix(line, "\n"); got != tt.want {
				t.Errorf("unprivileged Detect: %q; want %q", got, tt.want)
			}
			if e := <-exited; !e.Success() {
				t.Errorf("child %s", e)
			}
		})
	}
}
