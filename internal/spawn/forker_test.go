package spawn

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

func newForker(t testing.TB) *Forker {
	t.Helper()
	f, err := NewForker()
	if err != nil {
		t.Skipf("no forker on this kernel: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// openPipes holds n pipes open until the test ends, so that tend's
// table is large and the files of the next spawn get high numbers (the
// forker only takes forks whose files are at smallTable and above).
func openPipes(t testing.TB, n int) {
	t.Helper()
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
	}
}

// TestForkerChildGetsItsFiles: a child forked from the forker's thread
// gets its standard streams and sockets at the right numbers, is placed
// in its cgroup, and its pidfd reaches the reaper, which reports its
// exit.
func TestForkerChildGetsItsFiles(t *testing.T) {
	f := newForker(t)
	r := startReaper(t)
	openPipes(t, smallTable)
	m := cgroup.Detect(cgroup.Options{Base: fmt.Sprintf("tend-forker-test-%d", os.Getpid()), Force: cgroup.ModeV2})
	defer m.Close()
	var g *cgroup.Group
	if m.Mode() == cgroup.ModeV2 {
		defer func() {
			if err := m.Prune(); err != nil {
				t.Error(err)
			}
		}()
		var err error
		if g, err = m.TrackingGroup("forked.service"); err != nil {
			t.Fatal(err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	path := t.TempDir() + "/extra"
	if err := os.WriteFile(path, []byte("extra file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	script := `echo out; echo err >&2; read -r line <&3; echo "$line"; cat /proc/self/cgroup; ls /proc/self/fd | wc -l`
	exited := make(chan reaper.Exit, 1)
	pid, err := Start(r, Spec{
		Command: unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", script}, NoEnvExpand: true},
		Stdout:  pw, Stderr: pw, ExtraFiles: []*os.File{extra}, Cgroup: g,
		SelfExe: os.Args[0], Forker: f,
	}, func(e reaper.Exit) { exited <- e })
	if err != nil {
		t.Fatal(err)
	}
	pw.Close()
	out, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exited:
		if e.PID != pid || !e.Status.Exited() || e.Status.ExitStatus() != 0 {
			t.Errorf("exit %+v; want pid %d, status 0", e, pid)
		}
	case <-time.After(hangGuard):
		t.Fatal("no exit reported")
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 4 || lines[0] != "out" || lines[1] != "err" || lines[2] != "extra file" {
		t.Fatalf("child wrote %q; want out, err, extra file", out)
	}
	if g != nil && !strings.Contains(string(out), "/forked.service") {
		t.Errorf("child not in its cgroup: %q", out)
	}
	// 0-3, the directory ls reads, and nothing of the test's pipes.
	if n, _ := strconv.Atoi(lines[len(lines)-1]); n > 6 {
		t.Errorf("child saw %d descriptors; want at most 6", n)
	}
}

// TestForkerKeepsNoCopies: the forker's table holds no copy of tend's
// descriptors, so closing one in tend closes it: a pipe whose write end
// tend closes reads end-of-file.
func TestForkerKeepsNoCopies(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	f := newForker(t)
	r := startReaper(t)
	openPipes(t, smallTable)
	run(t, r, Spec{Command: sleepCmd(), Forker: f})
	pw.Close()
	if err := pr.SetReadDeadline(time.Now().Add(hangGuard)); err != nil {
		t.Fatal(err)
	}
	if n, err := pr.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want end-of-file (the forker kept the write end)", n, err)
	}
}

// TestForkerAfterClose: a closed forker forks on the caller's thread.
func TestForkerAfterClose(t *testing.T) {
	f := newForker(t)
	f.Close()
	r := startReaper(t)
	openPipes(t, smallTable)
	pid := run(t, r, Spec{Command: sleepCmd(), Forker: f})
	if err := unix.Kill(pid, 0); err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
}

// BenchmarkStartManyFDs is the cost of one start while tend holds 4000
// descriptors, as with about a thousand services, forked on the calling
// thread (whose table the child copies and then closes entry by entry)
// or by the forker.
func BenchmarkStartManyFDs(b *testing.B) {
	r := startReaper(b)
	f := newForker(b)
	openPipes(b, 2000)
	for _, fk := range []*Forker{nil, f} {
		b.Run(fmt.Sprintf("forker=%v", fk != nil), func(b *testing.B) {
			pr, pw, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			defer pr.Close()
			defer pw.Close()
			benchStarts(b, r, Spec{Command: unit.Command{Path: "/bin/true"}, Stdout: pw, SelfExe: os.Args[0], Forker: fk})
		})
	}
}

// TestForkerRunsThePidTrampoline: a process that must find its own pid
// in LISTEN_PID gets it when forked by the forker (the trampoline's
// memfd keeps its number in the forker's table).
func TestForkerRunsThePidTrampoline(t *testing.T) {
	f := newForker(t)
	r := startReaper(t)
	openPipes(t, smallTable)
	sock, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pid := runReady(t, r, Spec{ExtraFiles: []*os.File{sock}, Env: []string{"LISTEN_FDS=1", "LISTEN_PID=1"}, Forker: f, Logger: log})
	if strings.Contains(logged.String(), "trampoline failed") {
		t.Errorf("the trampoline did not run from the forker: %s", logged.String())
	}
	if env := environ(t, pid); !strings.Contains(env, "\x00LISTEN_PID="+strconv.Itoa(pid)+"\x00") && !strings.HasPrefix(env, "LISTEN_PID="+strconv.Itoa(pid)+"\x00") {
		t.Errorf("environment of %d lacks LISTEN_PID=%d: %q", pid, pid, env)
	}
}

// statsGroup is a unit group with v1 stats groups, on a hybrid machine
// (cgroup2 for tracking, v1 memory for stats); the test is skipped
// elsewhere.
func statsGroup(t *testing.T, name string) *cgroup.Group {
	t.Helper()
	m := cgroup.Detect(cgroup.Options{Base: fmt.Sprintf("tend-forker-stats-%d", os.Getpid()), Force: cgroup.ModeV2})
	t.Cleanup(func() {
		if err := m.Prune(); err != nil {
			t.Error(err)
		}
		m.Close()
	})
	if m.Mode() != cgroup.ModeV2 {
		t.Skip("no cgroup v2 here")
	}
	g, err := m.Group(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Remove() })
	if enter, _ := g.Birth(); len(enter) == 0 {
		t.Skip("no v1 stats groups on this machine (not hybrid)")
	}
	if _, ok := g.CloneFD(); !ok {
		t.Skip("no CLONE_INTO_CGROUP here")
	}
	return g
}

// memoryLine is the v1 memory line of a /proc/PID/cgroup text.
func memoryLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
			return f[2]
		}
	}
	return ""
}

// TestForkerBirthInStatsGroups: on a hybrid machine a child is born in
// its v1 stats groups, not moved there after the fork: the program's
// first look at /proc/self/cgroup already shows them; and every thread
// of tend is back in tend's own groups afterwards. Both ways: from a
// thread of the caller's while tend's table is small, from the forker's
// thread once it is large.
func TestForkerBirthInStatsGroups(t *testing.T) {
	f := newForker(t)
	r := startReaper(t)
	g := statsGroup(t, "birth.service")
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	home := memoryLine(string(self))
	for _, table := range []string{"small", "large"} {
		t.Run(table, func(t *testing.T) {
			if table == "large" {
				openPipes(t, smallTable)
			}
			for range 3 { // the thread goes and comes back each time
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				if small := pw.Fd() < smallTable; small != (table == "small") {
					t.Fatalf("the child's stdout is descriptor %d: not a %s table", pw.Fd(), table)
				}
				run(t, r, Spec{
					Command: unit.Command{Path: "/bin/cat", Argv: []string{"cat", "/proc/self/cgroup"}, NoEnvExpand: true},
					Stdout:  pw, Stderr: pw, Cgroup: g, SelfExe: os.Args[0], Forker: f,
				})
				pw.Close()
				out, err := io.ReadAll(pr)
				pr.Close()
				if err != nil {
					t.Fatal(err)
				}
				if got, want := memoryLine(string(out)), g.Path(); !strings.HasSuffix(got, want) {
					t.Errorf("the program started in memory group %q, want one ending in %q", got, want)
				}
			}
			tasks, err := os.ReadDir("/proc/self/task")
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
				if err != nil {
					continue // a thread that ended meanwhile
				}
				if got := memoryLine(string(b)); got != home {
					t.Errorf("tend's thread %s is in memory group %q, want tend's own %q", task.Name(), got, home)
				}
			}
		})
	}
}

// TestBornThreadEndsWhenItCannotGoHome: the caller's thread that forked a
// child into a unit's groups and cannot return to tend's own would fork
// the next child of whatever goroutine runs there into that unit's
// groups: it ends instead, and the fork's result still comes back.
func TestBornThreadEndsWhenItCannotGoHome(t *testing.T) {
	g := statsGroup(t, "strayed.service")
	enter, _ := g.Birth()
	b := birth{enter: enter, leave: make([]string, len(enter))}
	for i := range b.leave {
		b.leave[i] = filepath.Join(t.TempDir(), "no-such-group", "tasks")
	}
	attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{}}
	var (
		pid        int
		born, here bool
	)
	for !here { // on the main thread it declines; any other thread will do
		var err error
		if pid, _, born, here, err = forkExecBorn("/bin/true", []string{"true"}, attr, nil, b); err != nil {
			t.Fatal(err)
		}
		if !here {
			runtime.Gosched()
		}
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !born {
		t.Error("born = false; the child did join the group")
	}
	// The thread is in the unit's group until it ends: wait for its end
	// on a thread pidfd (Linux 6.9), then the group must hold nobody.
	data, err := os.ReadFile(enter[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range strings.Fields(string(data)) {
		tid, _ := strconv.Atoi(field)
		fd, err := unix.PidfdOpen(tid, unix.O_EXCL) // PIDFD_THREAD
		switch {
		case err == unix.ESRCH:
			continue // ended already
		case err != nil:
			t.Skipf("no thread pidfds on this kernel (%v): cannot await the thread's end", err)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(hangGuard.Milliseconds()))
		unix.Close(fd)
		if err != nil || n == 0 {
			t.Fatalf("thread %d is still in the unit's group %s (poll: %d, %v)", tid, enter[0], n, err)
		}
	}
	if data, err := os.ReadFile(enter[0]); err != nil || len(bytes.TrimSpace(data)) > 0 {
		t.Fatalf("the unit's group still holds threads %q (%v)", data, err)
	}
}

// TestForkerEndsWhenItCannotGoHome: a forker thread that cannot return to
// tend's own group after a fork would give the next child another
// unit's group; it ends instead, and forks go on from the callers'
// threads.
func TestForkerEndsWhenItCannotGoHome(t *testing.T) {
	f := newForker(t)
	g := statsGroup(t, "nohome.service")
	enter, _ := g.Birth()
	b := birth{enter: enter, leave: make([]string, len(enter))}
	for i := range b.leave {
		b.leave[i] = filepath.Join(t.TempDir(), "no-such-group", "tasks")
	}
	// A large table, so that the fork goes to the forker's thread: the
	// child's stdin is a descriptor past smallTable.
	openPipes(t, smallTable)
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	attr := &syscall.ProcAttr{Files: []uintptr{in.Fd()}, Sys: &syscall.SysProcAttr{}}
	pid, _, born, err := f.forkExec("/bin/true", []string{"true"}, attr, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !born {
		t.Error("born = false; the child did join the group")
	}
	select {
	case <-f.done:
	case <-time.After(hangGuard):
		t.Fatal("the forker's thread went on after it could not leave the group")
	}
	if f.run(func() {}) {
		t.Error("run handed work to a forker that ended")
	}
	if f.later(func() {}) {
		t.Error("later queued work on a forker that ended")
	}
	pid, _, _, err = f.forkExec("/bin/true", []string{"true"}, attr, nil, birth{})
	if err != nil {
		t.Fatalf("fork after the forker ended: %v", err)
	}
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
}

// TestForkerForksBeforeQueuedWork: work queued with later (the v1 stats
// joins, each write about 1.6 ms on a hybrid machine; here slow steps
// stand in for them) neither holds up the caller that queues it nor a
// fork handed over after it: the fork waits at most for the step under
// way, so when Start returns most of the queue is still pending.
func TestForkerForksBeforeQueuedWork(t *testing.T) {
	f := newForker(t)
	r := startReaper(t)
	openPipes(t, smallTable)
	const steps = 20
	var ran atomic.Int32
	for range steps {
		f.later(func() {
			time.Sleep(25 * time.Millisecond) // a slow cgroup write, not synchronisation
			ran.Add(1)
		})
	}
	run(t, r, Spec{Command: sleepCmd(), Forker: f})
	if n := ran.Load(); n > steps/2 {
		t.Errorf("the fork ran after %d of %d queued steps; want it ahead of them", n, steps)
	}
}

// BenchmarkStartsInStatsGroup is the caller's cost of one start in a
// stats group on a hybrid machine when starts follow each other (a
// bring-up, or several services restarting at once): each child is born
// in its v1 stats groups (Forker.enter).
func BenchmarkStartsInStatsGroup(b *testing.B) {
	f := newForker(b)
	r := startReaper(b)
	openPipes(b, smallTable)
	m := cgroup.Detect(cgroup.Options{Base: fmt.Sprintf("tend-forker-bench-%d", os.Getpid()), Force: cgroup.ModeV2})
	defer m.Close()
	if m.Mode() != cgroup.ModeV2 {
		b.Skip("no cgroup v2 here")
	}
	defer func() {
		if err := m.Prune(); err != nil {
			b.Error(err)
		}
	}()
	g, err := m.Group("bench.service")
	if err != nil {
		b.Fatal(err)
	}
	defer g.Remove()
	if len(g.JoinFiles()) < 2 {
		b.Skip("no v1 stats groups on this machine (not hybrid)")
	}
	exited := make(chan reaper.Exit, 64)
	var pids []int
	stop := func() {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		for range pids {
			<-exited
		}
		pids = pids[:0]
	}
	defer stop()
	spec := Spec{Command: unit.Command{Path: "/bin/sleep", Argv: []string{"sleep", "30"}, NoEnvExpand: true}, Cgroup: g, SelfExe: os.Args[0], Forker: f}
	for b.Loop() {
		pid, err := Start(r, spec, func(e reaper.Exit) { exited <- e })
		if err != nil {
			b.Fatal(err)
		}
		if pids = append(pids, pid); len(pids) == cap(exited) {
			b.StopTimer()
			stop()
			b.StartTimer()
		}
	}
}

// TestForkerLaterNothing: queuing no steps (a group with no v1 stats
// group, as every Accept=yes instance has) does not wake the forker's
// thread, which would hand it a CPU and back for nothing.
func TestForkerLaterNothing(t *testing.T) {
	f := newForker(t)
	started, block := make(chan struct{}), make(chan struct{})
	defer close(block)
	if !f.later(func() { close(started); <-block }) {
		t.Fatal("later refused a step")
	}
	<-started // the forker's thread is in the step: it takes no wake-up now
	select {
	case <-f.wake: // the step's own, if the thread found the step before it
	default:
	}
	if !f.later() {
		t.Fatal("later() = false on an open forker")
	}
	if n := len(f.wake); n != 0 {
		t.Fatalf("later() with no steps left %d wake-up(s) for the forker's thread", n)
	}
}

// TestForkerBoostsOnlyItself: the forker's thread runs with a short
// time slice (and, as root, a lower nice value), and the program it
// starts runs with tend's own settings, not the forker's it was born
// with.
func TestForkerBoostsOnlyItself(t *testing.T) {
	own, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Skipf("sched_getattr: %v", err)
	}
	f := newForker(t)
	r := startReaper(t)
	var tid int
	if !f.run(func() { tid = unix.Gettid() }) {
		t.Fatal("the forker did not run")
	}
	fast, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A kernel without slices of one's own (before 6.12) reports none.
	if own.Runtime != 0 && fast.Runtime != boostSlice {
		t.Errorf("the forker's thread has a slice of %d ns, want %d", fast.Runtime, boostSlice)
	}
	if unix.Geteuid() == 0 && fast.Nice != max(own.Nice-boostNice, -20) {
		t.Errorf("the forker's thread has nice %d, want %d", fast.Nice, own.Nice-boostNice)
	}
	openPipes(t, smallTable)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	pid := run(t, r, Spec{Command: sleepCmd(), Stdout: pw, Stderr: pw, Forker: f})
	child, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if child.Nice != own.Nice || child.Runtime != own.Runtime || child.Policy != own.Policy {
		t.Errorf("the service runs with nice %d, slice %d ns, policy %d; want tend's own %d, %d, %d",
			child.Nice, child.Runtime, child.Policy, own.Nice, own.Runtime, own.Policy)
	}
}
