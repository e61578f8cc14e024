package svdir

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func readStatus(t *testing.T, svc string) Status {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(svc, "supervise/status"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pair is the same service directory twice: one run by the real runsv
// (the reference), one by tend's Dir.
type pair struct {
	ref, ours string
	sup       *supervisor
}

func newPair(t *testing.T, files map[string]string) *pair {
	needTool(t, "sv", "runsv")
	parent := t.TempDir()
	p := &pair{
		ref:  newServiceDir(t, parent, "ref", files),
		ours: newServiceDir(t, parent, "ours", files),
	}
	runsv(t, p.ref)
	p.sup = startSupervisor(t, p.ours)
	up := func(s Status) bool { return s.State == StateRun || s.Want != WantUp }
	p.sup.await("running", up)
	p.awaitRef(t, "running", up)
	if pid := readStatus(t, p.ref).PID; pid != 0 {
		awaitLogged(t, p.ref, pid, "ready")
		awaitLogged(t, p.ours, p.pid(t), "ready")
	}
	return p
}

// both runs a tool on the reference and on ours and requires the same
// output (pids, seconds and paths aside) and exit code.
func (p *pair) both(t *testing.T, tool string, args ...string) string {
	t.Helper()
	run := func(dir string) (string, int) {
		a := append(append([]string{}, args...), dir)
		out, code := runTool(t, tool, a...)
		return normalize(out, dir), code
	}
	refOut, refCode := run(p.ref)
	ourOut, ourCode := run(p.ours)
	if refOut != ourOut || refCode != ourCode {
		t.Errorf("%s %s:\n runsv: %q exit %d\n  tend: %q exit %d", tool, strings.Join(args, " "), refOut, refCode, ourOut, ourCode)
	}
	return ourOut
}

func (p *pair) pid(t *testing.T) int {
	t.Helper()
	return p.sup.dir.Status().PID
}

// awaitRef waits until the status runsv wrote satisfies ok.
func (p *pair) awaitRef(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	var st Status
	waitFor(t, filepath.Join(p.ref, "supervise"), "runsv's service "+what, func() bool {
		st = readStatus(t, p.ref)
		return ok(st)
	})
	return st
}

// awaitBoth waits until both statuses satisfy ok, and returns ours.
func (p *pair) awaitBoth(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	p.awaitRef(t, what, ok)
	return p.sup.await(what, ok)
}

// alive tells whether a process pid exists; pid 0 (no process in a
// status) is none, though kill(0, 0) would signal our own group.
func alive(pid int) bool { return pid > 0 && unix.Kill(pid, 0) == nil }

func TestSvAgainstRunsv(t *testing.T) {
	p := newPair(t, map[string]string{"check": "#!/bin/sh\nexit 0\n"})

	if out := p.both(t, "sv", "status"); out != "run: DIR: (pid N) Ss\n" {
		t.Errorf("sv status = %q", out)
	}
	pid := p.pid(t)
	if out, _ := runTool(t, "sv", "status", p.ours); !strings.Contains(out, fmt.Sprintf("(pid %d)", pid)) || !alive(pid) {
		t.Errorf("sv status = %q; want our child %d, alive", out, pid)
	}
	if b, _ := os.ReadFile(filepath.Join(p.ours, "supervise/pid")); string(b) != strconv.Itoa(pid)+"\n" {
		t.Errorf("supervise/pid = %q; want %d", b, pid)
	}
	for _, f := range []string{"stat", "pid"} {
		ref, _ := os.ReadFile(filepath.Join(p.ref, "supervise", f))
		ours, _ := os.ReadFile(filepath.Join(p.ours, "supervise", f))
		if f == "pid" {
			ref, ours = []byte(normalize(string(ref))), []byte(normalize(string(ours)))
		}
		if f == "stat" && string(ref) != string(ours) {
			t.Errorf("supervise/stat: runsv %q, tend %q", ref, ours)
		}
	}

	t.Run("modes", func(t *testing.T) {
		for _, f := range []string{".", "control", "ok", "lock", "status", "stat", "pid"} {
			var ref, ours unix.Stat_t
			if err := unix.Stat(filepath.Join(p.ref, "supervise", f), &ref); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(filepath.Join(p.ours, "supervise", f), &ours); err != nil {
				t.Fatal(err)
			}
			if ref.Mode != ours.Mode || ours.Uid != 0 {
				t.Errorf("supervise/%s: runsv mode %o, tend %o uid %d", f, ref.Mode, ours.Mode, ours.Uid)
			}
		}
	})

	t.Run("hup", func(t *testing.T) {
		pid := p.pid(t)
		p.both(t, "sv", "hup")
		awaitLogged(t, p.ours, pid, "SIGHUP")
	})

	t.Run("down", func(t *testing.T) {
		pid := p.pid(t)
		if out := p.both(t, "sv", "-w", "5", "down"); out != "ok: down: DIR: Ss, normally up\n" {
			t.Errorf("sv down = %q", out)
		}
		if alive(pid) {
			t.Errorf("pid %d still alive after sv down", pid)
		}
		if b, _ := os.ReadFile(filepath.Join(p.ours, "signals")); !strings.Contains(string(b), fmt.Sprintf("%d SIGTERM", pid)) {
			t.Errorf("signals = %q; want SIGTERM for %d", b, pid)
		}
		p.both(t, "sv", "status")
		if b, _ := os.ReadFile(filepath.Join(p.ours, "supervise/pid")); len(b) != 0 {
			t.Errorf("supervise/pid = %q after down; want empty", b)
		}
	})

	t.Run("start", func(t *testing.T) {
		if out := p.both(t, "sv", "-w", "5", "start"); out != "ok: run: DIR: (pid N) Ss\n" {
			t.Errorf("sv start = %q", out)
		}
		if !alive(p.pid(t)) {
			t.Errorf("no process after sv start")
		}
		p.both(t, "sv", "up") // already wanted up: sv writes nothing
	})

	// sv's check for term and restart accepts a running, unsignalled
	// process whose status is stamped in the second sv started: the one it
	// read before the supervisor acted on the command passes when the
	// process started in that second (with runsv too). So sv may answer
	// "ok" from the old process; the status shows when the new one runs.
	restarted := func(t *testing.T, verb string, old, refOld int) {
		t.Helper()
		now := p.awaitBoth(t, "restarted", func(s Status) bool { return s.State == StateRun && s.PID != old && s.PID != refOld }).PID
		if alive(old) || !alive(now) {
			t.Errorf("after sv %s: pid %d (alive %v) → %d (alive %v)", verb, old, alive(old), now, alive(now))
		}
	}

	t.Run("term restarts", func(t *testing.T) {
		old, refOld := p.pid(t), readStatus(t, p.ref).PID
		if out := p.both(t, "sv", "-w", "5", "term"); out != "ok: run: DIR: (pid N) Ss\n" {
			t.Errorf("sv term = %q", out)
		}
		restarted(t, "term", old, refOld)
	})

	t.Run("restart", func(t *testing.T) {
		old, refOld := p.pid(t), readStatus(t, p.ref).PID
		if out := p.both(t, "sv", "-w", "5", "restart"); out != "ok: run: DIR: (pid N) Ss\n" {
			t.Errorf("sv restart = %q", out)
		}
		restarted(t, "restart", old, refOld)
	})

	t.Run("pause and cont", func(t *testing.T) {
		p.both(t, "sv", "pause")
		p.sup.await("paused", func(s Status) bool { return s.Paused })
		waitFor(t, filepath.Join(p.ref, "supervise"), "runsv paused", func() bool { return readStatus(t, p.ref).Paused })
		if out := p.both(t, "sv", "status"); out != "run: DIR: (pid N) Ss, paused\n" {
			t.Errorf("sv status = %q", out)
		}
		p.both(t, "sv", "cont")
		p.sup.await("continued", func(s Status) bool { return !s.Paused })
		waitFor(t, filepath.Join(p.ref, "supervise"), "runsv continued", func() bool { return !readStatus(t, p.ref).Paused })
	})

	t.Run("check", func(t *testing.T) {
		if out := p.both(t, "sv", "check"); out != "ok: run: DIR: (pid N) Ss\n" {
			t.Errorf("sv check = %q", out)
		}
		setCheck := func(t *testing.T, code int) {
			for _, d := range []string{p.ref, p.ours} {
				if err := os.WriteFile(filepath.Join(d, "check"), []byte(fmt.Sprintf("#!/bin/sh\nexit %d\n", code)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		setCheck(t, 1)
		t.Cleanup(func() { setCheck(t, 0) }) // the next subtests' sv -w run it
		if out := p.both(t, "sv", "-w", "1", "check"); out != "timeout: run: DIR: (pid N) Ss\n" {
			t.Errorf("sv -w 1 check = %q", out)
		}
	})

	// once wants the service down but runs it if it is down. sv -w waits
	// for "want down" while the service runs; from down, its check passes
	// on a down status stamped in the second sv started, which the last
	// stop may have written (runsv too), so there the status is awaited.
	// sv term is not given -w either: its check may pass on the status
	// read before the TERM when ./check exits 0.
	t.Run("once", func(t *testing.T) {
		down := func(what string, pid int) {
			t.Helper()
			p.both(t, "sv", "term") // not restarted: once
			p.awaitBoth(t, what, func(s Status) bool { return s.State == StateDown && s.PID == 0 })
			if alive(pid) {
				t.Errorf("%s: pid %d alive", what, pid)
			}
			if out := p.both(t, "sv", "status"); out != "down: DIR: Ss, normally up\n" {
				t.Errorf("sv status after %s = %q", what, out)
			}
		}
		if out := p.both(t, "sv", "-w", "5", "once"); out != "ok: run: DIR: (pid N) Ss, want down\n" {
			t.Errorf("sv once while running = %q", out)
		}
		down("once while running", p.pid(t))

		p.both(t, "sv", "once")
		pid := p.awaitBoth(t, "run once", func(s Status) bool { return s.State == StateRun && s.Want == WantDown }).PID
		if out := p.both(t, "sv", "status"); out != "run: DIR: (pid N) Ss, want down\n" {
			t.Errorf("sv status after once = %q", out)
		}
		down("once from down", pid)
	})
}

func TestSvStatusWithoutSupervisor(t *testing.T) {
	needTool(t, "sv")
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	d, err := Open(svc, hub, Status{})
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runTool(t, "sv", "status", svc); code != 0 || !strings.HasPrefix(out, "down: ") {
		t.Errorf("sv status with Dir open = %q exit %d", out, code)
	}
	d.Close()
	out, code := runTool(t, "sv", "status", svc)
	if want := "fail: " + svc + ": runsv not running\n"; out != want || code != 1 {
		t.Errorf("sv status after Close = %q exit %d; want %q exit 1", out, code, want)
	}
	if out, code := runTool(t, "sv", "exit", svc); code != 0 || !strings.Contains(out, "ok: ") {
		t.Errorf("sv exit after Close = %q exit %d; want ok", out, code)
	}
}

func TestControlGarbage(t *testing.T) {
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	s := startSupervisor(t, svc)
	pid := s.await("running", func(st Status) bool { return st.PID != 0 }).PID
	awaitLogged(t, svc, pid, "ready")
	f, err := os.OpenFile(filepath.Join(svc, "supervise/control"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("zZ\x00\n?h")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	awaitLogged(t, svc, pid, "SIGHUP")
	if g := s.dir.Garbage(); g != 5 {
		t.Errorf("Garbage = %d; want 5", g)
	}
	s.mu.Lock()
	applied := s.applied
	s.mu.Unlock()
	if applied != 1 {
		t.Errorf("commands applied = %d; want 1", applied)
	}
}

// A user other than the supervisor's cannot give orders: the FIFOs are
// 0600 (and supervise/ 0700), as runsv makes them.
func TestControlRefusesOtherUsers(t *testing.T) {
	needTool(t, "sv", "setpriv")
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	parent := t.TempDir()
	for d := parent; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // let nobody reach the directory
			t.Fatal(err)
		}
	}
	svc := newServiceDir(t, parent, "svc", nil)
	s := startSupervisor(t, svc)
	pid := s.await("running", func(st Status) bool { return st.PID != 0 }).PID
	asNobody := func(args ...string) (string, int) {
		return runTool(t, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
	}
	out, code := asNobody("sv", "down", svc)
	if code == 0 || !strings.Contains(out, "access denied") {
		t.Errorf("sv down as nobody = %q exit %d; want access denied", out, code)
	}
	// Even with supervise/ opened up, the FIFO's own mode refuses.
	if err := os.Chmod(filepath.Join(svc, "supervise"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := asNobody("sh", "-c", "printf d >"+filepath.Join(svc, "supervise/control")); code == 0 {
		t.Errorf("nobody wrote to control: %q", out)
	}
	if !alive(pid) || s.dir.Status().PID != pid {
		t.Errorf("service %d stopped by nobody", pid)
	}
}

func TestLockAgainstRunsv(t *testing.T) {
	needTool(t, "runsv")
	parent := t.TempDir()
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()

	t.Run("runsv holds it", func(t *testing.T) {
		svc := newServiceDir(t, parent, "theirs", map[string]string{"down": ""})
		runsv(t, svc)
		_, err := Open(svc, hub, Status{})
		var locked *LockedError
		if !errors.As(err, &locked) || locked.PID == 0 {
			t.Fatalf("Open of a directory runsv holds: %v; want a LockedError naming runsv", err)
		}
		if want := "service directory " + svc + ": unable to lock supervise/lock: held by pid " + strconv.Itoa(locked.PID) + " (runsv)"; err.Error() != want {
			t.Errorf("error = %q; want %q", err, want)
		}
	})
	t.Run("tend holds it", func(t *testing.T) {
		svc := newServiceDir(t, parent, "ours", map[string]string{"down": ""})
		d, err := Open(svc, hub, Status{Want: WantDown})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		out, err := exec.Command("runsv", svc).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 111 || !strings.Contains(string(out), "unable to lock supervise/lock") {
			t.Errorf("runsv on our directory: %q, %v; want exit 111, unable to lock", out, err)
		}
	})
}

func TestDaemontoolsAgainstOurs(t *testing.T) {
	needTool(t, "svstat", "svc")
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	s := startSupervisor(t, svc)
	pid := s.await("running", func(st Status) bool { return st.PID != 0 }).PID
	if out, _ := runTool(t, "svstat", svc); out != fmt.Sprintf("%s: up (pid %d) 0 seconds\n", svc, pid) && normalize(out, svc) != "DIR: up (pid N) S seconds\n" {
		t.Errorf("svstat = %q", out)
	}
	awaitLogged(t, svc, pid, "ready")
	runTool(t, "svc", "-h", svc)
	awaitLogged(t, svc, pid, "SIGHUP")
	runTool(t, "svc", "-d", svc)
	s.await("down", func(st Status) bool { return st.State == StateDown })
	if out, _ := runTool(t, "svstat", svc); normalize(out, svc) != "DIR: down S seconds, normally up\n" {
		t.Errorf("svstat after svc -d = %q", out)
	}
	runTool(t, "svc", "-u", svc)
	s.await("up", func(st Status) bool { return st.State == StateRun })
	if out, _ := runTool(t, "svstat", svc); normalize(out, svc) != "DIR: up (pid N) S seconds\n" {
		t.Errorf("svstat after svc -u = %q", out)
	}
	s.close() // its loop first, then the directory: nothing writes to a closed Dir
	if out, _ := runTool(t, "svstat", svc); out != svc+": supervise not running\n" {
		t.Errorf("svstat after Close = %q", out)
	}
}
