package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestResourceControlE2E: status and show report the limits and usage of
// a unit with MemoryMax= and TasksMax=; a memory hog fails with
// Result=oom-kill; a LimitNOFILE= above the hard limit (Debian's redis
// unit asks for 65535) is clamped and the service runs.
func TestResourceControlE2E(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no memory controller")
		}
	}
	dir := t.TempDir()
	var own syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &own); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/sys/fs/nr_open")
	nrOpen, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	units := map[string]string{
		"lim.service":    "[Service]\nExecStart=/bin/sleep 1000\nMemoryMax=64M\nTasksMax=9\n",
		"hog.service":    "[Service]\nExecStart=/usr/bin/tail /dev/zero\nMemoryMax=16M\n",
		"io.service":     "[Service]\nExecStart=/bin/sleep 1000\nIOWeight=200\nMemoryMax=32M\n",
		"clamp.service":  "[Service]\nExecStart=/bin/sleep 1000\nLimitNOFILE=" + strconv.FormatUint(nrOpen+1, 10) + "\n",
		"default.target": "[Unit]\nWants=lim.service clamp.service\n",
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	// A hybrid host's cgroup2 has no controllers and v1 has no io.weight:
	// IOWeight= is named at load, once; MemoryMax= (v1 memory) is not.
	if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		warn := "resource control not available here (no such cgroup controller for tend), ignored: IOWeight\""
		if n := strings.Count(in.stderr.String(), warn); n != 1 {
			t.Errorf("io.service: %d load warnings naming IOWeight alone; want 1:\n%.3000s", n, in.stderr.String())
		}
	}
	out := in.mustCtl("show", "lim", "-p", "MemoryMax,TasksMax,MemoryCurrent,TasksCurrent")
	for _, want := range []string{"MemoryMax=67108864", "TasksMax=9", "TasksCurrent=1"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("show lim lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "MemoryCurrent=") {
		t.Errorf("show lim: no memory usage:\n%s", out)
	}
	st, _ := in.ctl("status", "lim")
	if !strings.Contains(st, "(limit: 9)") || !strings.Contains(st, "(max: ") {
		t.Errorf("status lim shows no limits:\n%s", st)
	}
	if out, code := in.ctl("is-active", "clamp"); code != 0 {
		t.Errorf("clamp.service: %q (exit %d): a LimitNOFILE= above the hard limit must be clamped", out, code)
	}
	limits, _ := os.ReadFile("/proc/" + strconv.Itoa(in.mainPID("clamp")) + "/limits")
	if h := strconv.FormatUint(own.Max, 10); !strings.Contains(string(limits), h) {
		t.Errorf("clamp.service limits lack the hard limit %s:\n%s", h, limits)
	}
	failed := in.follow("hog")
	in.ctl("start", "hog")
	failed("Failed with result 'oom-kill'")
	out = in.mustCtl("show", "hog", "-p", "Result,ExecMainCode,ExecMainStatus")
	for _, want := range []string{"Result=oom-kill", "ExecMainStatus=9"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("show hog lacks %s:\n%s", want, out)
		}
	}
}

// Units that start together at boot have their groups made, and their
// limits written, ahead on workers (supervise's prepareGroups): each
// group still holds its own unit's limit.
func TestLimitsOfUnitsStartedTogether(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no pids controller")
		}
	}
	dir := t.TempDir()
	wants := "[Unit]\n"
	for i := range 6 {
		name := fmt.Sprintf("l%d.service", i)
		text := fmt.Sprintf("[Service]\nExecStart=/bin/sleep 1000\nTasksMax=%d\n", 10+i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		wants += "Wants=" + name + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "default.target"), []byte(wants), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	for i := range 6 {
		out := in.mustCtl("show", fmt.Sprintf("l%d", i), "-p", "TasksMax,TasksCurrent")
		for _, want := range []string{fmt.Sprintf("TasksMax=%d", 10+i), "TasksCurrent=1"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("show l%d lacks %s:\n%s", i, want, out)
			}
		}
	}
}
