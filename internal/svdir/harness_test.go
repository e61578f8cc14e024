package svdir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a service: it appends the name of each
// signal it gets to $SVDIR_TEST_CHILD and exits on TERM (not on HUP), so
// the tests see real effects and leave no grandchild behind.
const childEnv = "SVDIR_TEST_CHILD"

func TestMain(m *testing.M) {
	if log := os.Getenv(childEnv); log != "" {
		serviceChild(log)
	}
	os.Exit(m.Run())
}

func serviceChild(log string) {
	c := make(chan os.Signal, 4)
	signal.Notify(c, unix.SIGHUP, unix.SIGTERM, unix.SIGUSR1, unix.SIGINT)
	note := func(what string) {
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), what)
			f.Close()
		}
	}
	note("ready") // signals are caught from here on
	for sig := range c {
		note(unix.SignalName(sig.(syscall.Signal)))
		if sig == unix.SIGTERM || sig == unix.SIGINT {
			os.Exit(0)
		}
	}
}

// awaitLogged waits until the service child logged "PID what" in svc.
func awaitLogged(t *testing.T, svc string, pid int, what string) {
	t.Helper()
	line := fmt.Sprintf("%d %s\n", pid, what)
	waitFor(t, svc, line, func() bool {
		b, _ := os.ReadFile(filepath.Join(svc, "signals"))
		return strings.Contains(string(b), line)
	})
}

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (Debian packages runit, daemontools)", n)
		}
	}
}

// newServiceDir writes a service directory whose run execs this test
// binary as a service child logging signals to DIR/signals.
func newServiceDir(t *testing.T, parent, name string, files map[string]string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	svc := filepath.Join(parent, name)
	if err := os.MkdirAll(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("#!/bin/sh\nexec env %s=%s/signals %s\n", childEnv, svc, self)
	all := map[string]string{"run": run}
	for k, v := range files {
		all[k] = v
	}
	for name, text := range all {
		if err := os.WriteFile(filepath.Join(svc, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

// supervisor is a minimal runsv written on top of Dir and Hub, as the
// service-directory engine will be: it runs ./run and acts on the
// commands like runsv's ctrl(), writing the status where runsv does,
// without ./finish, log/ or runsv's pause before restarting a ./run
// that lived less than a second (the tests wait on statuses, not time).
type supervisor struct {
	t    *testing.T
	svc  string
	hub  *Hub
	dir  *Dir
	cmd  *exec.Cmd
	st   Status
	exit chan error
	stop chan struct{}
	done chan struct{}
	once sync.Once // close

	mu      sync.Mutex    // guards changed, applied
	changed chan struct{} // closed and replaced after every Write
	applied int           // commands handled
}

func startSupervisor(t *testing.T, svc string) *supervisor {
	t.Helper()
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	st := Status{Since: time.Now()}
	if _, err := os.Stat(filepath.Join(svc, "down")); err == nil {
		st.Want = WantDown
	}
	d, err := Open(svc, hub, st)
	if err != nil {
		hub.Close()
		t.Fatal(err)
	}
	s := &supervisor{t: t, svc: svc, hub: hub, dir: d, st: st, exit: make(chan error, 1),
		stop: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{})}
	if st.Want == WantUp {
		s.start()
	}
	go s.loop()
	t.Cleanup(s.close)
	return s
}

func (s *supervisor) loop() {
	defer close(s.done)
	for {
		select {
		case c := <-s.hub.Controls():
			s.mu.Lock()
			s.applied++ // before its effects, which a test may be waiting for
			s.mu.Unlock()
			s.control(c.Cmd)
		case <-s.exit:
			s.cmd = nil
			s.st.PID, s.st.Term, s.st.State, s.st.Since = 0, false, StateDown, time.Now()
			s.write()
			if s.st.Want == WantUp {
				s.start()
			}
		case <-s.stop:
			return
		}
	}
}

// control is runsv's ctrl(): the status is written where runsv writes
// it, so sv and the tests see the same sequence of statuses (and a
// command that writes nothing, such as h, wakes no one).
func (s *supervisor) control(c Command) {
	running := s.st.State == StateRun
	switch c {
	case CmdUp, CmdOnce:
		s.st.Want = WantUp
		if c == CmdOnce {
			s.st.Want = WantDown
		}
		s.write()
		if s.st.State == StateDown {
			s.start()
		}
	case CmdDown, CmdExit:
		s.st.Want = WantDown
		if c == CmdExit {
			s.st.Want = WantExit
		}
		s.write()
		if running {
			s.stopService()
		}
	case CmdTerm:
		if running {
			s.stopService()
		}
	case CmdPause, CmdCont:
		if running {
			s.signal(c.Signal())
		}
		s.st.Paused = c == CmdPause
		s.write()
	default:
		if running {
			s.signal(c.Signal())
		}
	}
}

// stopService is runsv's: TERM, "got TERM" written, and CONT when the
// service is not wanted up (a stopped process would never see the TERM).
func (s *supervisor) stopService() {
	s.signal(unix.SIGTERM)
	s.st.Term = true
	s.write()
	if s.st.Want != WantUp {
		s.signal(unix.SIGCONT)
	}
}

func (s *supervisor) signal(sig unix.Signal) {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

func (s *supervisor) start() {
	cmd := exec.Command("./run")
	cmd.Dir = s.svc
	if err := cmd.Start(); err != nil {
		s.t.Errorf("start %s: %v", s.svc, err)
		return
	}
	s.cmd = cmd
	go func() { s.exit <- cmd.Wait() }() // ends when the child does; close waits for that
	s.st.PID, s.st.State, s.st.Since, s.st.Paused, s.st.Term = cmd.Process.Pid, StateRun, time.Now(), false, false
	s.write()
}

func (s *supervisor) write() {
	if err := s.dir.Write(s.st); err != nil {
		s.t.Errorf("write: %v", err)
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// await waits until the written status satisfies ok; the deadline only
// bounds a failing test.
func (s *supervisor) await(what string, ok func(Status) bool) Status {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if st := s.dir.Status(); ok(st) {
			return st
		}
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("%s: status never became %s (last %+v)", s.svc, what, s.dir.Status())
		}
	}
}

// close stops the supervisor as runsv ends: first the loop, so nothing
// writes to the directory any more, then the service, then the directory
// (ok loses its reader: "runsv not running") and the hub.
func (s *supervisor) close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
		s.dir.Close()
		s.hub.Close()
	})
}

// runsv runs the real runsv on svc for a reference, and stops it (by its
// pid) when the test ends.
func runsv(t *testing.T, svc string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(svc, "supervise"), 0o700); err != nil {
		t.Fatal(err) // made here so that waitFor can watch it
	}
	cmd := exec.Command("runsv", svc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGTERM) // runsv: as 'x', stops the service and leaves
		if err := cmd.Wait(); err != nil {
			t.Errorf("runsv %s: %v: %s", svc, err, stderr.String())
		}
	})
	// runsv opens supervise/ok last: once sv can open it, runsv is ready.
	waitFor(t, filepath.Join(svc, "supervise"), "runsv on "+svc, func() bool {
		fd, err := unix.Open(filepath.Join(svc, "supervise/ok"), unix.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err == nil
	})
}

// waitFor checks cond after each inotify event in dir (opens, creations,
// renames); for processes such as runsv that tell us nothing else.
func waitFor(t *testing.T, dir, what string, cond func() bool) {
	t.Helper()
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out waiting for %s", what)
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, int(left/time.Millisecond)+1); n > 0 {
			_, _ = unix.Read(ino, buf)
		}
	}
}

// sv runs the real sv and returns its output with the directory, pids and
// seconds made comparable, and its exit code.
func sv(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runTool(t, "sv", args...)
}

var (
	pidRE  = regexp.MustCompile(`\(pid [0-9]+\)`)
	secsRE = regexp.MustCompile(`\b[0-9]+(s| seconds)\b`)
)

func runTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), code
}

// normalize replaces a service path with NAME, pids with N and seconds
// with S, so runsv's and tend's answers compare.
func normalize(out string, dirs ...string) string {
	for _, d := range dirs {
		out = strings.ReplaceAll(out, d, "DIR")
	}
	out = pidRE.ReplaceAllString(out, "(pid N)")
	return secsRE.ReplaceAllString(out, "S$1")
}
