package main

import (
	"errors"
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

	"github.com/tendproject/tend/internal/svdir"
)

// A Void/Debian-style tree of service directories under tend, driven by
// runit's real sv (and daemontools' svstat), with every effect checked
// from outside: pids in /proc, the file svlogd writes, what ./finish
// wrote, sv's output and exit codes.

func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (Debian packages runit, daemontools)", n)
		}
	}
}

// writeTree writes files (path → content; executable when the content
// starts with "#!") below root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(text, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// runTool runs a tool and returns its combined output and exit code.
func runTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), 0
}

// mustSv runs sv and requires exit code want and output matching re.
func mustSv(t *testing.T, want int, re string, args ...string) string {
	t.Helper()
	out, code := runTool(t, "sv", args...)
	if code != want || !regexp.MustCompile(re).MatchString(out) {
		t.Fatalf("sv %s: exit %d, %q; want exit %d and output matching %q", strings.Join(args, " "), code, out, want, re)
	}
	return out
}

var svPID = regexp.MustCompile(`^run: [^:]+: \(pid ([0-9]+)\)`)

// svRunPID is the pid sv status reports for a running service.
func svRunPID(t *testing.T, dir string) int {
	t.Helper()
	out := mustSv(t, 0, `^run: `, "status", dir)
	pid, _ := strconv.Atoi(svPID.FindStringSubmatch(out)[1])
	if !alive(pid) {
		t.Fatalf("sv status %s: pid %d is not in /proc", dir, pid)
	}
	return pid
}

// awaitNewRun waits until supervise/status says a live ./run other than
// old runs. The status file, which sv status reads, is written last,
// after pid and stat: a wait on pid could see the pause before a
// restart ("down, want up") in between.
func awaitNewRun(t testing.TB, dir string, old int) {
	t.Helper()
	awaitFile(t, filepath.Join(dir, "supervise", "status"), "names a new run", func(s string) bool {
		st, err := svdir.DecodeStatus([]byte(s))
		return err == nil && st.State == svdir.StateRun && st.PID != old && alive(st.PID)
	})
}

// awaitFile waits until the file at path satisfies ok, woken by inotify
// on its directory; the deadline only bounds a failing test.
func awaitFile(t testing.TB, path, what string, ok func(string) bool) string {
	t.Helper()
	return awaitFileFor(t, path, what, 20*time.Second, ok)
}

// awaitFileFor is awaitFile with another bound than 20 s.
func awaitFileFor(t testing.TB, path, what string, limit time.Duration, ok func(string) bool) string {
	t.Helper()
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, filepath.Dir(path), unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_CLOSE_NOWRITE|unix.IN_ATTRIB); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(limit)
	buf := make([]byte, 4096)
	for {
		b, _ := os.ReadFile(path)
		if ok(string(b)) {
			return string(b)
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: never %s; it holds %q", path, what, b)
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, int(left/time.Millisecond)+1); n > 0 {
			_, _ = unix.Read(ino, buf)
		}
	}
}

// awaitExit waits for pid to end, through its pidfd.
func awaitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 20000); n != 1 {
		t.Fatalf("pid %d still running after 20s", pid)
	}
}

func contains(s string) func(string) bool {
	return func(b string) bool { return strings.Contains(b, s) }
}

func TestServiceDirectoriesWithSv(t *testing.T) {
	needTools(t, "sv", "svlogd", "svstat")
	root := t.TempDir()
	scan, logs, units := filepath.Join(root, "service"), filepath.Join(root, "var-log-web"), filepath.Join(root, "units")
	for _, d := range []string{scan, logs, units} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, scan, map[string]string{
		// web: Void style, env/ for its settings, a HUP handler whose
		// output goes through log/run to svlogd, a finish that records its
		// arguments, a check that looks at what run made.
		"web/run": "#!/bin/sh\nexec 2>&1\nrm -f ready\ntrap 'echo got-hup' HUP\necho \"web starting greeting=$GREETING unset=${UNSET-none}\"\n" +
			"touch ready\nwhile :; do sleep 60 & wait $!; done\n",
		"web/finish":       "#!/bin/sh\necho \"finish $1 $2\" >> " + root + "/finish.out\n",
		"web/check":        "#!/bin/sh\nexec test -e ready\n",
		"web/env/GREETING": "hello\n",
		"web/env/UNSET":    "",
		"web/log/run":      "#!/bin/sh\nexec svlogd -tt " + logs + "\n",
		// off: normally down (Debian's way to install disabled).
		"off/run":  "#!/bin/sh\nexec sleep 1000\n",
		"off/down": "",
		// needy: names its dependency the runit way, sv check in run.
		"needy/run": "#!/bin/sh\nsv -w 5 check " + scan + "/web >/dev/null || exit 1\necho up > " + root + "/needy.out\nexec sleep 1000\n",
		// never: a check that never passes.
		"never/run":   "#!/bin/sh\nexec sleep 1000\n",
		"never/check": "#!/bin/sh\nexit 1\n",
		// broken: run not executable (made so below).
		"broken/run": "#!/bin/sh\nexec sleep 1000\n",
	})
	if err := os.Chmod(filepath.Join(scan, "broken", "run"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A unit file ordered after a service directory.
	writeTree(t, units, map[string]string{
		"after-web.service": "[Unit]\nRequires=web.svdir\nAfter=web.svdir\n[Service]\nExecStart=/bin/sh -c 'cat " + scan + "/web/supervise/stat > " + root + "/after.out; exec sleep 1000'\n[Install]\nWantedBy=multi-user.target\n",
	})
	if err := os.MkdirAll(filepath.Join(units, "multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../after-web.service", filepath.Join(units, "multi-user.target.wants", "after-web.service")); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, units, "--svdir", scan)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(root, "finish.out"))
			t.Logf("finish.out:\n%s\ntend:\n%s", b, in.stderr)
		}
	})
	web, off := filepath.Join(scan, "web"), filepath.Join(scan, "off")

	t.Run("status", func(t *testing.T) {
		mustSv(t, 0, `^ok: run: `+regexp.QuoteMeta(web)+`: \(pid [0-9]+\) [0-9]+s\n$`, "-w", "5", "check", web)
		mustSv(t, 0, `^run: `+regexp.QuoteMeta(web)+`: \(pid [0-9]+\) [0-9]+s; run: log: \(pid [0-9]+\) [0-9]+s\n$`, "status", web)
		svRunPID(t, web)
		mustSv(t, 0, `^down: `+regexp.QuoteMeta(off)+`: [0-9]+s\n$`, "status", off)
		awaitFile(t, filepath.Join(logs, "current"), "has the greeting from env/", contains("web starting greeting=hello unset=none"))
		if out := in.mustCtl("status", "web.svdir"); !strings.Contains(out, "active (run)") {
			t.Errorf("tend status web.svdir:\n%s", out)
		}
		checkCountedTasks(t, in, svRunPID(t, web))
		awaitFile(t, filepath.Join(root, "needy.out"), "written by needy after sv check web", contains("up"))
		if b, err := os.ReadFile(filepath.Join(root, "after.out")); err != nil || string(b) != "run\n" {
			t.Errorf("after-web.service (After=web.svdir) saw %q, %v", b, err)
		}
	})
	t.Run("hup", func(t *testing.T) {
		pid := svRunPID(t, web)
		mustSv(t, 0, `^$`, "hup", web)
		awaitFile(t, filepath.Join(logs, "current"), "has the HUP", contains("got-hup"))
		if got := svRunPID(t, web); got != pid {
			t.Errorf("pid after hup %d; want %d (not restarted)", got, pid)
		}
	})
	t.Run("down and up", func(t *testing.T) {
		pid := svRunPID(t, web)
		mustSv(t, 0, `^ok: down: `+regexp.QuoteMeta(web)+`: [0-9]+s, normally up\n$`, "-w", "5", "down", web)
		if alive(pid) {
			t.Errorf("pid %d still alive after sv down", pid)
		}
		awaitFile(t, filepath.Join(root, "finish.out"), "records run's end by TERM", contains("finish -1 15\n"))
		if out := in.mustCtl("show", "-p", "ActiveState", "--value", "web.svdir"); out != "inactive\n" {
			t.Errorf("ActiveState after sv down: %q", out)
		}
		mustSv(t, 0, `^ok: run: `, "-w", "5", "up", web)
		if got := svRunPID(t, web); got == pid {
			t.Errorf("sv up: same pid %d", got)
		}
	})
	t.Run("term restarts", func(t *testing.T) {
		pid := svRunPID(t, web)
		mustSv(t, 0, `^$`, "term", web)
		// Wait for supervise/ to name the run after the TERM: sv -w check
		// passes at once on a service that is down (runit's check only
		// looks at a running one), and the restart waits a second when
		// the old run lasted less than one.
		awaitFile(t, filepath.Join(web, "supervise", "status"), "says run for the run after the TERM", func(s string) bool {
			// status is written last and whole (pid and stat come first
			// and may already name ./finish).
			st, err := svdir.DecodeStatus([]byte(s))
			return err == nil && st.State == svdir.StateRun && st.PID > 0 && st.PID != pid
		})
		// sv -w up, not check: the log line may come before supervise/
		// says run, and sv check is content with "down, want up".
		mustSv(t, 0, `^ok: run: `, "-w", "5", "up", web)
		if got := svRunPID(t, web); got == pid || alive(pid) {
			t.Errorf("after sv term: pid %d (old %d alive=%v)", got, pid, alive(pid))
		}
	})
	t.Run("once", func(t *testing.T) {
		mustSv(t, 0, `^ok: run: `+regexp.QuoteMeta(off)+`: \(pid [0-9]+\) [0-9]+s, normally down, want down\n$`, "-w", "5", "once", off)
		pid := svRunPID(t, off)
		syscall.Kill(pid, syscall.SIGKILL)
		mustSv(t, 0, `^ok: down: `, "-w", "5", "down", off) // already wanted down: waits for the end
		if out, _ := runTool(t, "sv", "status", off); !strings.HasPrefix(out, "down: ") {
			t.Errorf("once: restarted after its end: %q", out)
		}
	})
	t.Run("start and restart", func(t *testing.T) {
		mustSv(t, 0, `^ok: run: `+regexp.QuoteMeta(off), "-w", "5", "start", off)
		pid := svRunPID(t, off)
		mustSv(t, 0, `^ok: run: `, "-w", "5", "restart", off)
		awaitExit(t, pid)
		awaitNewRun(t, off, pid)
		pid = svRunPID(t, off)
		in.mustCtl("stop", "off.svdir")
		mustSv(t, 0, `^down: `+regexp.QuoteMeta(off)+`: [0-9]+s\n$`, "status", off)
		awaitExit(t, pid)
		in.mustCtl("start", "off.svdir")
		awaitNewRun(t, off, pid)
		svRunPID(t, off)
	})
	t.Run("check fails", func(t *testing.T) {
		never := filepath.Join(scan, "never")
		mustSv(t, 1, `^timeout: run: `, "-w", "1", "check", never)
	})
	t.Run("svstat", func(t *testing.T) {
		pid := svRunPID(t, web)
		out, code := runTool(t, "svstat", web)
		if want := fmt.Sprintf("%s: up (pid %d) ", web, pid); code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("svstat: %q exit %d; want %q…", out, code, want)
		}
	})
	t.Run("bad run", func(t *testing.T) {
		// runsv's rule: tried again every second, the reason in status.
		out, _ := in.ctl("status", "broken.svdir")
		if !strings.Contains(out, "activating (restart-pause)") || !strings.Contains(out, "permission denied") {
			t.Errorf("status of a directory whose run is not executable:\n%s", out)
		}
		broken := filepath.Join(scan, "broken")
		if err := os.Chmod(filepath.Join(broken, "run"), 0o755); err != nil {
			t.Fatal(err)
		}
		// status is the last of pid, stat and status to be renamed into
		// place (as runsv does it), and the one sv reads.
		awaitFile(t, filepath.Join(broken, "supervise", "status"), "run once run is executable", func(s string) bool {
			st, err := svdir.DecodeStatus([]byte(s))
			return err == nil && st.State == svdir.StateRun
		})
		svRunPID(t, broken)
		if out := in.mustCtl("status", "broken.svdir"); !strings.Contains(out, "active (run)") || !strings.Contains(out, `Status: "run"`) {
			t.Errorf("status once run is executable:\n%s", out)
		}
	})
	t.Run("tend sv", func(t *testing.T) {
		// tend's own sv, as a verb and called as sv, answers as runit's.
		link := filepath.Join(t.TempDir(), "sv")
		if err := os.Symlink(tendBin, link); err != nil {
			t.Fatal(err)
		}
		secs := regexp.MustCompile(`[0-9]+s\b`)
		for _, args := range [][]string{{"status", web}, {"status", off}, {"-w", "5", "check", web}, {"status", filepath.Join(root, "nowhere")}, {"bogus", web},
			{"stat", web}, {"-vw5", "check", web}, {"e", filepath.Join(root, "nowhere")}, {"-w"}, {"reboot", web}, {"-x", "status", web}, {"-w", "abc", "status", filepath.Join(root, "nowhere")}} {
			ref, refCode := runTool(t, "sv", args...)
			for _, ours := range [][]string{append([]string{tendBin, "sv"}, args...), append([]string{link}, args...)} {
				out, code := runTool(t, ours[0], ours[1:]...)
				if secs.ReplaceAllString(out, "Ns") != secs.ReplaceAllString(ref, "Ns") || code != refCode {
					t.Errorf("%v: %q exit %d; runit's sv: %q exit %d", ours, out, code, ref, refCode)
				}
			}
		}
		out, code := runTool(t, link, "-w", "5", "down", off)
		if code != 0 || !strings.HasPrefix(out, "ok: down: "+off+": ") {
			t.Errorf("sv -w 5 down through tend: %q exit %d", out, code)
		}
		mustSv(t, 0, `^down: `, "status", off)
		if out, code := runTool(t, link, "-w", "5", "up", off); code != 0 || !strings.HasPrefix(out, "ok: run: "+off+": ") {
			t.Errorf("sv -w 5 up through tend: %q exit %d", out, code)
		}
		svRunPID(t, off)
	})
	t.Run("not supervised", func(t *testing.T) {
		mustSv(t, 1, `^fail: `+regexp.QuoteMeta(root)+`/nowhere: unable to change to service directory`, "status", filepath.Join(root, "nowhere"))
	})
	t.Run("removed", func(t *testing.T) {
		pid, logPid := svRunPID(t, web), 0
		if out := in.mustCtl("show", "-p", "MainPID", "--value", "web:log.svdir"); out != "" {
			logPid, _ = strconv.Atoi(strings.TrimSpace(out))
		}
		gone := filepath.Join(root, "web-gone")
		if err := os.Rename(web, gone); err != nil {
			t.Fatal(err)
		}
		awaitExit(t, pid)
		awaitExit(t, logPid)
		awaitFile(t, filepath.Join(gone, "supervise", "stat"), "let go of by tend (ok closed)", func(string) bool {
			out, code := runTool(t, "sv", "status", gone)
			return code == 1 && out == "fail: "+gone+": runsv not running\n"
		})
		if alive(pid) || logPid == 0 || alive(logPid) {
			t.Errorf("after removal: run %d alive %v, log %d alive %v", pid, alive(pid), logPid, logPid != 0 && alive(logPid))
		}
		if out, _ := in.ctl("status", "web.svdir"); !strings.Contains(out, "could not be found") && !strings.Contains(out, "not found") {
			t.Errorf("status after removal:\n%s", out)
		}
	})
}

// checkCountedTasks: a service directory's processes are in no v1 pids
// group of tend's (it has no TasksMax=; that group would only count, one
// more mkdir and process move per start), and status still counts its
// tasks: run's shell and its sleep.
func checkCountedTasks(t *testing.T, in *instance, pid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "pids" && strings.Contains(f[2], "web.svdir") {
			t.Errorf("web's ./run is in a v1 pids group: %s", line)
		}
	}
	if out := in.mustCtl("status", "web.svdir"); !regexp.MustCompile(`Tasks: [1-9]`).MatchString(out) {
		t.Errorf("tend status web.svdir counts no tasks:\n%s", out)
	}
}
