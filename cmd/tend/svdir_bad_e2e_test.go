package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Bad input to service directories under tend: each directory gets a
// clear error or state, and the others go on.

// newScan makes a scan directory with the given service directories
// (writeTree's files) below a fresh root and returns both.
func newScan(t *testing.T, files map[string]string) (root, scan string) {
	t.Helper()
	root = t.TempDir()
	scan = filepath.Join(root, "service")
	if err := os.MkdirAll(filepath.Join(root, "units"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, scan, files)
	return root, scan
}

// svUp waits until the service in dir (wanted up) runs and returns its
// pid: tend may be ready, or a run may have written its file, before
// supervise/status says run. sv -w up, as sv check is content with a
// service that is down but wanted up.
func svUp(t *testing.T, dir string) int {
	t.Helper()
	mustSv(t, 0, `^ok: run: `, "-w", "10", "up", dir)
	return svRunPID(t, dir)
}

// TestSvdirHeldByRunsv: a directory whose supervise/ a real runsv holds
// is refused with the holder named, the runsv and its service are left
// alone, and the other directories run.
func TestSvdirHeldByRunsv(t *testing.T) {
	needTools(t, "sv", "runsv")
	root, scan := newScan(t, map[string]string{
		"held/run": "#!/bin/sh\nexec sleep 1000\n",
		"free/run": "#!/bin/sh\nexec sleep 1000\n",
	})
	held := filepath.Join(scan, "held")
	runsv := exec.Command("runsv", held)
	runsv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := runsv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// runsv takes TERM as sv exit: its service, then itself.
		_ = runsv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { runsv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = runsv.Process.Kill()
			t.Errorf("runsv %d did not exit on TERM", runsv.Process.Pid)
		}
	})
	awaitFile(t, filepath.Join(held, "supervise"), "made by runsv", func(string) bool {
		_, err := os.Stat(filepath.Join(held, "supervise"))
		return err == nil
	})
	awaitFile(t, filepath.Join(held, "supervise", "stat"), "written by runsv", contains("run"))
	theirs := svRunPID(t, held)

	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	svUp(t, filepath.Join(scan, "free"))
	out, _ := in.ctl("status", "held.svdir")
	want := fmt.Sprintf("unable to lock supervise/lock: held by pid %d (runsv)", runsv.Process.Pid)
	if !strings.Contains(out, "failed") || !strings.Contains(out, want) {
		t.Errorf("tend status held.svdir:\n%s\nwant failed and %q", out, want)
	}
	if got := svRunPID(t, held); got != theirs {
		t.Errorf("runsv's service: pid %d, was %d", got, theirs)
	}
	if logs := in.mustCtl("logs", "-u", "held.svdir", "-n", "20"); !strings.Contains(logs, want) {
		t.Errorf("journal of held.svdir lacks %q:\n%s", want, logs)
	}
	_ = runsv.Process.Signal(syscall.SIGTERM)
	awaitExit(t, theirs)
}

// TestSvdirLoggerExitsAtOnce: a log/run that exits at once is restarted
// a second later, again and again, while the pipe stays: the main
// service is not killed by SIGPIPE, waits while the pipe is full, and
// every line reaches the logger, in order, once it stays up.
func TestSvdirLoggerExitsAtOnce(t *testing.T) {
	needTools(t, "sv")
	const lines = 20000 // about 200 KB, more than a pipe holds
	root, scan := newScan(t, map[string]string{
		"talk/run": "#!/bin/sh\ni=0\nwhile [ $i -lt " + strconv.Itoa(lines) + " ]; do echo \"line $i\"; i=$((i+1)); done\n" +
			"touch ../../wrote\nexec sleep 1000\n",
		"talk/log/run": "#!/bin/sh\necho start >> starts\n[ -e stay ] || exit 0\nexec cat > out\n",
	})
	talk := filepath.Join(scan, "talk")
	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	awaitFile(t, filepath.Join(talk, "log", "starts"), "restarted twice", func(s string) bool { return strings.Count(s, "start") >= 3 })
	pid := svUp(t, talk)
	if _, err := os.Stat(filepath.Join(root, "wrote")); err == nil {
		t.Fatalf("the service wrote %d lines with no logger reading", lines)
	}
	if out, _ := in.ctl("status", "talk:log.svdir"); !strings.Contains(out, "restart-pause") && !strings.Contains(out, "active (run)") {
		t.Errorf("status of the logger that exits at once:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(talk, "log", "stay"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	awaitFile(t, filepath.Join(root, "wrote"), "written once the logger stays up", func(string) bool {
		_, err := os.Stat(filepath.Join(root, "wrote"))
		return err == nil
	})
	want := fmt.Sprintf("line %d\n", lines-1)
	got := awaitFile(t, filepath.Join(talk, "log", "out"), "has every line", func(s string) bool { return strings.HasSuffix(s, want) })
	sc := bufio.NewScanner(strings.NewReader(got))
	for i := 0; sc.Scan(); i++ {
		if sc.Text() != fmt.Sprintf("line %d", i) {
			t.Fatalf("logger's line %d: %q; want %q (lost or reordered)", i, sc.Text(), fmt.Sprintf("line %d", i))
		}
	}
	if got := svUp(t, talk); got != pid {
		t.Errorf("service restarted meanwhile: pid %d, was %d", got, pid)
	}
}

// TestSvdirManyEntries: 2000 directories moved into a watched scan
// directory at once are all taken over and run; the time from the
// first move to the last one running is logged (a figure, not a bound:
// see bench/README.md for bring-up against the peers).
func TestSvdirManyEntries(t *testing.T) {
	needTools(t, "sv")
	if testing.Short() {
		t.Skip("2000 services")
	}
	const n = 2000
	root := t.TempDir()
	scan, staging := filepath.Join(root, "service"), filepath.Join(root, "staging")
	fifo := filepath.Join(root, "up")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("s%04d", i)
		files[name+"/run"] = "#!/bin/sh\necho " + name + " > " + fifo + "\nexec sleep 1000\n"
	}
	writeTree(t, staging, files)
	for _, d := range []string{scan, filepath.Join(root, "units")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Read and write: no end-of-file between writers, no blocked open.
	up, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	seen := make(chan string, n)
	go func() {
		sc := bufio.NewScanner(up)
		for sc.Scan() {
			seen <- sc.Text()
		}
	}()
	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	t0 := time.Now()
	for name := range files {
		dir := filepath.Dir(name)
		if err := os.Rename(filepath.Join(staging, dir), filepath.Join(scan, dir)); err != nil {
			t.Fatal(err)
		}
	}
	moved := time.Since(t0)
	got := map[string]bool{}
	deadline := time.After(5 * time.Minute)
	for len(got) < n {
		select {
		case s := <-seen:
			got[s] = true
		case <-deadline:
			t.Fatalf("%d of %d services running after 5 min", len(got), n)
		}
	}
	all := time.Since(t0)
	t.Logf("%d service directories: moved in within %v, all running %v after the first move", n, moved.Round(time.Millisecond), all.Round(time.Millisecond))
	for _, i := range []int{0, n / 2, n - 1} {
		svUp(t, filepath.Join(scan, fmt.Sprintf("s%04d", i)))
	}
	out := in.mustCtl("list-units", "--all", "--no-legend", "--type", "svdir")
	if c := strings.Count(out, ".svdir"); c != n {
		t.Errorf("list-units shows %d .svdir units; want %d", c, n)
	}
}

// TestSvdirControlGarbageAndOtherUsers: bytes that are no command are
// ignored without disturbing the commands around them; another user can
// neither write the control FIFO nor drive the service with sv.
func TestSvdirControlGarbageAndOtherUsers(t *testing.T) {
	needTools(t, "sv")
	root, scan := newScan(t, map[string]string{
		"g/run": "#!/bin/sh\ntrap 'echo hup >> hup.out' HUP\nwhile :; do sleep 60 & wait $!; done\n",
	})
	g := filepath.Join(scan, "g")
	startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	pid := svUp(t, g)
	control := filepath.Join(g, "supervise", "control")
	f, err := os.OpenFile(control, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("\x00zz\n!~\xffh")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	awaitFile(t, filepath.Join(g, "hup.out"), "written on the h after the garbage", contains("hup"))
	if got := svUp(t, g); got != pid {
		t.Errorf("after garbage: pid %d; want %d", got, pid)
	}

	nobody := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := nobody("/bin/sh", "-c", "printf d > "+control); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("nobody writing control: %v %q; want permission denied", err, out)
	}
	out, err := nobody("sv", "down", g)
	if err == nil || !regexp.MustCompile(`^(fail|warning): `).MatchString(out) {
		t.Errorf("sv down as nobody: %v %q; want a failure", err, out)
	}
	mustSv(t, 0, `^ok: down: `, "-w", "5", "down", g) // root's command is heard after the refused ones
	if alive(pid) {
		t.Errorf("pid %d alive after sv down", pid)
	}
	for _, p := range []string{control, filepath.Join(g, "supervise", "ok")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v; want mode 0600", p, fi.Mode(), err)
		}
	}
}

// TestSvdirRemovedWhileRunning: a directory deleted (rm -rf) while its
// service and logger run is stopped and dropped (a directory made again
// under its name is a new service); the others go on.
func TestSvdirRemovedWhileRunning(t *testing.T) {
	needTools(t, "sv")
	root, scan := newScan(t, map[string]string{
		"doomed/run":     "#!/bin/sh\nexec sleep 1000\n",
		"doomed/finish":  "#!/bin/sh\nexit 0\n",
		"doomed/log/run": "#!/bin/sh\nexec cat\n",
		"stays/run":      "#!/bin/sh\nexec sleep 1000\n",
	})
	doomed, stays := filepath.Join(scan, "doomed"), filepath.Join(scan, "stays")
	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tend:\n%s", in.stderr)
		}
	})
	pid, other := svUp(t, doomed), svUp(t, stays)
	logPID := in.mainPID("doomed:log.svdir")
	if err := os.RemoveAll(doomed); err != nil {
		t.Fatal(err)
	}
	awaitExit(t, pid)
	awaitExit(t, logPID)
	// A directory made again under the name is taken over once the old
	// one is let go of and its units dropped.
	writeTree(t, scan, map[string]string{"doomed/run": "#!/bin/sh\necho again > ../../again\nexec sleep 1000\n"})
	awaitFile(t, filepath.Join(root, "again"), "written by the new directory's run", contains("again"))
	if got := svUp(t, doomed); got == pid {
		t.Errorf("new directory: pid %d is the old one", got)
	}
	if out, _ := in.ctl("status", "doomed:log.svdir"); !strings.Contains(out, "not") {
		t.Errorf("the removed log/ is still a unit:\n%s", out)
	}
	if got := svUp(t, stays); got != other {
		t.Errorf("the other service: pid %d, was %d", got, other)
	}
}

// TestSvdirShutdownDrainsLog: at tend's shutdown a service directory
// stops as under runsv: the service first, then its logger, which reads
// everything the service wrote, to the end, before it exits.
func TestSvdirShutdownDrainsLog(t *testing.T) {
	root, scan := newScan(t, map[string]string{
		"talk/run": "#!/bin/sh\ntrap 'i=0; while [ $i -lt 100 ]; do echo \"bye $i\"; i=$((i+1)); done; exit 0' TERM\n" +
			"echo hello\nwhile :; do sleep 60 & wait $!; done\n",
		// A slow logger: 20 ms per line at the end, 2 s for all of them.
		"talk/log/run": "#!/bin/sh\nwhile IFS= read -r l; do echo \"$l\" >> ../../../out\n" +
			"case $l in bye*) sleep 0.02;; esac; done\n",
	})
	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	out := filepath.Join(root, "out")
	awaitFile(t, out, "has the first line", contains("hello"))
	in.stop()
	b, _ := os.ReadFile(out)
	for i := range 100 {
		if !strings.Contains(string(b), fmt.Sprintf("bye %d\n", i)) {
			t.Fatalf("line %q lost at shutdown; the logger got:\n%s\ntend:\n%s", fmt.Sprintf("bye %d", i), b, in.stderr)
		}
	}
}

// TestSvdirExitTakesOverAgain: sv exit ends the service and its
// supervision, and the directory is taken over again at once, as
// runsvdir starts a new runsv for it: the service runs with a new pid.
func TestSvdirExitTakesOverAgain(t *testing.T) {
	needTools(t, "sv")
	root, scan := newScan(t, map[string]string{
		"x/run":     "#!/bin/sh\nexec sleep 1000\n",
		"x/log/run": "#!/bin/sh\nexec cat\n",
	})
	x := filepath.Join(scan, "x")
	in := startTend(t, filepath.Join(root, "units"), "--svdir", scan)
	pid := svUp(t, x)
	logPID := in.mainPID("x:log.svdir")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tend:\n%s", in.stderr)
		}
	})
	mustSv(t, 0, `^$`, "exit", x)
	awaitExit(t, pid)
	awaitExit(t, logPID)
	awaitNewRun(t, x, pid)
	svUp(t, x)
	if got := in.mainPID("x:log.svdir"); got == logPID || !alive(got) {
		t.Errorf("logger after sv exit: pid %d (was %d)", got, logPID)
	}
}
