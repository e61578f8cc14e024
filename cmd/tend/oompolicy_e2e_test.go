package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOOMPolicyE2E: the OOM killer ends a child (not the main process)
// of a unit under MemoryMax=; OOMPolicy=stop (the default) stops the
// unit and kill kills it, both failed with Result=oom-kill, while
// continue leaves it running.
func TestOOMPolicyE2E(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no memory controller")
		}
	}
	dir := t.TempDir()
	hog := "[Service]\nExecStart=/bin/sh -c '/usr/bin/tail /dev/zero & exec /bin/sleep 1000'\nMemoryMax=16M\n"
	units := map[string]string{
		"stop.service":     hog,
		"kill.service":     hog + "OOMPolicy=kill\n",
		"continue.service": hog + "OOMPolicy=continue\n",
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	for _, c := range []struct{ unit, state, status string }{
		{"stop", "failed", "ExecMainStatus=15"}, {"kill", "failed", "ExecMainStatus=9"}, {"continue", "active", ""},
	} {
		logs := in.follow(c.unit)
		in.mustCtl("start", c.unit)
		logs("killed by the OOM killer")
		if c.state == "failed" {
			logs("Failed with result 'oom-kill'")
		}
		out := in.mustCtl("show", c.unit, "-p", "ActiveState,Result,ExecMainStatus")
		want := []string{"ActiveState=" + c.state}
		if c.state == "failed" {
			want = append(want, "Result=oom-kill", c.status)
		}
		for _, w := range want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("%s: show lacks %s:\n%s", c.unit, w, out)
			}
		}
	}
	in.mustCtl("stop", "continue")
}

// TestOOMPolicyAfterReexec: a unit adopted by a re-executed tend is
// watched for the OOM killer as it was before: a child killed by it
// still fails the unit with Result=oom-kill.
func TestOOMPolicyAfterReexec(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no memory controller")
		}
	}
	dir, work := t.TempDir(), t.TempDir()
	fifo := filepath.Join(work, "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The hog starts once the test writes to the FIFO, after the re-exec.
	text := "[Service]\nExecStart=/bin/sh -c 'read x < " + fifo + "; /usr/bin/tail /dev/zero & exec /bin/sleep 1000'\nMemoryMax=16M\n"
	if err := os.WriteFile(filepath.Join(dir, "hog.service"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	in.mustCtl("start", "hog")
	in.mustCtl("daemon-reexec")
	logs := in.follow("hog")
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // the shell has it open for reading
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	logs("killed by the OOM killer")
	logs("Failed with result 'oom-kill'")
}
