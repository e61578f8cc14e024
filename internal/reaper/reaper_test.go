package reaper

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hangGuard bounds every wait so a broken reaper fails the test instead
// of hanging it; it is not a timing assertion.
const hangGuard = 20 * time.Second

type harness struct {
	r       *Reaper
	orphans chan Exit
	reaped  chan Exit
}

// newHarness starts a Reaper whose Run ends and is joined at cleanup;
// setup, if given, changes the Reaper before Run starts.
func newHarness(t *testing.T, setup ...func(*Reaper)) *harness {
	t.Helper()
	h := &harness{orphans: make(chan Exit, 64), reaped: make(chan Exit, 256)}
	r, err := New(Options{
		Orphan: func(e Exit) { h.orphans <- e },
		Reaped: func(e Exit) { h.reaped <- e },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(r)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// startSh runs /bin/sh -c script under the reaper with stdout on a pipe.
func (h *harness) startSh(t *testing.T, script string) (int, *bufio.Reader, chan Exit) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close() })
	exits := make(chan Exit, 1)
	pid, err := h.r.Start(func(pidfd *int) (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
			Files: []uintptr{0, pw.Fd(), 2},
			Sys:   &syscall.SysProcAttr{Setsid: true, PidFD: pidfd},
		})
	}, func(e Exit) { exits <- e })
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	return pid, bufio.NewReader(pr), exits
}

func readPID(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("reading pid: %v", err)
	}
	return pid
}

func await(t *testing.T, c <-chan Exit, what string) Exit {
	t.Helper()
	select {
	case e := <-c:
		return e
	case <-time.After(hangGuard):
		t.Fatalf("no exit for %s", what)
	}
	return Exit{}
}

// awaitPID reads exits from c until pid's.
func awaitPID(t *testing.T, c <-chan Exit, pid int) Exit {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		select {
		case e := <-c:
			if e.PID == pid {
				return e
			}
		case <-deadline:
			t.Fatalf("pid %d never reported", pid)
		}
	}
}

// zombiesOf lists zombie children of parent.
func zombiesOf(t *testing.T, parent int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

func TestStartDeliversExit(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		script string
		code   string
		status int
	}{
		{"exit 3", "exited", 3},
		{"exit 0", "exited", 0},
		{"kill -KILL $$", "killed", int(unix.SIGKILL)},
		{"kill -TERM $$", "killed", int(unix.SIGTERM)},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			pid, _, exits := h.startSh(t, tt.script)
			e := await(t, exits, tt.script)
			if e.PID != pid {
				t.Errorf("exit pid %d; want %d", e.PID, pid)
			}
			if code, st := e.Describe(); code != tt.code || st != tt.status {
				t.Errorf("Describe() = %s, %d; want %s, %d", code, st, tt.code, tt.status)
			}
			if r := awaitPID(t, h.reaped, pid); r.Status != e.Status {
				t.Errorf("Reaped hook status %v; want %v", r.Status, e.Status)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		e      Exit
		code   string
		status int
	}{
		{Exit{Status: unix.WaitStatus(7 << 8)}, "exited", 7},
		{Exit{Status: unix.WaitStatus(unix.SIGSEGV)}, "killed", int(unix.SIGSEGV)},
		{Exit{Status: unix.WaitStatus(unix.SIGABRT) | 0x80}, "dumped", int(unix.SIGABRT)},
		{Exit{Foreign: true}, "unknown", 0},
	}
	for _, tt := range tests {
		if code, st := tt.e.Describe(); code != tt.code || st != tt.status {
			t.Errorf("%v.Describe() = %s, %d; want %s, %d", tt.e.Status, code, st, tt.code, tt.status)
		}
	}
	if !(Exit{}).Success() || (Exit{Foreign: true}).Success() {
		t.Error("Success() wrong for exit 0 or foreign exit")
	}
}

func TestOrphansAreReapedAndLeaveNoZombies(t *testing.T) {
	h := newHarness(t)
	// The subshell forks sleep and exits, so sleep is a grandchild
	// orphaned twice over; it reparents to the subreaper.
	pid, out, exits := h.startSh(t, `(sleep 0.2 & echo $!) ; exit 0`)
	grandchild := readPID(t, out)
	await(t, exits, "sh")
	e := awaitPID(t, h.orphans, grandchild)
	if code, st := e.Describe(); code != "exited" || st != 0 {
		t.Errorf("orphan exit %s %d; want exited 0", code, st)
	}
	if z := zombiesOf(t, os.Getpid()); len(z) > 0 {
		t.Errorf("zombies left: %v (sh was %d)", z, pid)
	}
	// The orphan's exit is remembered: a late Watch still gets it.
	got := make(chan Exit, 1)
	if err := h.r.Watch(grandchild, func(e Exit) { got <- e }); err != nil {
		t.Fatal(err)
	}
	if e := await(t, got, "late watch"); e.PID != grandchild || e.Foreign {
		t.Errorf("late Watch got %+v; want the reaped exit of %d", e, grandchild)
	}
}

func TestWatchReparentedChild(t *testing.T) {
	h := newHarness(t)
	// Like a Type=forking daemon: the parent exits, the daemon stays.
	_, out, exits := h.startSh(t, `sleep 30 >/dev/null & echo $!`)
	daemon := readPID(t, out)
	await(t, exits, "parent")
	got := make(chan Exit, 1)
	if err := h.r.Watch(daemon, func(e Exit) { got <- e }); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(daemon, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e := await(t, got, "daemon")
	if code, st := e.Describe(); e.Foreign || code != "killed" || st != int(unix.SIGTERM) {
		t.Errorf("daemon exit %+v (%s %d); want killed by SIGTERM via wait4", e, code, st)
	}
}

func TestWatchNonChildUsesPidfd(t *testing.T) {
	h := newHarness(t)
	// sh stays alive as sleep's parent, so sleep is not our child.
	sh, out, exits := h.startSh(t, `sleep 30 >/dev/null & echo $!; wait`)
	sleeper := readPID(t, out)
	got := make(chan Exit, 1)
	if err := h.r.Watch(sleeper, func(e Exit) { got <- e }); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(sleeper, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := await(t, got, "foreign sleep")
	if !e.Foreign || e.PID != sleeper {
		t.Errorf("got %+v; want a Foreign exit of %d", e, sleeper)
	}
	await(t, exits, "sh")
	_ = sh
}

func TestPidfdWatchedProcessReparentedKeepsStatus(t *testing.T) {
	h := newHarness(t)
	sh, out, exits := h.startSh(t, `sleep 30 >/dev/null & echo $!; wait`)
	sleeper := readPID(t, out)
	got := make(chan Exit, 1)
	if err := h.r.Watch(sleeper, func(e Exit) { got <- e }); err != nil {
		t.Fatal(err)
	}
	// Its parent dies first: sleep reparents to us, the subreaper.
	unix.Kill(sh, unix.SIGKILL)
	await(t, exits, "sh")
	unix.Kill(sleeper, unix.SIGTERM)
	e := await(t, got, "reparented sleep")
	if code, st := e.Describe(); e.Foreign || code != "killed" || st != int(unix.SIGTERM) {
		t.Errorf("got %+v (%s %d); want the real status killed/SIGTERM", e, code, st)
	}
}

func TestUnwatchStopsPidfdWatcher(t *testing.T) {
	h := newHarness(t)
	_, out, exits := h.startSh(t, `sleep 30 >/dev/null & echo $!; wait`)
	sleeper := readPID(t, out)
	called := make(chan Exit, 1)
	if err := h.r.Watch(sleeper, func(e Exit) { called <- e }); err != nil {
		t.Fatal(err)
	}
	h.r.Unwatch(sleeper)
	h.r.mu.Lock()
	n := len(h.r.pidfds)
	h.r.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pidfds open after Unwatch; want 0", n)
	}
	unix.Kill(sleeper, unix.SIGKILL)
	await(t, exits, "sh") // sh's wait returns once sleep is gone
	h.r.wg.Wait()         // the watcher goroutine has ended
	select {
	case e := <-called:
		t.Errorf("unwatched callback ran: %+v", e)
	default:
	}
}

func TestWatchErrors(t *testing.T) {
	h := newHarness(t)
	if err := h.r.Watch(0, func(Exit) {}); err == nil {
		t.Error("Watch(0) succeeded")
	}
	// A pid far above pid_max exists nowhere.
	if err := h.r.Watch(1<<30, func(Exit) {}); err == nil {
		t.Error("Watch of a nonexistent pid succeeded")
	}
}

func TestRecentIsBounded(t *testing.T) {
	r := &Reaper{recent: map[int]Exit{}}
	for pid := 1; pid <= recentMax+10; pid++ {
		r.rememberLocked(Exit{PID: pid})
	}
	if len(r.recent) != recentMax || len(r.order) != recentMax {
		t.Fatalf("remembered %d/%d exits; want %d", len(r.recent), len(r.order), recentMax)
	}
	if _, ok := r.recent[1]; ok {
		t.Error("oldest exit not evicted")
	}
	r.forgetLocked(recentMax + 10)
	if _, ok := r.recent[recentMax+10]; ok || len(r.order) != recentMax-1 {
		t.Error("forgetLocked did not forget")
	}
}

// fork returns a fork for Start that runs argv (argv[0] is the program's
// path too), with a pidfd when withPidfd is set; without one the exit comes through SIGCHLD alone, as
// on a kernel without CLONE_PIDFD.
func fork(withPidfd bool, argv ...string) func(*int) (int, error) {
	return func(pidfd *int) (int, error) {
		if !withPidfd {
			pidfd = nil
		}
		return syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{PidFD: pidfd}})
	}
}

func forkTrue(withPidfd bool) func(*int) (int, error) { return fork(withPidfd, "/bin/true") }

// exitPaths are the two ways an exit of a child reaches the reaper.
var exitPaths = []struct {
	name      string
	withPidfd bool
}{{"pidfd", true}, {"sigchld", false}}

// runReaper starts a Reaper without hooks whose Run ends at cleanup.
func runReaper(tb testing.TB) *Reaper {
	tb.Helper()
	r, err := New(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done; r.Close() })
	return r
}

// BenchmarkStartExit measures a start and the delivery of its exit.
func BenchmarkStartExit(b *testing.B) {
	for _, path := range exitPaths {
		b.Run(path.name, func(b *testing.B) {
			r := runReaper(b)
			exits := make(chan Exit, 1)
			for b.Loop() {
				if _, err := r.Start(forkTrue(path.withPidfd), func(e Exit) { exits <- e }); err != nil {
					b.Fatal(err)
				}
				<-exits
			}
		})
	}
}

// TestConcurrentStartsDeliverOnce starts instantly exiting children from
// several goroutines, with and without pidfds and both mixed, while the
// children of a shell become orphans: every exit must reach its own
// callback exactly once, each orphan must reach Orphan once, and no
// zombie or pidfd may be left.
func TestConcurrentStartsDeliverOnce(t *testing.T) {
	for _, mode := range []string{"pidfd", "sigchld", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			const workers, each = 4, 25
			type result struct{ want, got int }
			results := make(chan result, workers*each)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						withPidfd := mode == "pidfd" || (mode == "mixed" && (w+i)%2 == 0)
						got := make(chan int, 2)
						pid, err := h.r.Start(forkTrue(withPidfd), func(e Exit) { got <- e.PID })
						if err != nil {
							t.Error(err)
							return
						}
						select {
						case p := <-got:
							results <- result{pid, p}
						case <-time.After(hangGuard):
							t.Errorf("no exit for pid %d", pid)
							return
						}
						select {
						case p := <-got:
							t.Errorf("second delivery for pid %d", p)
						default:
						}
					}
				})
			}
			// Orphans, reaped on SIGCHLD, all the while: each sleep is
			// ours once its subshell and sh are gone, and then killed.
			const orphans = 10
			var grandchildren []int
			for range orphans {
				_, out, exits := h.startSh(t, `(/bin/sleep 1000 >/dev/null & echo $!)`)
				pid := readPID(t, out)
				await(t, exits, "sh")
				grandchildren = append(grandchildren, pid)
				unix.Kill(pid, unix.SIGKILL)
			}
			wg.Wait()
			close(results)
			n := 0
			for r := range results {
				n++
				if r.want != r.got {
					t.Errorf("callback of pid %d got the exit of %d", r.want, r.got)
				}
			}
			if n != workers*each {
				t.Errorf("%d exits delivered; want %d", n, workers*each)
			}
			// Zombies that pile up before a reap come back from wait4 in
			// the kernel's order, not the order they were killed in: count
			// every delivery until each grandchild has been seen.
			seen := map[int]int{}
			deadline := time.After(hangGuard)
			for missing := len(grandchildren); missing > 0; {
				select {
				case e := <-h.orphans:
					if seen[e.PID]++; seen[e.PID] == 1 && slices.Contains(grandchildren, e.PID) {
						missing--
					}
				case <-deadline:
					t.Fatalf("orphans never reported; seen %v of %v", seen, grandchildren)
				}
			}
		drain:
			for {
				select {
				case e := <-h.orphans:
					seen[e.PID]++
				default:
					break drain
				}
			}
			for pid, k := range seen {
				if k != 1 || !slices.Contains(grandchildren, pid) {
					t.Errorf("orphan %d delivered %d times (orphans %v)", pid, k, grandchildren)
				}
			}
			if z := zombiesOf(t, os.Getpid()); len(z) > 0 {
				t.Errorf("zombies left: %v", z)
			}
			h.r.mu.Lock()
			left := len(h.r.children)
			h.r.mu.Unlock()
			if left != 0 {
				t.Errorf("%d child pidfds left open; want 0", left)
			}
		})
	}
}
