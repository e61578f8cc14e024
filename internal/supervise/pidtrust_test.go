package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/plan"
)

const nobody = 65534

// startVictim starts a root process outside every unit: nothing a unit
// writes or sends may make tend signal it.
func startVictim(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait() // the harness's reaper may have reaped it already
	})
	return pid
}

// openToNobody lets nobody reach the harness directory (the notify
// socket, scripts) and gives it a directory of its own, nb.
func openToNobody(t *testing.T, h *harness) string {
	t.Helper()
	for _, d := range []string{filepath.Dir(h.dir), h.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nb := h.path("nb")
	if err := os.Mkdir(nb, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(nb, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return nb
}

// guardProcs signals like the real thing, except init and tend itself:
// those attempts are recorded, so that a test of the old code fails
// without taking the machine down.
type guardProcs struct {
	processes
	t *testing.T
}

func (g guardProcs) kill(pid int, sig syscall.Signal) error {
	if pid == 1 || pid == os.Getpid() || pid <= 0 {
		g.t.Errorf("tend tried to send signal %d to pid %d", sig, pid)
		return nil
	}
	return g.processes.kill(pid, sig)
}

func guard(t *testing.T, h *harness) {
	h.m.procs = guardProcs{processes: h.m.procs, t: t}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a service as nobody")
	}
}

// TestPIDFileOutsideUnitRefused is issue 14's first attack: a User=nobody
// forking service writes the pid of a root process into its PID file, in
// a directory it owns. tend must not adopt it: the start fails, and the
// process is never signalled.
func TestPIDFileOutsideUnitRefused(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name, daemon, timeout string
		want                  Result
	}{
		{"daemon keeps running", "sleep 1000 & ", "1s", ResultTimeout},
		{"nothing left", "", "90s", ResultProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := startVictim(t)
			h := newHarness(t, map[string]string{
				"d.service": fmt.Sprintf("[Service]\nType=forking\nUser=nobody\nPIDFile=%%D/nb/d.pid\nTimeoutStartSec=%s\n"+
					"ExecStart=/bin/sh -c '%secho %d > %%D/nb/d.pid'\n", tc.timeout, tc.daemon, victim),
			})
			openToNobody(t, h)
			guard(t, h)
			res := h.job(plan.Start, "d.service")
			st := h.status("d.service")
			if res[0].Result != "failed" || st.Result != tc.want || st.MainPID == victim {
				t.Errorf("start: job %+v, result %s, main pid %d; want failed with %s, victim %d not adopted\n%s",
					res, st.Result, st.MainPID, tc.want, victim, h.logs.dump())
			}
			h.job(plan.Stop, "d.service")
			if !alive(victim) {
				t.Fatalf("root process %d named in nobody's PID file was killed\n%s", victim, h.logs.dump())
			}
			want := fmt.Sprintf("New main PID %d does not belong to service, and PID file is not owned by root. Refusing.", victim)
			if !h.logs.has(want) {
				t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
			}
		})
	}
}

// TestPIDFileUnsafeSymlinkRefused: the PID file is a symbolic link owned
// by nobody into a directory only root can read, whose file names a root
// process. systemd calls this an unsafe transition and so does tend.
func TestPIDFileUnsafeSymlinkRefused(t *testing.T) {
	requireRoot(t)
	victim := startVictim(t)
	h := newHarness(t, map[string]string{
		"d.service": "[Service]\nType=forking\nUser=nobody\nPIDFile=%D/nb/d.pid\nExecStart=/bin/true\n",
	})
	nb := openToNobody(t, h)
	guard(t, h)
	secret := h.path("rootonly")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "pid"), []byte(fmt.Sprintf("%d\n", victim)), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(nb, "d.pid")
	if err := os.Symlink(filepath.Join(secret, "pid"), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	res := h.job(plan.Start, "d.service")
	st := h.status("d.service")
	if res[0].Result != "failed" || st.MainPID == victim {
		t.Errorf("start: job %+v, main pid %d; want failed, victim %d not adopted\n%s", res, st.MainPID, victim, h.logs.dump())
	}
	h.job(plan.Stop, "d.service")
	if !alive(victim) {
		t.Fatalf("root process %d reached through nobody's symlink was killed\n%s", victim, h.logs.dump())
	}
	if want := "acquired through unsafe symlink chain: " + link; !h.logs.has(want) {
		t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
	}
}

// TestPIDFileNamingManagerRefused: a PID file (even root's) naming init
// or tend itself is never believed; signalling either would take the
// whole machine or container down.
func TestPIDFileNamingManagerRefused(t *testing.T) {
	for _, pid := range []int{1, os.Getpid()} {
		t.Run(fmt.Sprint(pid), func(t *testing.T) {
			h := newHarness(t, map[string]string{
				"d.service": fmt.Sprintf("[Service]\nType=forking\nPIDFile=%%D/d.pid\nExecStart=/bin/sh -c 'echo %d > %%D/d.pid'\n", pid),
			})
			guard(t, h)
			res := h.job(plan.Start, "d.service")
			st := h.status("d.service")
			if res[0].Result != "failed" || st.MainPID == pid {
				t.Errorf("start: job %+v, main pid %d; want failed, %d not adopted\n%s", res, st.MainPID, pid, h.logs.dump())
			}
			h.job(plan.Stop, "d.service")
			if want := fmt.Sprintf("New main PID %d is the manager, refusing.", pid); !h.logs.has(want) {
				t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
			}
		})
	}
}

// TestPIDFileTrusted pins what still works: a nobody-owned PID file
// naming the unit's own daemon, and a root-owned one (even naming a
// process outside the unit, which root vouches for, as under systemd).
func TestPIDFileTrusted(t *testing.T) {
	requireRoot(t)
	t.Run("nobody's daemon in its cgroup", func(t *testing.T) {
		h := newHarness(t, map[string]string{
			"d.service": "[Service]\nType=forking\nUser=nobody\nPIDFile=%D/nb/d.pid\nExecStart=/bin/sh -c 'sleep 1000 & echo $! > %D/nb/d.pid'\n",
		})
		openToNobody(t, h)
		if res := h.job(plan.Start, "d.service"); res[0].Result != "done" {
			t.Fatalf("start: %+v\n%s", res, h.logs.dump())
		}
		pid := h.status("d.service").MainPID
		if pid == 0 || !alive(pid) {
			t.Fatalf("main pid %d; want the daemon", pid)
		}
		h.job(plan.Stop, "d.service")
		if alive(pid) {
			t.Fatalf("daemon %d survived stop", pid)
		}
	})
	t.Run("root's file naming another process", func(t *testing.T) {
		victim := startVictim(t)
		h := newHarness(t, map[string]string{
			"d.service": fmt.Sprintf("[Service]\nType=forking\nPIDFile=%%D/d.pid\nExecStart=/bin/sh -c 'echo %d > %%D/d.pid'\n", victim),
		})
		if res := h.job(plan.Start, "d.service"); res[0].Result != "done" {
			t.Fatalf("start: %+v\n%s", res, h.logs.dump())
		}
		if got := h.status("d.service").MainPID; got != victim {
			t.Fatalf("main pid %d; want %d from root's PID file\n%s", got, victim, h.logs.dump())
		}
		h.job(plan.Stop, "d.service")
		if alive(victim) {
			t.Fatalf("main process %d survived stop", victim)
		}
	})
}

// notifyScript sends msg (assignments separated by "; ", "{child}"
// standing for the pid of a child it forks) and sleeps until killed.
const notifyScript = `import os, socket, subprocess, sys, time
child = subprocess.Popen(["/bin/sleep", "1000"])
open(sys.argv[2], "w").write(str(child.pid))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
msg = sys.argv[1].replace("{child}", str(child.pid)).replace("; ", "\n")
s.send(msg.encode())
time.sleep(1000)
`

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 not installed")
	}
}

// notifyUnit is a notify service running notifyScript as user, sending msg.
func notifyUnit(user, msg string) string {
	u := "[Service]\nType=notify\n"
	if user != "" {
		u += "User=" + user + "\n"
	}
	return u + "ExecStart=/usr/bin/python3 %D/n.py '" + msg + "' %D/nb/child\n"
}

// TestMainPIDFromNobodyRefused is issue 14's second attack: a User=nobody
// notify service names a root process in MAINPID=. tend refuses it, says
// so, and its stop leaves that process alone.
func TestMainPIDFromNobodyRefused(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	victim := startVictim(t)
	h := newHarness(t, map[string]string{
		"n.py":      notifyScript,
		"n.service": notifyUnit("nobody", fmt.Sprintf("MAINPID=%d; READY=1", victim)),
	})
	openToNobody(t, h)
	guard(t, h)
	if res := h.job(plan.Start, "n.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v\n%s", res, h.logs.dump())
	}
	if got := h.status("n.service").MainPID; got == victim {
		t.Errorf("main pid %d: nobody's MAINPID= was believed", got)
	}
	h.job(plan.Stop, "n.service")
	if !alive(victim) {
		t.Fatalf("root process %d named by nobody's MAINPID= was killed\n%s", victim, h.logs.dump())
	}
	want := fmt.Sprintf("New main PID %d does not belong to service, and the notification did not come from root. Refusing.", victim)
	if !h.logs.has(want) {
		t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
	}
}

// TestMainPIDTrusted pins what still works: MAINPID= naming a child in
// the unit's cgroup, from nobody; and from root, any process.
func TestMainPIDTrusted(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	t.Run("nobody names its child", func(t *testing.T) {
		h := newHarness(t, map[string]string{
			"n.py":      notifyScript,
			"n.service": notifyUnit("nobody", "MAINPID={child}; READY=1"),
		})
		openToNobody(t, h)
		if res := h.job(plan.Start, "n.service"); res[0].Result != "done" {
			t.Fatalf("start: %+v\n%s", res, h.logs.dump())
		}
		child := readPID(t, h.waitFile("nb/child"))
		if got := h.status("n.service").MainPID; got != child {
			t.Fatalf("main pid %d; want the child %d\n%s", got, child, h.logs.dump())
		}
		h.job(plan.Stop, "n.service")
		if alive(child) {
			t.Fatalf("main process %d survived stop", child)
		}
	})
	t.Run("root names another process", func(t *testing.T) {
		victim := startVictim(t)
		h := newHarness(t, map[string]string{
			"n.py":      notifyScript,
			"n.service": notifyUnit("", fmt.Sprintf("MAINPID=%d; READY=1", victim)),
		})
		openToNobody(t, h)
		if res := h.job(plan.Start, "n.service"); res[0].Result != "done" {
			t.Fatalf("start: %+v\n%s", res, h.logs.dump())
		}
		if got := h.status("n.service").MainPID; got != victim {
			t.Fatalf("main pid %d; want %d named by root\n%s", got, victim, h.logs.dump())
		}
		h.job(plan.Stop, "n.service")
		if alive(victim) {
			t.Fatalf("main process %d survived stop", victim)
		}
	})
}

func readPID(t *testing.T, b []byte) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// ownCgroupProcs is the cgroup.procs of the test's own cgroup2 group.
func ownCgroupProcs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
				f := filepath.Join(root, p, "cgroup.procs")
				if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
					return f
				}
			}
		}
	}
	t.Skip("no cgroup2 group to move a process to")
	return ""
}

// TestStaleMainPIDNotSignalled: a main process adopted from the unit's
// cgroup that has left it since (root moved it) is not the unit's any
// more, and stopping the unit leaves it alone.
func TestStaleMainPIDNotSignalled(t *testing.T) {
	requirePython(t)
	h := newHarness(t, map[string]string{
		"n.py":      notifyScript,
		"n.service": notifyUnit("", "MAINPID={child}; READY=1"),
	})
	if h.m.opts.Cgroups.Mode() != "v2" {
		t.Skip("moving a process out needs cgroup v2")
	}
	procs := ownCgroupProcs(t)
	openToNobody(t, h)
	if res := h.job(plan.Start, "n.service"); res[0].Result != "done" {
		t.Fatalf("start: %+v\n%s", res, h.logs.dump())
	}
	child := readPID(t, h.waitFile("nb/child"))
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	if got := h.status("n.service").MainPID; got != child {
		t.Fatalf("main pid %d; want the child %d\n%s", got, child, h.logs.dump())
	}
	if err := os.WriteFile(procs, []byte(fmt.Sprint(child)), 0); err != nil {
		t.Fatalf("move %d out of the unit: %v", child, err)
	}
	h.job(plan.Stop, "n.service")
	if !alive(child) {
		t.Fatalf("process %d that left the unit was signalled on stop\n%s", child, h.logs.dump())
	}
	if want := fmt.Sprintf("Main process %d is no longer one of the unit's processes", child); !h.logs.has(want) {
		t.Errorf("log lacks %q:\n%s", want, h.logs.dump())
	}
}
