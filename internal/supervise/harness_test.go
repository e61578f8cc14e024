package supervise

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/cgroup/cgrouptest"
	"github.com/tendproject/tend/internal/condition"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == spawn.HelperArg {
		spawn.HelperMain(os.Args)
	}
	if len(os.Args) > 1 && os.Args[1] == notifyClientArg {
		os.Exit(notifyClient(os.Args[2:]))
	}
	cgroups := cgrouptest.Snapshot()
	code := m.Run()
	if cgrouptest.SweepAndReport(cgroups, cgrouptest.OnlyInProcess) {
		code = 1
	}
	os.Exit(code)
}

// harness runs a real manager (reaper, cgroups, notify socket) over unit
// files written to a temporary directory.
type harness struct {
	t    *testing.T
	dir  string
	m    *Manager
	logs *memLogs

	mu      sync.Mutex    // guards changed
	changed chan struct{} // closed and replaced on every state change

	ctx        context.Context // the harness's; its end ends everything
	wg         sync.WaitGroup  // the reaper, notify and loop goroutines
	loopCancel context.CancelFunc
	loopDone   chan struct{} // closed when the current Run returns
}

// runLoop starts the manager loop under a context of its own.
func (h *harness) runLoop() {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	h.loopCancel, h.loopDone = cancel, done
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		h.m.Run(ctx)
	}()
}

// restartLoop ends the manager loop, as the daemon's exit does, calls
// check while it is down, and runs it again.
func (h *harness) restartLoop(check func()) {
	h.loopCancel()
	<-h.loopDone
	check()
	h.runLoop()
}

// newHarness writes files (name → text; "%D" in a text stands for the
// test's directory) and starts a manager over them.
func newHarness(t *testing.T, files map[string]string) *harness {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "%D", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := unit.SystemEnv()
	env.RuntimeDir = filepath.Join(dir, "run")
	ld := &unit.Loader{Dirs: []string{dir}, Env: env}
	set, diags := ld.LoadAll()
	for _, d := range diags {
		if d.Severity == unit.Error {
			t.Fatalf("unit file: %v", d)
		}
	}
	h := &harness{t: t, dir: dir, logs: newMemLogs(), changed: make(chan struct{})}
	cg := cgroup.Detect(cgroup.Options{Root: "/sys/fs/cgroup", Proc: "/proc", Base: cgrouptest.InProcessBase()})
	r, err := reaper.New(reaper.Options{Reaped: func(e reaper.Exit) { cg.NoteExit(e.PID) }})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := notify.Listen(filepath.Join(dir, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	h.m = New(plan.New(set.Units, plan.Options{}), Options{
		Reaper:  r,
		Cgroups: cg,
		Logs:    h.logs,
		Notify:  ns,
		Dirs:    spawn.Dirs{Runtime: filepath.Join(dir, "run"), State: filepath.Join(dir, "state"), Cache: filepath.Join(dir, "cache"), Logs: filepath.Join(dir, "log"), Config: filepath.Join(dir, "etc")},
		SelfExe: os.Args[0],
		CondEnv: condition.Env{Root: "/", Proc: "/proc"},
		BaseEnv: []string{"PATH=" + spawn.DefaultPath},
		OnChange: func(string, ActiveState, string) {
			h.mu.Lock()
			close(h.changed)
			h.changed = make(chan struct{})
			h.mu.Unlock()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	wg := &h.wg
	wg.Add(2)
	go func() { defer wg.Done(); r.Run(ctx) }()
	go func() { defer wg.Done(); ns.Serve(ctx, h.m.HandleNotify) }()
	h.runLoop()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if err := h.m.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		wg.Wait()
		r.Close()
		ns.Close()
		if err := cg.Prune(); err != nil {
			t.Errorf("cgroups left behind: %v", err)
		}
		cg.Close()
	})
	return h
}

// waitFor waits for cond to hold, re-checking after every state change.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s\n%s", what, h.logs.dump())
		}
	}
}

func (h *harness) status(name string) Status {
	h.t.Helper()
	st, err := h.m.Status(context.Background(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitState waits until name is in the given sub-state.
func (h *harness) waitState(name, sub string) Status {
	h.t.Helper()
	var st Status
	h.waitFor(name+" "+sub, func() bool { st = h.status(name); return st.Sub == sub })
	return st
}

// killMain kills name's main process with SIGKILL, as a crash would, and
// returns its pid.
func (h *harness) killMain(name string) int {
	h.t.Helper()
	pid := h.status(name).MainPID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		h.t.Fatalf("kill main process %d of %s: %v", pid, name, err)
	}
	return pid
}

func (h *harness) job(kind plan.JobKind, names ...string) []JobResult {
	h.t.Helper()
	res, err := h.m.Jobs(context.Background(), kind, names, plan.Replace, false)
	if err != nil {
		h.t.Fatalf("%s %v: %v", kind, names, err)
	}
	return res
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// waitFile waits until the file name in the test directory exists and is
// not empty, woken by inotify rather than by polling.
func (h *harness) waitFile(name string) []byte {
	h.t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		h.t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, h.dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE|unix.IN_MODIFY); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	buf := make([]byte, 4096)
	for {
		if b, err := os.ReadFile(h.path(name)); err == nil && len(b) > 0 {
			return b
		}
		f.SetReadDeadline(deadline)
		if _, err := f.Read(buf); err != nil {
			h.t.Fatalf("waiting for %s: %v\n%s", name, err, h.logs.dump())
		}
	}
}

// memLogs is a LogSink that keeps lines in memory.
type memLogs struct {
	mu    sync.Mutex // guards lines, reusable and opened
	lines []string   // "unit: message"
	// reusable marks the outputs Output makes as Reusable.
	reusable bool
	opened   int           // pipes Output made
	added    chan struct{} // closed (and replaced) when a line is added
	ended    chan struct{} // gets a token when a pipe's reader saw its end
	wg       sync.WaitGroup
}

func newMemLogs() *memLogs {
	return &memLogs{ended: make(chan struct{}, 64), added: make(chan struct{})}
}

func (l *memLogs) Output(u *unit.Unit, _ unit.Command) (Output, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return Output{}, err
	}
	l.mu.Lock()
	l.opened++
	reusable := l.reusable
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.add(u.Name + ": " + sc.Text())
		}
		select {
		case l.ended <- struct{}{}:
		default:
		}
	}()
	return Output{Stdout: w, Stderr: w, Reusable: reusable}, nil
}

func (l *memLogs) Event(name string, pid, prio int, msg string) { l.add(name + ": " + msg) }

func (l *memLogs) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	close(l.added)
	l.added = make(chan struct{})
	l.mu.Unlock()
}

// wait waits until a line containing substr was added, and reports
// whether one was before the deadline.
func (l *memLogs) wait(substr string, deadline <-chan time.Time) bool {
	for {
		l.mu.Lock()
		ch := l.added
		l.mu.Unlock()
		if l.has(substr) {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

func (l *memLogs) has(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

func (l *memLogs) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}
