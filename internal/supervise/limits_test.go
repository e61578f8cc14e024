package supervise

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/plan"
)

// cgroupFile finds file in the group pid is in: the unified hierarchy's
// copy if it has one, else the v1 hierarchy of ctrl; "" if neither.
func cgroupFile(t *testing.T, pid int, ctrl, v2file, v1file string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" && v2file != "" {
			for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
				if p := filepath.Join(root, parts[2], v2file); fileExists(p) {
					return p
				}
			}
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == ctrl && v1file != "" {
				if p := filepath.Join("/sys/fs/cgroup", ctrl, parts[2], v1file); fileExists(p) {
					return p
				}
			}
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestResourceLimitsApplied checks the limits in the unit's cgroup files
// from outside, in whichever hierarchy holds each controller.
func TestResourceLimitsApplied(t *testing.T) {
	if !fileExists("/sys/fs/cgroup/unified") && !fileExists("/sys/fs/cgroup/cgroup.controllers") {
		t.Skip("no cgroup file system")
	}
	h := newHarness(t, map[string]string{
		"lim.service": "[Service]\nExecStart=/bin/sleep 1000\nMemoryMax=48M\nTasksMax=7\nCPUQuota=20%\nCPUWeight=50\nAllowedCPUs=0\n",
		"def.service": "[Service]\nExecStart=/bin/sleep 1000\n",
	})
	h.job(plan.Start, "lim.service", "def.service")
	pid := h.waitState("lim.service", "running").MainPID
	checks := []struct {
		ctrl, v2, v1 string
		want         []string
	}{
		{"memory", "memory.max", "memory.limit_in_bytes", []string{fmt.Sprint(48 << 20)}},
		{"pids", "pids.max", "pids.max", []string{"7"}},
		{"cpu", "cpu.max", "cpu.cfs_quota_us", []string{"20000 100000", "20000"}},
		{"cpu", "cpu.weight", "cpu.shares", []string{"50", "512"}},
		{"cpuset", "cpuset.cpus", "cpuset.cpus", []string{"0"}},
	}
	for _, c := range checks {
		p := cgroupFile(t, pid, c.ctrl, c.v2, c.v1)
		if p == "" {
			t.Errorf("%s: no %s or %s for pid %d", c.ctrl, c.v2, c.v1, pid)
			continue
		}
		got := readTrim(t, p)
		if !strings.Contains(strings.Join(c.want, "|")+"|", got+"|") {
			t.Errorf("%s = %q; want one of %q", p, got, c.want)
		}
	}
	// DefaultTasksMax=15% of the system's limit, for a unit without one.
	dpid := h.status("def.service").MainPID
	if p := cgroupFile(t, dpid, "pids", "pids.max", "pids.max"); p == "" || readTrim(t, p) == "max" {
		t.Errorf("def.service has no default TasksMax (%s)", p)
	}
	if h.logs.has("not applied") {
		t.Errorf("a limit was reported unavailable:\n%s", h.logs.dump())
	}
}

// TestOOMKillResult: a memory hog under MemoryMax= is killed by the
// kernel and the unit fails with Result=oom-kill.
func TestOOMKillResult(t *testing.T) {
	if !fileExists("/sys/fs/cgroup/memory") && !fileExists("/sys/fs/cgroup/cgroup.controllers") {
		t.Skip("no memory controller")
	}
	h := newHarness(t, map[string]string{
		// tail keeps the current line, and /dev/zero has no line end.
		"hog.service": "[Service]\nExecStart=/usr/bin/tail /dev/zero\nMemoryMax=16M\n",
	})
	h.job(plan.Start, "hog.service")
	st := h.waitState("hog.service", "failed")
	if st.Result != ResultOOMKill || st.ExecMainCode != "killed" || st.ExecMainStat != 9 {
		t.Errorf("hog: result %s, %s/%d; want oom-kill, killed/9\n%s", st.Result, st.ExecMainCode, st.ExecMainStat, h.logs.dump())
	}
}

// TestOOMWatchEndsWithLoop: the goroutine that waits on a running
// unit's OOM watch ends when the manager loop does, not with the unit.
func TestOOMWatchEndsWithLoop(t *testing.T) {
	h := newHarness(t, map[string]string{
		"lim.service": "[Service]\nExecStart=/bin/sleep 1000\nMemoryMax=48M\n",
	})
	h.job(plan.Start, "lim.service")
	h.waitState("lim.service", "running")
	const waiter = "supervise.(*Manager).watchOOM.func"
	if !goroutineIn(waiter) {
		t.Skip("no OOM watch here (no memory controller for the unit)")
	}
	h.restartLoop(func() {
		if goroutineIn(waiter) {
			t.Errorf("an OOM watch goroutine outlived the manager loop")
		}
	})
}

// goroutineIn reports whether a goroutine's stack has a frame whose
// name contains fn.
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// blockDeviceNode is a block device node of this machine, "" if none.
func blockDeviceNode() string {
	ents, _ := os.ReadDir("/sys/block")
	for _, e := range ents {
		p := "/dev/" + e.Name()
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			return p
		}
	}
	return ""
}

// TestIOLimitsApplied: IOReadBandwidthMax= and IOWriteIOPSMax= reach
// io.max (v2) or the blkio throttle files (v1).
func TestIOLimitsApplied(t *testing.T) {
	dev := blockDeviceNode()
	if dev == "" {
		t.Skip("no block device")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	majmin := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	h := newHarness(t, map[string]string{
		"io.service": "[Service]\nExecStart=/bin/sleep 1000\nIOReadBandwidthMax=" + dev + " 1M\nIOWriteIOPSMax=" + dev + " 100\n",
	})
	h.job(plan.Start, "io.service")
	pid := h.waitState("io.service", "running").MainPID
	if p := cgroupFile(t, pid, "blkio", "io.max", "blkio.throttle.read_bps_device"); p == "" {
		t.Skip("no io or blkio controller for this process")
	} else if got := readTrim(t, p); !strings.Contains(got, majmin+" 1000000") && !strings.Contains(got, "rbps=1000000") {
		t.Errorf("%s = %q; want %s at 1000000 bytes/s", p, got, majmin)
	}
	if p := cgroupFile(t, pid, "blkio", "io.max", "blkio.throttle.write_iops_device"); p != "" {
		if got := readTrim(t, p); !strings.Contains(got, majmin+" 100") && !strings.Contains(got, "wiops=100") {
			t.Errorf("%s = %q; want %s at 100 IOPS", p, got, majmin)
		}
	}
}
