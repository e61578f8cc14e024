package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
