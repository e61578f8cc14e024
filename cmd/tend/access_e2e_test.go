package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
	"github.com/tendproject/tend/internal/client"
)

// floodEnv makes the test binary, re-executed, flood the control socket it
// names (apitest.FloodMain); see TestMain.
const floodEnv = "TEND_E2E_FLOOD_SOCKET"

const nobody = 65534

// reachable lets other users reach the instance's socket: the test's
// temporary directories are 0700.
func (in *instance) reachable() {
	in.t.Helper()
	work := filepath.Dir(filepath.Dir(in.socket))
	for _, d := range []string{work, filepath.Dir(work)} {
		if err := os.Chmod(d, 0o755); err != nil {
			in.t.Fatal(err)
		}
	}
}

// ctlAs runs a tend client command against the instance as uid and gid
// with the given supplementary groups.
func (in *instance) ctlAs(uid, gid uint32, groups []uint32, args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(tendBin, append(args, "--socket", in.socket)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		in.t.Fatalf("tend %v as uid %d: %v", args, uid, err)
	}
	return string(out), 0
}

// waitLog waits, following the journal as root, for an entry of unit
// containing substr.
func (in *instance) waitLog(unit, substr string) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	found := errors.New("found")
	err := client.New(in.socket).LogsFunc(ctx, api.LogQuery{Units: []string{unit}, Follow: true}, func(e api.LogEntry) error {
		if strings.Contains(e.Message, substr) {
			return found
		}
		return nil
	})
	if !errors.Is(err, found) {
		in.t.Fatalf("no entry of %s with %q: %v\n%s", unit, substr, err, in.stderr)
	}
}

// startFlood copies the test binary where nobody may run it and starts it
// as nobody flooding the instance's socket; it returns once the helper
// holds its connections, with their number. The helper ends (and lets go)
// when the returned function is called, or with the test.
func (in *instance) startFlood() (int, func()) {
	t := in.t
	t.Helper()
	bin := filepath.Join(filepath.Dir(tendBin), "e2e.test")
	if _, err := os.Stat(bin); err != nil {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", self, bin).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	return apitest.StartFlooder(t, bin, floodEnv, in.socket)
}

func rssMiB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// TestControlFlood: nobody holds as many connections to the control socket
// as its descriptor limit allows. Meanwhile root's status is answered
// within 100 ms, a log follow started before keeps streaming, and a
// service restarts with fresh log pipes; afterwards tend gives back the
// memory.
func TestControlFlood(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "echoer.service"), []byte("[Service]\nExecStart=/bin/sh -c 'echo started; exec sleep 1000'\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=echoer.service\n"), 0o644)
	in := startTend(t, dir)
	in.reachable()
	pid := in.cmd.Process.Pid
	in.waitLog("echoer.service", "started")
	oldPID := in.mainPID("echoer")
	waitNew := in.follow("echoer")

	n, end := in.startFlood()
	if n < 1000 {
		t.Fatalf("nobody opened only %d connections; the test needs thousands", n)
	}
	t.Logf("nobody holds %d connections; tend's RSS %.1f MiB", n, rssMiB(pid))

	c := client.New(in.socket)
	defer c.Close()
	var took []time.Duration
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := c.Status(ctx, "echoer.service")
		took = append(took, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("root's status during the flood: %v\n%s", err, in.stderr)
		}
		c.Close() // a new connection each time, through the flood
	}
	t.Logf("root's status took %v", took)
	// The bound is 100 ms per request. On a 2-core machine shared
	// with other test packages one request can lose a scheduling slice;
	// a starved socket (the old code) misses the bound on every request
	// or times out, so the median tells the two apart. The worst is
	// logged above.
	slices.Sort(took)
	if med := took[len(took)/2]; med > 100*time.Millisecond {
		t.Errorf("root's status took %v (median) during the flood; want under 100ms", med)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.Restart(ctx, []string{"echoer.service"}, api.JobOptions{})
	if err != nil || len(res) != 1 || res[0].Result != "done" {
		t.Fatalf("restart during the flood: %v %+v\n%s", err, res, in.stderr)
	}
	if p := in.mainPID("echoer"); p == oldPID || !alive(p) {
		t.Fatalf("after the restart the main pid is %d (was %d)", p, oldPID)
	}
	// The new process's output reaches the journal (it got its pipes) and
	// the follow started before the flood.
	waitNew("started")

	end()
	// The server sees the flood's connections close, then returns the
	// heap; there is no event to wait for from outside.
	var rss float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rss = rssMiB(pid); rss < 100 {
			break
		}
	}
	t.Logf("tend's RSS after the flood %.1f MiB", rss)
	if rss >= 100 {
		t.Errorf("tend holds %.1f MiB after the flood; want under 100", rss)
	}
}

// testUser creates a group and a user in it for the test and removes both
// when it ends; it returns their ids.
func testUser(t *testing.T, name, group string) (uid, gid uint32) {
	t.Helper()
	for _, tool := range []string{"useradd", "groupadd", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	run("groupadd", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	run("useradd", "-M", "-N", "-g", "nogroup", "-G", group, "-s", "/usr/sbin/nologin", name)
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	id := func(flag string) uint32 {
		out, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatalf("id %s %s: %v", flag, name, err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return uint32(n)
	}
	out, err := exec.Command("getent", "group", group).Output()
	if err != nil {
		t.Fatal(err)
	}
	g, _ := strconv.Atoi(strings.Split(string(out), ":")[2])
	return id("-u"), uint32(g)
}

// TestLogAccess: nobody reads neither a root service's logs nor its
// Environment= values nor its unit file, but reads the logs of the unit
// that runs as nobody; a member of the --log-group reads every log; root
// reads everything.
func TestLogAccess(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create users")
	}
	suffix := strconv.Itoa(os.Getpid() % 100000)
	group := "tendlg" + suffix
	memberUID, groupGID := testUser(t, "tendlu"+suffix, group)

	dir := t.TempDir()
	files := map[string]string{
		"secret.service":  "[Service]\nEnvironment=DB_PASSWORD=hunter2 PORT=80\nExecStart=/bin/sh -c 'echo root-secret-line; exec sleep 1000'\n",
		"nobodys.service": "[Service]\nUser=nobody\nExecStart=/bin/sh -c 'echo nobody-line; exec sleep 1000'\n",
		"default.target":  "[Unit]\nWants=secret.service nobodys.service\n",
	}
	for n, text := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644)
	}
	in := startTend(t, dir, "--log-group", group)
	in.reachable()
	in.waitLog("secret.service", "root-secret-line")
	in.waitLog("nobodys.service", "nobody-line")

	type check struct {
		args     []string
		code     int // -1: any non-zero
		has, not []string
	}
	checks := func(who string, uid, gid uint32, groups []uint32, cs []check) {
		t.Helper()
		for _, c := range cs {
			out, code := in.ctlAs(uid, gid, groups, c.args...)
			if c.code >= 0 && code != c.code || c.code < 0 && code == 0 {
				t.Errorf("%s: tend %s: exit %d; want %d\n%s", who, strings.Join(c.args, " "), code, c.code, out)
			}
			for _, s := range c.has {
				if !strings.Contains(out, s) {
					t.Errorf("%s: tend %s: no %q in\n%s", who, strings.Join(c.args, " "), s, out)
				}
			}
			for _, s := range c.not {
				if strings.Contains(out, s) {
					t.Errorf("%s: tend %s: %q shown:\n%s", who, strings.Join(c.args, " "), s, out)
				}
			}
		}
	}
	checks("nobody", nobody, nobody, nil, []check{
		{[]string{"logs", "-u", "secret"}, -1, []string{"Access denied", group}, []string{"root-secret-line"}},
		{[]string{"logs"}, 0, []string{"nobody-line"}, []string{"root-secret-line"}},
		{[]string{"logs", "-u", "nobodys"}, 0, []string{"nobody-line"}, nil},
		{[]string{"show", "-p", "Environment", "secret"}, 0, []string{"Environment=DB_PASSWORD=[hidden] PORT=[hidden]"}, []string{"hunter2"}},
		{[]string{"cat", "secret"}, -1, []string{"Access denied"}, []string{"hunter2"}},
		{[]string{"status", "secret"}, 0, []string{"active (running)"}, []string{"root-secret-line"}},
	})
	checks("log group member", memberUID, 65534, []uint32{groupGID}, []check{
		{[]string{"logs", "-u", "secret"}, 0, []string{"root-secret-line"}, nil},
		{[]string{"logs"}, 0, []string{"root-secret-line", "nobody-line"}, nil},
		{[]string{"status", "secret"}, 0, []string{"root-secret-line"}, nil},
		{[]string{"show", "-p", "Environment", "secret"}, 0, []string{"DB_PASSWORD=[hidden]"}, []string{"hunter2"}},
		{[]string{"cat", "secret"}, -1, []string{"Access denied"}, []string{"hunter2"}},
	})
	checks("root", 0, 0, nil, []check{
		{[]string{"logs", "-u", "secret"}, 0, []string{"root-secret-line"}, nil},
		{[]string{"show", "-p", "Environment", "secret"}, 0, []string{"DB_PASSWORD=hunter2"}, nil},
		{[]string{"cat", "secret"}, 0, []string{"DB_PASSWORD=hunter2"}, nil},
	})
}

// TestLogGroupFlag: a group named on the command line must exist.
func TestLogGroupFlag(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run the system instance and need root")
	}
	work := t.TempDir()
	cmd := exec.Command(tendBin, "run", "--units", t.TempDir(), "--runtime-dir", filepath.Join(work, "run"),
		"--journal-dir", filepath.Join(work, "journal"), "--log-group", "no-such-group-tend")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--log-group: group no-such-group-tend: no such group") {
		t.Fatalf("tend run --log-group no-such-group-tend: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(work, "run", "tend.sock")); err == nil {
		t.Error("the refused start created a control socket")
	}
}
