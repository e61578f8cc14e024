package spawn

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/reaper"

	"github.com/tendproject/tend/internal/unit"
)

// TestDirectoryModeKeepsSpecialBits: RuntimeDirectoryMode=2755 and
// StateDirectoryMode=1777 keep their setgid and sticky bits.
func TestDirectoryModeKeepsSpecialBits(t *testing.T) {
	base := t.TempDir()
	d := Dirs{Runtime: filepath.Join(base, "run"), State: filepath.Join(base, "lib")}
	ec := &unit.ExecContext{
		RuntimeDirectory: unit.DirSpec{Paths: []string{"sgid"}, Mode: 0o2755},
		StateDirectory:   unit.DirSpec{Paths: []string{"sticky"}, Mode: 0o1777},
	}
	if err := PrepareDirs(ec, d, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(d.Runtime, "sgid"): os.ModeSetgid | 0o755,
		filepath.Join(d.State, "sticky"): os.ModeSticky | 0o777,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ os.ModeDir; got != want {
			t.Errorf("%s: mode %v; want %v", path, got, want)
		}
	}
}

// runOutput starts s, waits for it to exit and returns what it wrote on
// stdout and stderr (one pipe) with its exit.
func runOutput(t *testing.T, s Spec) (string, reaper.Exit) {
	t.Helper()
	r := startReaper(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if s.SelfExe == "" {
		s.SelfExe = os.Args[0]
	}
	s.Stdout, s.Stderr = pw, pw
	exited := make(chan reaper.Exit, 1)
	_, err = Start(r, s, func(e reaper.Exit) { exited <- e })
	pw.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	out, _ := io.ReadAll(pr)
	return string(out), <-exited
}

// TestLimitAboveHardLimitIsClamped: a Limit*= the kernel refuses (here
// above fs.nr_open, refused even to root) is clamped to the current hard
// limit, the clamp is logged and the service starts, as with systemd.
func TestLimitAboveHardLimitIsClamped(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Skip("no /proc/sys/fs/nr_open")
	}
	nrOpen, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	var own syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &own); err != nil {
		t.Fatal(err)
	}
	ec := &unit.ExecContext{UMask: 0o022, Limits: map[string]unit.Rlimit{"NOFILE": {Soft: nrOpen + 1, Hard: nrOpen + 1}}}
	cmd := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "grep 'Max open files' /proc/self/limits"}}
	out, e := runOutput(t, Spec{Command: cmd, Exec: ec})
	if e.Status.ExitStatus() != 0 {
		t.Fatalf("exit %v; want 0:\n%s", e.Status, out)
	}
	h := strconv.FormatUint(own.Max, 10)
	if !matchLine(out, `Max open files\s+`+h+`\s+`+h) {
		t.Errorf("limits %q; want soft and hard %s", out, h)
	}
	if !strings.Contains(out, "LimitNOFILE="+strconv.FormatUint(nrOpen+1, 10)) {
		t.Errorf("clamp not logged:\n%s", out)
	}
}
