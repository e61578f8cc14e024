package procfs

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func fixture() FS { return New("testdata/proc") }

func TestFixturePIDs(t *testing.T) {
	got, err := fixture().PIDs()
	if err != nil {
		t.Fatal(err)
	}
	want := []int{1, 2, 100, 101, 200, 300, 400, 401, 500}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PIDs = %v; want %v", got, want)
	}
}

func TestFixtureProcesses(t *testing.T) {
	r := fixture().NewReader()
	st, err := r.Stat(200)
	if err != nil {
		t.Fatal(err)
	}
	if st.Comm != "a (b) c\nd" || st.PPID != 1 || st.SID != 150 || st.TTY != 136<<8 {
		t.Errorf("Stat(200) = %+v", st)
	}
	k, err := r.Stat(2)
	if err != nil || !k.Kernel() {
		t.Errorf("Stat(2).Kernel() = false, %v; want a kernel thread", err)
	}
	if z, err := r.Stat(300); err != nil || z.State != 'Z' {
		t.Errorf("Stat(300) = %+v, %v; want a zombie", z, err)
	}
	args, err := r.Cmdline(100)
	if err != nil || !reflect.DeepEqual(args, []string{"nginx: master process /usr/sbin/nginx -g daemon off;"}) {
		t.Errorf("Cmdline(100) = %q, %v", args, err)
	}
	if args, err := r.Cmdline(2); err != nil || args != nil {
		t.Errorf("Cmdline(2) = %q, %v; want none", args, err)
	}
	cg, err := r.Cgroups(100)
	if err != nil || MainCgroup(cg) != "/tend/web.service" || len(cg) != 3 {
		t.Errorf("Cgroups(100) = %+v, %v", cg, err)
	}
	tasks, err := r.Tasks(101)
	if err != nil || !reflect.DeepEqual(tasks, []int{101, 102, 103}) {
		t.Errorf("Tasks(101) = %v, %v", tasks, err)
	}
	if name, err := r.TaskComm(101, 102); err != nil || name != "worker-102" {
		t.Errorf("TaskComm(101, 102) = %q, %v", name, err)
	}
	if w, err := r.Wchan(101); err != nil || w != "" {
		t.Errorf("Wchan(101) = %q, %v; want \"\" for a running task", w, err)
	}
	if sc, err := r.Syscall(1); err != nil || sc.Number != 232 || sc.Args[0] != 4 {
		t.Errorf("Syscall(1) = %+v, %v", sc, err)
	}
	lim, err := r.Limits(1)
	if err != nil || len(lim) != 4 || lim[2].Soft != 1024 || lim[2].Hard != 524288 {
		t.Errorf("Limits(1) = %+v, %v", lim, err)
	}
}

// TestVanished checks that a process whose files disappeared (it exited
// between the directory listing and the read) gives ErrGone.
func TestVanished(t *testing.T) {
	r := fixture().NewReader()
	for name, read := range map[string]func() error{
		"stat":    func() error { _, err := r.Stat(500); return err },
		"status":  func() error { _, err := r.Status(500); return err },
		"cmdline": func() error { _, err := r.Cmdline(500); return err },
		"cgroup":  func() error { _, err := r.Cgroups(500); return err },
		"fds":     func() error { _, err := r.FDs(500); return err },
		"missing": func() error { _, err := r.Stat(99999); return err },
	} {
		if err := read(); !errors.Is(err, ErrGone) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s of a vanished process: %v; want ErrGone", name, err)
		}
	}
}

func TestFixtureSystem(t *testing.T) {
	r := fixture().NewReader()
	ss, err := r.SysStat()
	if err != nil || ss.BootTime != 1700000000 || ss.CPUs != 2 || ss.CPU.Idle != 50000 {
		t.Errorf("SysStat = %+v, %v", ss, err)
	}
	up, err := r.Uptime()
	if err != nil || up != 3600.5 {
		t.Errorf("Uptime = %v, %v", up, err)
	}
	mi, err := r.MemInfo()
	if err != nil || mi["MemTotal"] != 8000000 {
		t.Errorf("MemInfo = %v, %v", mi, err)
	}
	la, err := r.LoadAvg()
	if err != nil || la.Total != 130 {
		t.Errorf("LoadAvg = %+v, %v", la, err)
	}
}

// TestLive reads a process this test starts and checks what /proc says
// against what the test knows about it.
// TestLive reads a live process with the scheduler-aware system calls and
// with the raw ones the views use; its command line is longer than a
// Reader's first buffer.
func TestLive(t *testing.T) {
	t.Run("syscalls", func(t *testing.T) { testLive(t, New("/proc")) })
	t.Run("raw", func(t *testing.T) { testLive(t, New("/proc").WithRawSyscalls()) })
}

func testLive(t *testing.T, fsys FS) {
	long := strings.Repeat("0", 5000) // sleep adds its arguments: 30 + 0
	cmd := exec.Command("/bin/sh", "-c", "exec sleep 30 "+long, "ignored")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	r := fsys.NewReader()
	// The shell execs sleep: wait for the exec to show (no event exists
	// for another process's exec, so poll with a deadline).
	var args []string
	for i := 0; i < 2000; i++ {
		args, _ = r.Cmdline(pid)
		if len(args) > 0 && args[0] == "sleep" {
			break
		}
		waitABit()
	}
	if !reflect.DeepEqual(args, []string{"sleep", "30", long}) {
		t.Fatalf("Cmdline = %.40q; want [sleep 30 00000…]", args)
	}
	st, err := r.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != pid || st.PPID != os.Getpid() || st.Comm != "sleep" {
		t.Errorf("Stat = %+v; want pid %d, ppid %d, comm sleep", st, pid, os.Getpid())
	}
	s, err := r.Status(pid)
	if err != nil || s.UIDs[0] != os.Getuid() || s.Name != "sleep" {
		t.Errorf("Status = %+v, %v", s, err)
	}
	uid, _, err := r.Owner(pid)
	if err != nil || uid != os.Geteuid() {
		t.Errorf("Owner = %d, %v; want %d", uid, err, os.Geteuid())
	}
	fds, err := r.FDs(pid)
	if err != nil || len(fds) < 3 || fds[0].Num != 0 {
		t.Fatalf("FDs = %+v, %v", fds, err)
	}
	ns, err := r.Namespaces(pid)
	if err != nil || len(ns) == 0 {
		t.Errorf("Namespaces = %+v, %v", ns, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := r.Stat(pid); !errors.Is(err, ErrGone) {
		t.Errorf("Stat after exit: %v; want ErrGone", err)
	}
}

// TestStatFile reads one process's stat file again and again: the same
// open file shows the exec that changed the process's name, then fails
// with ErrGone once it exited.
func TestStatFile(t *testing.T) {
	for name, fsys := range map[string]FS{"syscalls": New("/proc"), "raw": New("/proc").WithRawSyscalls()} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", "read x; exec sleep 30")
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			r := fsys.NewReader()
			f, err := r.OpenStat(cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if st, err := r.ReadStat(f); err != nil || st.Comm != "sh" || st.PID != cmd.Process.Pid {
				t.Fatalf("ReadStat = %+v, %v; want sh with pid %d", st, err, cmd.Process.Pid)
			}
			in.Close() // read returns: the shell execs sleep
			var st Stat
			for i := 0; i < 2000 && st.Comm != "sleep"; i++ {
				if st, err = r.ReadStat(f); err != nil {
					t.Fatal(err)
				}
				waitABit()
			}
			if st.Comm != "sleep" {
				t.Fatalf("the kept stat file still says %q; want sleep after the exec", st.Comm)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if _, err := r.ReadStat(f); !errors.Is(err, ErrGone) {
				t.Errorf("ReadStat after exit: %v; want ErrGone", err)
			}
		})
	}
}
