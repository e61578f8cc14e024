package spawn

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// TestMain lets the test binary serve as the exec helper.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelperArg {
		HelperMain(os.Args)
	}
	if os.Getenv(reportEnv) != "" {
		os.Exit(reportWhere())
	}
	if dir := os.Getenv(signalsEnv); dir != "" {
		os.Exit(signalsChild(dir))
	}
	if err := SealInheritedFDs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	RemovePrivateTmp("") // of the tests' processes started with no unit name
	os.Exit(code)
}

const hangGuard = 20 * time.Second

// reportEnv makes the re-executed test binary print its working
// directory and whether /etc/hostname is visible, for chroot tests.
const reportEnv = "TEND_SPAWN_TEST_REPORT"

func reportWhere() int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	_, err = os.Stat("/etc/hostname")
	fmt.Println(wd, err == nil)
	return 0
}

// reapers holds the one reaper of each running test: a process must have
// a single reaper (two would race for each other's children in wait4,
// and one of them then waits forever), so helpers that need one share it.
var reapers sync.Map // testing.TB -> *reaper.Reaper

func startReaper(t testing.TB) *reaper.Reaper {
	t.Helper()
	if r, ok := reapers.Load(t); ok {
		return r.(*reaper.Reaper)
	}
	r := newReaper(t)
	reapers.Store(t, r)
	t.Cleanup(func() { reapers.Delete(t) })
	return r
}

func newReaper(t testing.TB) *reaper.Reaper {
	t.Helper()
	r, err := reaper.New(reaper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	return r
}

func sleepCmd() unit.Command {
	return unit.Command{Path: "/bin/sleep", Argv: []string{"sleep", "30"}}
}

// run starts s and arranges for the process to be killed and its exit
// awaited at cleanup.
func run(t *testing.T, r *reaper.Reaper, s Spec) int {
	t.Helper()
	if s.SelfExe == "" {
		s.SelfExe = os.Args[0]
	}
	exited := make(chan reaper.Exit, 1)
	pid, err := Start(r, s, func(e reaper.Exit) { exited <- e })
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		unix.Kill(-pid, unix.SIGKILL) // its whole process group (setsid)
		unix.Kill(pid, unix.SIGKILL)
		select {
		case <-exited:
		case <-time.After(hangGuard):
			t.Errorf("pid %d never exited", pid)
		}
	})
	return pid
}

// readyCmd is a shell that reports "ready" on stdout once its own
// descriptors are settled (a freshly exec'd dynamic binary briefly has
// its loader's files open) and then stays alive.
func readyCmd() unit.Command {
	return unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "echo ready; while :; do sleep 30; done"}}
}

// runReady starts s with readyCmd, stdout on a pipe, and waits for
// "ready".
func runReady(t *testing.T, r *reaper.Reaper, s Spec) int {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	s.Command, s.Stdout = readyCmd(), pw
	pid := run(t, r, s)
	pw.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("child not ready: %q, %v", buf, err)
	}
	return pid
}

func procFile(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// environ returns /proc/PID/environ. ForkExec returns once the exec passed
// its point of no return, a moment before the kernel set up the new
// program's environment block, so an empty read is retried; there is no
// event for "exec finished".
func environ(t *testing.T, pid int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if env := procFile(t, pid, "environ"); env != "" || time.Now().After(deadline) {
			return env
		}
		time.Sleep(time.Millisecond)
	}
}

// statusField returns a field of /proc/PID/status, whitespace-normalised.
func statusField(t *testing.T, pid int, key string) string {
	t.Helper()
	for _, line := range strings.Split(procFile(t, pid, "status"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return ""
}

// statField returns field n (1-based, as in proc(5)) of /proc/PID/stat.
func statField(t *testing.T, pid, n int) string {
	t.Helper()
	s := procFile(t, pid, "stat")
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[n-3]
}

func TestStartSessionFdsAndDefaults(t *testing.T) {
	r := startReaper(t)
	extra, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	leak, err := os.Open("/etc/hostname") // open in tend; must not leak
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	pid := runReady(t, r, Spec{Unit: "a.service", ExtraFiles: []*os.File{extra},
		Env: []string{"MAINPID=42"}})

	if sid := statField(t, pid, 6); sid != strconv.Itoa(pid) {
		t.Errorf("session id %s; want %d (setsid)", sid, pid)
	}
	if tty := statField(t, pid, 7); tty != "0" {
		t.Errorf("tty_nr %s; want 0 (no controlling terminal)", tty)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := []string{"0", "1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("child fds %v; want %v", got, want)
	}
	for _, fd := range []int{0, 2, 3} {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); l != os.DevNull {
			t.Errorf("fd %d -> %s; want /dev/null", fd, l)
		}
	}
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != "/" {
		t.Errorf("cwd %s; want /", cwd)
	}
	env := strings.Split(environ(t, pid), "\x00")
	for _, want := range []string{"MAINPID=42", "PATH=" + DefaultPath} {
		if !slices.Contains(env, want) {
			t.Errorf("environment %q lacks %s", env, want)
		}
	}
}

// TestOwnPIDIsTheChildsPID checks the variables only the child can fill
// in: the pid that sd_listen_fds(3) and sd_watchdog_enabled(3) compare
// with their own, replacing whatever the manager's environment said.
func TestOwnPIDIsTheChildsPID(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		prefix string
		want   []string // besides PREFIX_PID=<pid>
	}{
		{"listen", []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=web", "LISTEN_PID=1"}, "LISTEN_", []string{"LISTEN_FDNAMES=web", "LISTEN_FDS=1"}},
		{"watchdog", []string{"WATCHDOG_USEC=500000", "WATCHDOG_PID=1"}, "WATCHDOG_", []string{"WATCHDOG_USEC=500000"}},
	}
	r := startReaper(t)
	sock, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Ready: the program itself runs, not whatever set its pid.
			pid := runReady(t, r, Spec{ExtraFiles: []*os.File{sock}, Env: tt.env})
			var got []string
			for _, kv := range strings.Split(environ(t, pid), "\x00") {
				if strings.HasPrefix(kv, tt.prefix) {
					got = append(got, kv)
				}
			}
			slices.Sort(got)
			want := append(slices.Clone(tt.want), tt.prefix+"PID="+strconv.Itoa(pid))
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s* = %q; want %q", tt.prefix, got, want)
			}
		})
	}
}

func TestStartUserSwitch(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	u, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no nobody user: %v", err)
	}
	daemon, err := LookupGroup("/etc", "daemon")
	if err != nil {
		t.Skipf("no daemon group: %v", err)
	}
	r := startReaper(t)
	for _, helper := range []bool{false, true} {
		t.Run(fmt.Sprintf("helper=%v", helper), func(t *testing.T) {
			ec := &unit.ExecContext{User: "nobody", SupplementaryGroups: []string{"daemon"}, UMask: 0o022}
			if helper {
				ec.UMask = 0o027
			}
			pid := run(t, r, Spec{Command: sleepCmd(), Exec: ec})
			wantUID := fmt.Sprintf("%d %d %d %d", u.UID, u.UID, u.UID, u.UID)
			if got := statusField(t, pid, "Uid"); got != wantUID {
				t.Errorf("Uid %q; want %q", got, wantUID)
			}
			wantGID := fmt.Sprintf("%d %d %d %d", u.GID, u.GID, u.GID, u.GID)
			if got := statusField(t, pid, "Gid"); got != wantGID {
				t.Errorf("Gid %q; want %q", got, wantGID)
			}
			groups := append(slices.Clone(u.Groups), daemon)
			slices.Sort(groups)
			var want []string
			for _, g := range slices.Compact(groups) {
				want = append(want, strconv.Itoa(g))
			}
			if got := statusField(t, pid, "Groups"); got != strings.Join(want, " ") {
				t.Errorf("Groups %q; want %q", got, strings.Join(want, " "))
			}
			env := strings.Split(environ(t, pid), "\x00")
			for _, want := range []string{"USER=nobody", "LOGNAME=nobody", "HOME=" + u.Home} {
				if !slices.Contains(env, want) {
					t.Errorf("environment lacks %s", want)
				}
			}
		})
	}
}

func TestStartHelperSettings(t *testing.T) {
	r := startReaper(t)
	nice, oom := 7, 345
	ec := &unit.ExecContext{
		UMask:          0o077,
		Nice:           &nice,
		OOMScoreAdjust: &oom,
		Limits: map[string]unit.Rlimit{
			"NOFILE": {Soft: 1000, Hard: 2000},
			"CORE":   {Soft: ^uint64(0), Hard: ^uint64(0)},
		},
	}
	pid := runReady(t, r, Spec{Exec: ec, SelfExe: os.Args[0]})
	if comm := strings.TrimSpace(procFile(t, pid, "comm")); comm != "sh" {
		t.Errorf("comm %q; want sh (the helper must exec the target)", comm)
	}
	if sid := statField(t, pid, 6); sid != strconv.Itoa(pid) {
		t.Errorf("session id %s; want %d (setsid)", sid, pid)
	}
	if got := statusField(t, pid, "Umask"); got != "0077" {
		t.Errorf("Umask %s; want 0077", got)
	}
	if got := statField(t, pid, 19); got != "7" {
		t.Errorf("nice %s; want 7", got)
	}
	if got := strings.TrimSpace(procFile(t, pid, "oom_score_adj")); got != "345" {
		t.Errorf("oom_score_adj %s; want 345", got)
	}
	limits := procFile(t, pid, "limits")
	for _, want := range []string{`Max open files\s+1000\s+2000`, `Max core file size\s+unlimited\s+unlimited`} {
		if !matchLine(limits, want) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if len(ents) != 3 {
		t.Errorf("child has %d fds; want 3 (helper pipes must not leak)", len(ents))
	}
}

// startWay is one way Start forks: directly, or through the exec helper
// (which the ExecContext needs).
type startWay struct {
	name string
	ec   *unit.ExecContext
}

func startWays() []startWay {
	return []startWay{
		{"direct", &unit.ExecContext{UMask: 0o022}},
		{"exec helper", &unit.ExecContext{UMask: 0o027}},
	}
}

// TestStartHandsThePidfdToTheReaper checks that both ways of starting
// fork with CLONE_PIDFD, so the reaper hears of the exit at once.
func TestStartHandsThePidfdToTheReaper(t *testing.T) {
	r := startReaper(t)
	for _, tt := range startWays() {
		t.Run(tt.name, func(t *testing.T) {
			pid := run(t, r, Spec{Command: sleepCmd(), Exec: tt.ec})
			want := "reaper: pidfd of child " + strconv.Itoa(pid)
			for fd, role := range r.FDs() {
				if role == want {
					if link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); !strings.Contains(link, "pidfd") {
						t.Errorf("fd %d of %q is %q; want a pidfd", fd, role, link)
					}
					return
				}
			}
			t.Errorf("reaper holds no pidfd of %d: %v", pid, r.FDs())
		})
	}
}

// TestNoPidFDReapsOnSIGCHLD checks that a Spec with NoPidFD forks
// without CLONE_PIDFD, both ways of starting, and that its exit still
// reaches onExit (through SIGCHLD).
func TestNoPidFDReapsOnSIGCHLD(t *testing.T) {
	r := startReaper(t)
	for _, tt := range startWays() {
		t.Run(tt.name, func(t *testing.T) {
			exited := make(chan reaper.Exit, 1)
			cmd := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", "read x; exit 0"}}
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			pid, err := Start(r, Spec{Command: cmd, Exec: tt.ec, Stdin: pr, SelfExe: os.Args[0], NoPidFD: true},
				func(e reaper.Exit) { exited <- e })
			if err != nil {
				pw.Close()
				t.Fatal(err)
			}
			want := "reaper: pidfd of child " + strconv.Itoa(pid)
			for _, role := range r.FDs() {
				if role == want {
					t.Errorf("reaper holds a pidfd of %d: %v", pid, r.FDs())
				}
			}
			pw.Close() // read gets end of file; the shell exits
			select {
			case e := <-exited:
				if e.PID != pid || !e.Success() {
					t.Errorf("exit %v; want pid %d, success", e, pid)
				}
			case <-time.After(hangGuard):
				unix.Kill(pid, unix.SIGKILL)
				t.Fatalf("exit of pid %d never delivered", pid)
			}
		})
	}
}

func TestWorkingDirectory(t *testing.T) {
	r := startReaper(t)
	dir := t.TempDir()
	pid := run(t, r, Spec{Command: sleepCmd(), Exec: &unit.ExecContext{UMask: 0o022, WorkingDirectory: dir}})
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != dir {
		t.Errorf("cwd %s; want %s", cwd, dir)
	}
	missing := filepath.Join(dir, "missing")
	pid = run(t, r, Spec{Command: sleepCmd(), Exec: &unit.ExecContext{UMask: 0o022, WorkingDirectory: missing, WorkingDirectoryOptional: true}})
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != "/" {
		t.Errorf("cwd %s with optional missing dir; want /", cwd)
	}
	_, err := Start(r, Spec{Command: sleepCmd(), Exec: &unit.ExecContext{UMask: 0o022, WorkingDirectory: missing}}, func(reaper.Exit) {})
	var se *SetupError
	if !errors.As(err, &se) || se.Status != ExitChdir || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Start with missing working directory: %v; want status 200, ENOENT", err)
	}
}

func TestExecFailures(t *testing.T) {
	r := startReaper(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("\x00\x01not a program"), 0o755)
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		name   string
		path   string
		helper bool
		errno  syscall.Errno
	}{
		{"missing", "/nonexistent/bin", false, syscall.ENOENT},
		{"missing bare name", "no-such-tend-test-program", false, syscall.ENOENT},
		{"not executable", noexec, false, syscall.EACCES},
		{"directory", dir, false, syscall.EACCES},
		{"bad format", garbage, false, syscall.ENOEXEC},
		{"bad format via helper", garbage, true, syscall.ENOEXEC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ec := &unit.ExecContext{UMask: 0o022}
			if tt.helper {
				ec.UMask = 0o027
			}
			called := make(chan reaper.Exit, 1)
			_, err := Start(r, Spec{Command: unit.Command{Path: tt.path}, Exec: ec, SelfExe: os.Args[0]},
				func(e reaper.Exit) { called <- e })
			var se *SetupError
			if !errors.As(err, &se) || se.Status != ExitExec || se.Step != "EXEC" {
				t.Fatalf("Start: %v; want a SetupError with status 203/EXEC", err)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("Start: %v; want %v", err, tt.errno)
			}
			if !strings.Contains(err.Error(), "failed at step EXEC spawning") {
				t.Errorf("message %q", err)
			}
			select {
			case e := <-called:
				t.Errorf("onExit called for a failed start: %+v", e)
			default:
			}
		})
	}
}

func TestHelperReportsFailedStep(t *testing.T) {
	r := startReaper(t)
	tests := []struct {
		name   string
		ec     *unit.ExecContext
		status int
		errno  syscall.Errno
	}{
		// (A limit above the hard one is clamped: TestLimitAboveHardLimitIsClamped.)
		{"soft above hard", &unit.ExecContext{UMask: 0o022, Limits: map[string]unit.Rlimit{"NOFILE": {Soft: 2000, Hard: 1000}}}, ExitLimits, syscall.EINVAL},
		{"unknown limit", &unit.ExecContext{UMask: 0o022, Limits: map[string]unit.Rlimit{"BOGUS": {}}}, ExitLimits, 0},
		{"unknown user", &unit.ExecContext{UMask: 0o022, User: "no-such-user-tend"}, ExitUser, 0},
		{"unknown group", &unit.ExecContext{UMask: 0o022, Group: "no-such-group-tend"}, ExitGroup, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := make(chan reaper.Exit, 1)
			_, err := Start(r, Spec{Command: sleepCmd(), Exec: tt.ec, SelfExe: os.Args[0]}, func(e reaper.Exit) { called <- e })
			var se *SetupError
			if !errors.As(err, &se) || se.Status != tt.status || se.Step != ExitStatusName(tt.status) {
				t.Fatalf("Start: %v; want a SetupError with status %d", err, tt.status)
			}
			if tt.errno != 0 && !errors.Is(err, tt.errno) {
				t.Errorf("Start: %v; want %v", err, tt.errno)
			}
			select {
			case e := <-called:
				t.Errorf("onExit called for a failed start: %+v", e)
			default:
			}
		})
	}
}

func TestNoSetuidPrefixKeepsCredentials(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to tell the difference")
	}
	r := startReaper(t)
	cmd := sleepCmd()
	cmd.NoSetuid = true
	pid := run(t, r, Spec{Command: cmd, Exec: &unit.ExecContext{UMask: 0o022, User: "nobody"}})
	if got := statusField(t, pid, "Uid"); got != "0 0 0 0" {
		t.Errorf("Uid %q with \"!\" prefix; want root's", got)
	}
	if env := environ(t, pid); !strings.Contains(env, "USER=nobody\x00") {
		t.Errorf("USER=nobody missing from environment with \"!\" prefix")
	}
}

func TestRootDirectory(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "srv/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := elf.Open("/proc/self/exe"); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				f.Close()
				t.Skip("test binary is dynamically linked (-race?); the chroot probe needs a static one")
			}
		}
		f.Close()
	}
	self, err := os.ReadFile("/proc/self/exe") // statically linked: runs alone in the new root
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "probe"), self, 0o755); err != nil {
		t.Fatal(err)
	}
	r := startReaper(t)
	for _, helper := range []bool{false, true} {
		t.Run(fmt.Sprintf("helper=%v", helper), func(t *testing.T) {
			ec := &unit.ExecContext{UMask: 0o022, RootDirectory: root, WorkingDirectory: "/srv/data"}
			if helper {
				ec.UMask = 0o027
			}
			pr, pw, _ := os.Pipe()
			defer pr.Close()
			exited := make(chan reaper.Exit, 1)
			_, err := Start(r, Spec{Command: unit.Command{Path: "/probe"}, Exec: ec, Stdout: pw,
				Env: []string{reportEnv + "=1"}, SelfExe: os.Args[0]}, func(e reaper.Exit) { exited <- e })
			pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(pr)
			if got := strings.TrimSpace(string(out)); got != "/srv/data false" {
				t.Errorf("in the new root the probe saw %q; want \"/srv/data false\"", got)
			}
			if e := <-exited; !e.Success() {
				t.Errorf("probe %s", e)
			}
		})
	}
}

func TestEnvironmentFileMissing(t *testing.T) {
	r := startReaper(t)
	ec := &unit.ExecContext{UMask: 0o022, EnvironmentFiles: []unit.EnvFile{{Path: "/nonexistent/env"}}}
	_, err := Start(r, Spec{Command: sleepCmd(), Exec: ec}, func(reaper.Exit) {})
	var se *SetupError
	if !errors.As(err, &se) || se.Status != ExitFailure || !se.BeforeFork || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start: %v; want SetupError status 1 before the fork wrapping ErrNotExist", err)
	}
}

func TestCgroupPlacement(t *testing.T) {
	for _, mode := range []string{cgroup.ModeV2, cgroup.ModeV1} {
		t.Run(mode, func(t *testing.T) {
			m := cgroup.Detect(cgroup.Options{Base: fmt.Sprintf("tend-spawn-test-%d", os.Getpid()), Force: mode})
			defer m.Close()
			if m.Mode() != mode {
				t.Skipf("mode %s not available (got %s)", mode, m.Mode())
			}
			defer func() {
				if err := m.Prune(); err != nil {
					t.Error(err)
				}
			}()
			g, err := m.Group("placed.service")
			if err != nil {
				t.Fatal(err)
			}
			r := startReaper(t)
			exited := make(chan reaper.Exit, 1)
			pid, err := Start(r, Spec{Command: sleepCmd(), Cgroup: g, SelfExe: os.Args[0]},
				func(e reaper.Exit) { exited <- e })
			if err != nil {
				t.Fatal(err)
			}
			if u, ok := m.UnitOf(pid); !ok || u != "placed.service" {
				t.Errorf("UnitOf(%d) = %q, %v; want placed.service\n%s", pid, u, ok, procFile(t, pid, "cgroup"))
			}
			if comm := strings.TrimSpace(procFile(t, pid, "comm")); comm != "sleep" {
				t.Errorf("comm %q; want sleep", comm)
			}
			if err := g.Kill(unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(hangGuard):
				t.Fatal("no exit after Kill")
			}
			// v1 emptiness is re-checked on NoteExit; wait for it, then remove.
			m.NoteExit(pid)
			<-g.Empty()
			if err := g.Remove(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDirectoriesCreated(t *testing.T) {
	base := t.TempDir()
	d := Dirs{Runtime: filepath.Join(base, "run"), State: filepath.Join(base, "lib"),
		Cache: filepath.Join(base, "cache"), Logs: filepath.Join(base, "log"), Config: filepath.Join(base, "etc")}
	ec := &unit.ExecContext{
		UMask:                  0o022,
		RuntimeDirectory:       unit.DirSpec{Paths: []string{"app", "app/sub"}, Mode: 0o700},
		StateDirectory:         unit.DirSpec{Paths: []string{"app"}, Mode: 0o750},
		ConfigurationDirectory: unit.DirSpec{Paths: []string{"app"}},
	}
	uid, gid := 65534, 65534
	if os.Getuid() != 0 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	if err := PrepareDirs(ec, d, uid, gid); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{filepath.Join(d.Runtime, "app"), 0o700, uid, gid},
		{filepath.Join(d.Runtime, "app/sub"), 0o700, uid, gid},
		{filepath.Join(d.State, "app"), 0o750, uid, gid},
		{filepath.Join(d.Config, "app"), 0o755, os.Getuid(), os.Getgid()},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Error(err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != tt.mode || int(st.Uid) != tt.uid || int(st.Gid) != tt.gid {
			t.Errorf("%s: mode %o owner %d:%d; want %o %d:%d", tt.path, fi.Mode().Perm(), st.Uid, st.Gid, tt.mode, tt.uid, tt.gid)
		}
	}
	env, err := BuildEnv(Spec{Exec: ec, Dirs: d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "RUNTIME_DIRECTORY=" + filepath.Join(d.Runtime, "app") + ":" + filepath.Join(d.Runtime, "app/sub")
	if !slices.Contains(env, want) {
		t.Errorf("env %q lacks %s", env, want)
	}
	if err := RemoveRuntimeDirs(ec, d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Runtime, "app")); !os.IsNotExist(err) {
		t.Errorf("runtime dir not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.State, "app")); err != nil {
		t.Errorf("state dir removed with runtime dirs: %v", err)
	}

	bad := &unit.ExecContext{StateDirectory: unit.DirSpec{Paths: []string{"../escape"}}}
	var se *SetupError
	if err := PrepareDirs(bad, d, 0, 0); !errors.As(err, &se) || se.Status != ExitStateDirectory {
		t.Errorf("PrepareDirs(../escape) = %v; want status 238", err)
	}
}

func matchLine(text, pattern string) bool {
	fields := strings.Split(pattern, `\s+`)
	for _, line := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == "" {
			continue
		}
		norm := strings.Join(strings.Fields(line), " ")
		if strings.HasPrefix(norm, strings.Join(fields, " ")) {
			return true
		}
	}
	return false
}

// BenchmarkStart starts /bin/true until the reaper reports its exit:
// directly (helper=false), through the exec helper (helper=true, a
// non-default umask) and, as root, with a daemon-style sandbox
// (sandboxed): what a restart pays for its process.
func BenchmarkStart(b *testing.B) {
	r := startReaper(b)
	type startCase struct {
		name string
		ec   *unit.ExecContext
	}
	cases := []startCase{{"helper=false", &unit.ExecContext{UMask: 0o022}}, {"helper=true", &unit.ExecContext{UMask: 0o027}}}
	if os.Getuid() == 0 {
		cases = append(cases, startCase{"sandboxed", sandboxed()})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchStarts(b, r, Spec{Command: unit.Command{Path: "/bin/true"}, Exec: c.ec, SelfExe: os.Args[0]})
		})
	}
}

// benchStarts starts s and awaits its exit, b.N times.
func benchStarts(b *testing.B, r *reaper.Reaper, s Spec) {
	exits := make(chan reaper.Exit, 1)
	for b.Loop() {
		if _, err := Start(r, s, func(e reaper.Exit) { exits <- e }); err != nil {
			b.Fatal(err)
		}
		<-exits
	}
}

// TestOOMScoreWithoutPrivilege: lowering oom_score_adj needs
// CAP_SYS_RESOURCE, which root in a container may lack. As in systemd,
// the refusal is ignored and the service runs with the inherited score
// (Debian's dbus.service sets OOMScoreAdjust=-900).
func TestOOMScoreWithoutPrivilege(t *testing.T) {
	r := startReaper(t)
	oom := -900
	pid := runReady(t, r, Spec{Exec: &unit.ExecContext{OOMScoreAdjust: &oom}, SelfExe: os.Args[0]})
	want := strings.TrimSpace(procFile(t, os.Getpid(), "oom_score_adj"))
	if hasCap(t, 24) { // CAP_SYS_RESOURCE
		want = "-900"
	}
	if got := strings.TrimSpace(procFile(t, pid, "oom_score_adj")); got != want {
		t.Errorf("oom_score_adj %s; want %s", got, want)
	}
}

// hasCap reports whether this process has capability bit in its
// effective set.
func hasCap(t *testing.T, bit uint) bool {
	hex := statusField(t, os.Getpid(), "CapEff")
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		t.Fatalf("CapEff %q: %v", hex, err)
	}
	return v&(1<<bit) != 0
}

// TestStandardInputData: StandardInput=data gives the process the data
// and then EOF, as systemd.exec(5) says, and the process cannot change
// it; the unit's text and base64 settings build the data.
func TestStandardInputData(t *testing.T) {
	dir := t.TempDir()
	unitFile := filepath.Join(dir, "d.service")
	text := "[Service]\nExecStart=/bin/true\nStandardInputText=line %n\nStandardInputData=Ymlu \\\n  YXJ5AA==\nStandardInputText=\\ttab\n"
	if err := os.WriteFile(unitFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := (&unit.Loader{Dirs: []string{dir}, Env: unit.SystemEnv()}).Load("d.service")
	if err != nil {
		t.Fatal(err)
	}
	ec := &u.Service.Exec
	want := "line d.service\nbinary\x00\ttab\n"
	if ec.StandardInput != "data" || string(ec.StandardInputData) != want {
		t.Fatalf("StandardInput=%q data %q; want data %q (diags %v)", ec.StandardInput, ec.StandardInputData, want, u.Diags)
	}
	out := filepath.Join(dir, "out")
	r := startReaper(t)
	cmd := unit.Command{Path: "/bin/sh", Argv: []string{"sh", "-c", `cat > "$0"; echo x >&0 2>/dev/null && echo writable >> "$0"; echo done >> "$0"`, out}}
	exited := make(chan reaper.Exit, 1)
	if _, err := Start(r, Spec{Command: cmd, Exec: ec, SelfExe: os.Args[0]}, func(e reaper.Exit) { exited <- e }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(hangGuard):
		t.Fatal("reader never exited")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want+"done\n" {
		t.Errorf("process read %q; want %q then done", got, want)
	}
}

// TestDevNullKeptAcrossStarts checks that the standard streams a unit
// leaves unset are /dev/null, from one descriptor that every start shares
// and none closes.
func TestDevNullKeptAcrossStarts(t *testing.T) {
	r := startReaper(t)
	shared, err := sharedDevNull()
	if err != nil {
		t.Fatalf("open /dev/null: %v", err)
	}
	for i := range 2 {
		pid := run(t, r, Spec{Command: sleepCmd()})
		for fd := range 3 {
			if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); link != os.DevNull {
				t.Errorf("start %d: fd %d is %q; want %s", i, fd, link, os.DevNull)
			}
		}
		if _, err := unix.FcntlInt(shared.Fd(), unix.F_GETFD, 0); err != nil {
			t.Fatalf("start %d closed the shared /dev/null: %v", i, err)
		}
		if link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", shared.Fd())); link != os.DevNull {
			t.Fatalf("start %d: the shared descriptor is now %q", i, link)
		}
	}
}
