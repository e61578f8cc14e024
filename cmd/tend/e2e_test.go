package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api/apitest"
	"github.com/tendproject/tend/internal/cgroup/cgrouptest"
	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/daemon"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/syslog"
)

// tendBin is the tend binary built once for all end-to-end tests.
var tendBin string

func TestMain(m *testing.M) {
	if sock := os.Getenv(floodEnv); sock != "" {
		os.Exit(apitest.FloodMain(sock))
	}
	dir, err := os.MkdirTemp("", "tend-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // other users run it too
	tendBin = filepath.Join(dir, "tend")
	// Built as README says, so that the binary under test is the static one
	// users copy into images.
	build := exec.Command("go", "build", "-o", tendBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	cgroups := cgrouptest.Snapshot()
	code := m.Run()
	os.RemoveAll(dir)
	if cgrouptest.SweepAndReport(cgroups, cgrouptest.NotInProcess) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// instance is one `tend run` started by a test.
type instance struct {
	t      testing.TB
	cmd    *exec.Cmd
	socket string
	syslog string
	stderr *bytes.Buffer
	exited chan error
	// ready gets tend's notifications (READY=1 again after a restart
	// in place).
	ready chan notify.Message
	// crashed: the test killed tend with SIGKILL (crash); at its end
	// what it left and no later tend took over is reclaimed.
	crashed bool
	base    string // its cgroup base
	work    string // its runtime (work/run) and journal directories' parent
}

// startTend runs `tend run --units dir` with its own runtime and journal
// directories, and returns once tend reported READY=1 on a notify socket.
func startTend(t testing.TB, dir string, extra ...string) *instance {
	t.Helper()
	return startTendOut(t, dir, nil, extra...)
}

// startTendOut is startTend with tend's stderr going to stderr (nil: a
// buffer the instance keeps).
func startTendOut(t testing.TB, dir string, stderr io.Writer, extra ...string) *instance {
	t.Helper()
	return launch(t, tendBin, dir, t.TempDir(), stderr, extra...)
}

// launch runs `bin run --units units` with its runtime and journal
// directories in work (a second launch in the same work takes over from
// the first), and returns once tend reported READY=1 on a notify socket.
func launch(t testing.TB, bin, units, work string, stderr io.Writer, extra ...string) *instance {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run the system instance and need root")
	}
	ns, err := notify.Listen(filepath.Join(t.TempDir(), "outer-notify"))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan notify.Message, 16)
	ctx, cancel := context.WithCancel(context.Background())
	go ns.Serve(ctx, func(m notify.Message) {
		select {
		case ready <- m:
		default: // nobody waits for it
		}
	})
	t.Cleanup(func() { cancel(); ns.Close() })

	in := &instance{t: t, socket: filepath.Join(work, "run", "tend.sock"), syslog: filepath.Join(work, "syslog"),
		stderr: &bytes.Buffer{}, exited: make(chan error, 1), ready: ready,
		base: daemon.CgroupBaseFor(filepath.Join(work, "run")), work: work}
	args := append([]string{"run", "--units", units, "--runtime-dir", filepath.Join(work, "run"),
		"--journal-dir", filepath.Join(work, "journal"), "--syslog-socket", in.syslog, "--shutdown-timeout", "20s"}, extra...)
	if !slices.Contains(extra, "--crontab") {
		args = append(args, "--crontab", "") // never the host's crontabs
	}
	in.cmd = exec.Command(bin, args...)
	in.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.Path)
	in.cmd.Stderr = in.stderr
	if stderr != nil {
		in.cmd.Stderr = stderr
	}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.exited <- in.cmd.Wait() }()
	t.Cleanup(func() {
		in.stop()
		in.reclaimCrashed()
	})
	select {
	case m := <-ready:
		if !m.Ready {
			t.Fatalf("first notification was not READY=1: %+v", m)
		}
	case err := <-in.exited:
		t.Fatalf("tend exited before it was ready: %v\n%s%s", err, in.stderr, lockHolders(filepath.Join(work, "run", "lock")))
	case <-time.After(30 * time.Second):
		t.Fatalf("tend not ready after 30s\n%s", in.stderr)
	}
	return in
}

// stop sends SIGTERM and waits for tend to exit.
func (in *instance) stop() {
	if in.cmd.ProcessState != nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(40 * time.Second):
		_ = in.cmd.Process.Kill()
		in.t.Errorf("tend did not exit within 40s of SIGTERM\n%s", in.stderr)
	}
}

// reclaim ends what a crashed instance left that no later one took over
// (its test failed before it started one, or forgot to): processes in
// its groups, the groups and bases in every cgroup hierarchy, and its fd
// holder. It returns the pids it killed. The suite's sweep would only
// report them, after every test.
func (in *instance) reclaim() ([]int, error) {
	killed, err := cgrouptest.Reclaim(in.base)
	// Its fd holder waits for the next tend, which does not come.
	if pid := holderPID(in.work); pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
		awaitGone(in.t, pid)
		killed = append(killed, pid)
	}
	return killed, err
}

// reclaimCrashed is reclaim at the end of a test that crashed the
// instance: what it has to kill, the test leaked.
func (in *instance) reclaimCrashed() {
	if !in.crashed {
		return
	}
	killed, err := in.reclaim()
	if len(killed) > 0 {
		in.t.Errorf("processes %v left by a crashed tend (cgroup base %s) at the end of the test: killed", killed, in.base)
	}
	if err != nil {
		in.t.Errorf("cgroups left by a crashed tend: %v", err)
	}
}

// ctlHang is how long a client command may take before the test calls
// tend hung: far beyond any stop timeout the tests set.
const ctlHang = 3 * time.Minute

// ctl runs a tend client command against the instance.
func (in *instance) ctl(args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(tendBin, append(args, "--socket", in.socket)...)
	// A command that hangs is a tend that hangs: its goroutines are
	// dumped (Go's SIGQUIT) and the test fails with them, rather than
	// the whole run timing out with tend and its services left behind.
	hung := time.AfterFunc(ctlHang, func() {
		_ = in.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-in.exited:
		case <-time.After(10 * time.Second):
		}
		_ = cmd.Process.Kill()
	})
	out, err := cmd.CombinedOutput()
	if !hung.Stop() {
		in.t.Fatalf("tend %s did not answer within %s; tend's goroutines:\n%s", strings.Join(args, " "), ctlHang, in.stderr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		in.t.Fatalf("tend %v: %v", args, err)
	}
	return string(out), 0
}

func (in *instance) mustCtl(args ...string) string {
	in.t.Helper()
	out, code := in.ctl(args...)
	if code != 0 {
		in.t.Fatalf("tend %s: exit %d\n%s\ndaemon:\n%s", strings.Join(args, " "), code, out, in.stderr)
	}
	return out
}

// view runs one of the /proc views, which need no daemon.
func view(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(tendBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tend %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (in *instance) mainPID(unit string) int {
	in.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(in.mustCtl("show", "-p", "MainPID", "--value", unit)))
	if err != nil {
		in.t.Fatalf("MainPID of %s: %v", unit, err)
	}
	return pid
}

// follow runs `tend logs -f` for unit from now on and returns a function
// that waits for a line containing substr. "Now" is the journal's last
// entry of the unit when follow returns, so that a line written after
// it is never missed however late the follower connects, and a line
// written before it is never matched.
func (in *instance) follow(unit string) func(substr string) {
	in.t.Helper()
	return in.followAfter(unit, in.cursor(unit))
}

// cursor is the cursor of unit's last journal entry ("" when it has
// none).
func (in *instance) cursor(unit string) string {
	in.t.Helper()
	out := in.mustCtl("logs", "-n", "1", "--show-cursor", "-o", "cat", "--no-pager", "-u", unit)
	for _, l := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(l, "-- cursor: "); ok {
			return c
		}
	}
	return ""
}

// followAfter is follow from the entry after cursor ("": from unit's
// first entry).
func (in *instance) followAfter(unit, cursor string) func(substr string) {
	in.t.Helper()
	args := []string{"-u", unit}
	if cursor != "" {
		args = append(args, "--after-cursor", cursor)
	}
	return in.followLogs(args...)
}

// followLogs runs `tend logs -f --no-tail ARGS` and returns a function
// that waits for a line containing substr.
func (in *instance) followLogs(args ...string) func(substr string) {
	in.t.Helper()
	cmd := exec.Command(tendBin, append([]string{"logs", "-f", "--no-tail", "--socket", in.socket}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return func(substr string) {
		in.t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					in.t.Fatalf("log follow ended before %q", substr)
				}
				if strings.Contains(l, substr) {
					return
				}
			case <-timeout:
				in.t.Fatalf("no log line with %q within 20s", substr)
			}
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// freePort returns a TCP port on 127.0.0.1 that nothing uses now, for a
// unit to bind later. It is taken below the kernel's ephemeral range
// (ip_local_port_range, 32768 and up by default): a port bind(0) handed
// out could meanwhile become the local port of any outgoing connection on
// the machine (other test packages run at the same time), and the unit's
// bind would then fail with "address already in use".
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if !portsHandedOut.take(port) {
			continue // another test of this run has it, bound or not yet
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		// UDP too: some tests use the port for a datagram socket.
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// handedOut remembers the ports freePort gave: parallel tests checking
// the same free port before either binds it would otherwise share it.
type handedOut struct {
	mu    sync.Mutex
	ports map[int]bool
}

var portsHandedOut = handedOut{ports: map[int]bool{}}

// take claims port for the caller; false if it was given before.
func (h *handedOut) take(port int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ports[port] {
		return false
	}
	h.ports[port] = true
	return true
}

// copyExamples copies examples/ and adds drop-ins so the test's copy uses
// its own port and runtime directory.
func copyExamples(t *testing.T, port int) string {
	dir := filepath.Join(t.TempDir(), "units")
	if out, err := exec.Command("cp", "-a", "../../examples", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	site := fmt.Sprintf("tend-e2e-%d", port)
	dropins := map[string]string{
		"demo-setup.service.d/e2e.conf":  "[Service]\nRuntimeDirectory=\nRuntimeDirectory=" + site + "\nRuntimeDirectoryPreserve=no\n",
		"demo-web.service.d/e2e.conf":    fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/python3 %%Y/bin/web.py --dir %%t/%s --port %d\n", site, port),
		"demo-worker.service.d/e2e.conf": fmt.Sprintf("[Service]\nEnvironment=URL=http://127.0.0.1:%d/ INTERVAL=0.2\n", port),
	}
	for name, text := range dropins {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExamples(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("the examples need /usr/bin/python3")
	}
	port := freePort(t)
	in := startTend(t, copyExamples(t, port))

	out := in.mustCtl("status", "demo-web")
	for _, want := range []string{"● demo-web.service - Demo web server", "Active: active (running)", "Main PID:", "Status: \"Serving"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("web server: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Hello from tend") {
		t.Fatalf("web server answered %q", body)
	}

	// The /proc views find the unit's processes by its short name and
	// resolve its stdout to the journal pipe tend reads.
	webPID := strconv.Itoa(in.mainPID("demo-web"))
	if out := view(t, "ps", "--unit", "demo-web", "-o", "pid,unit"); !strings.Contains(out, webPID) || !strings.Contains(out, "demo-web.service") {
		t.Errorf("ps --unit demo-web:\n%s", out)
	}
	if out := view(t, "fds", "demo-web"); !strings.Contains(out, "→ tend pid "+strconv.Itoa(in.cmd.Process.Pid)) {
		t.Errorf("fds demo-web does not show tend at the other end of stdout:\n%s", out)
	}
	t.Run("fds names tend's descriptors", func(t *testing.T) { checkSelfFDs(t, in, webPID) })

	// A crash is restarted (Restart=on-failure), with a new main pid.
	web := in.follow("demo-web")
	pid := in.mainPID("demo-web")
	syscall.Kill(pid, syscall.SIGKILL)
	web("Main process exited, code=killed, status=9/KILL")
	web("Started demo-web.service")
	if np := in.mainPID("demo-web"); np == pid || !alive(np) {
		t.Fatalf("after kill -9: main pid %d (was %d)", np, pid)
	}

	// BindsTo=: stopping the web server stops the worker.
	worker := in.mainPID("demo-worker")
	in.mustCtl("stop", "demo-web")
	if out, code := in.ctl("is-active", "demo-worker"); code != 3 || strings.TrimSpace(out) != "inactive" {
		t.Fatalf("is-active demo-worker after stopping its binding: %q exit %d", out, code)
	}
	if alive(worker) {
		t.Fatalf("worker %d still running", worker)
	}
	in.mustCtl("start", "demo.target")
	if out := in.mustCtl("is-active", "demo-web", "demo-worker"); out != "active\nactive\n" {
		t.Fatalf("after start demo.target: %q", out)
	}
	in.mustCtl("restart", "demo-worker")
	if logs := in.mustCtl("logs", "-u", "demo-worker", "-n", "50"); !strings.Contains(logs, "Started demo-worker.service") {
		t.Fatalf("journal lacks the worker's start:\n%s", logs)
	}

	// SIGTERM: everything stops, tend exits 0.
	pids := []int{in.mainPID("demo-web"), in.mainPID("demo-worker")}
	in.stop()
	if code := in.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("tend exited %d after SIGTERM\n%s", code, in.stderr)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d survived tend's shutdown", p)
		}
	}
	log := in.stderr.String()
	log = log[strings.Index(log, "shutting down"):]
	if w, s := strings.Index(log, "Stopped demo-worker"), strings.Index(log, "Stopped demo-web"); w < 0 || s < 0 || w > s {
		t.Errorf("worker must stop before the web server it is ordered after:\n%s", log)
	}
}

// checkSelfFDs asks the running daemon what its descriptors are for:
// `tend fds` shows the part of tend at the other end of the service's
// stdout and stderr, and the API names tend's sockets.
func checkSelfFDs(t *testing.T, in *instance, pid string) {
	tendPID := strconv.Itoa(in.cmd.Process.Pid)
	out := view(t, "fds", pid, "--socket", in.socket)
	for fd, stream := range map[string]string{"1": "stdout", "2": "stderr"} {
		want := "→ tend (journal: demo-web.service " + stream + ") pid " + tendPID + " fd "
		if line := fdLine(out, fd); !strings.Contains(line, want) {
			t.Errorf("fd %s of demo-web is %q; want it to contain %q\n%s", fd, line, want, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	self, err := client.New(in.socket).SelfFDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(self.PID) != tendPID {
		t.Errorf("self/fds pid %d; want %s", self.PID, tendPID)
	}
	roles := map[string][]int{}
	for fd, role := range self.FDs {
		roles[role] = append(roles[role], fd)
	}
	// Connections of earlier commands may be closing as we look, so one
	// live socket among the "api connection" entries is enough: ours.
	for _, want := range []string{"control socket " + in.socket, "syslog " + in.syslog, "notify socket " + filepath.Join(filepath.Dir(in.socket), "notify"), "api connection"} {
		fds, ok := roles[want]
		if !ok {
			t.Errorf("self/fds lacks %q: %v", want, self.FDs)
			continue
		}
		var links []string
		for _, fd := range fds {
			link, err := os.Readlink("/proc/" + tendPID + "/fd/" + strconv.Itoa(fd))
			if err == nil && strings.HasPrefix(link, "socket:") {
				links = nil
				break
			}
			links = append(links, fmt.Sprintf("fd %d: %q (%v)", fd, link, err))
		}
		if links != nil {
			t.Errorf("%s is no socket: %s", want, strings.Join(links, ", "))
		}
	}
}

// fdLine returns the row of `tend fds` output for descriptor fd.
func fdLine(out, fd string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == fd {
			return line
		}
	}
	return ""
}

func TestBadUnitsDoNotStopOthers(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"good.service":    "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n",
		"broken.service":  "[Service]\nExecStart=/bin/sleep 1000\nRestart=sometimes\nthis line is not an assignment\n",
		"nobin.service":   "[Service]\nType=exec\nExecStart=/no/such/program\n",
		"default.target":  "[Unit]\nWants=good.service broken.service nobin.service\n",
		"unclosed.target": "[Unit\nDescription=x\n",
	}
	for n, text := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644)
	}
	in := startTend(t, dir)
	if out, code := in.ctl("is-active", "good"); code != 0 {
		t.Fatalf("good.service: %q exit %d\n%s", out, code, in.stderr)
	}
	if !strings.Contains(in.stderr.String(), "broken.service:4:") {
		t.Errorf("no file:line diagnostic for broken.service:\n%s", in.stderr)
	}
	out, code := in.ctl("status", "nobin")
	if code != 3 || !strings.Contains(out, "failed") || !strings.Contains(out, "203/EXEC") {
		t.Errorf("status nobin: exit %d\n%s", code, out)
	}
	if out, code := in.ctl("start", "nosuch"); code == 0 || !strings.Contains(out, "not found") {
		t.Errorf("start nosuch: exit %d %q", code, out)
	}
	if out, code := in.ctl("start", "../etc/passwd"); code == 0 {
		t.Errorf("start ../etc/passwd: exit 0 %q", out)
	}
}

// TestSyslogCapture sends syslog messages from a unit with logger(1) and
// finds them in the journal under that unit.
func TestSyslogCapture(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger not installed")
	}
	dir := t.TempDir()
	unitText := "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=" + logger + " -u ${SYSLOG} -t myapp -p daemon.warning hello from syslog\n"
	os.WriteFile(filepath.Join(dir, "talker.service"), []byte(unitText), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\n"), 0o644)
	in := startTend(t, dir)
	dropin := filepath.Join(dir, "talker.service.d")
	os.MkdirAll(dropin, 0o755)
	os.WriteFile(filepath.Join(dropin, "sock.conf"), []byte("[Service]\nEnvironment=SYSLOG="+in.syslog+"\n"), 0o644)
	in.mustCtl("daemon-reload")
	in.mustCtl("start", "talker")
	out := in.mustCtl("logs", "-u", "talker", "-o", "json", "-p", "warning")
	if !strings.Contains(out, `"MESSAGE":"hello from syslog"`) || !strings.Contains(out, `"_SYSTEMD_UNIT":"talker.service"`) || !strings.Contains(out, `"SYSLOG_IDENTIFIER":"myapp"`) {
		t.Fatalf("syslog message not in the unit's journal:\n%s", out)
	}
}

// TestContainerInit runs tend as PID 1 of a new PID namespace, as in a
// container: orphans are reaped, and --exit-with ends tend with the
// unit's exit status.
func TestContainerInit(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	dir := t.TempDir()
	// The job leaves an orphan, checks after a while that no zombie is
	// left in the namespace, then exits 7.
	job := `[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo $$PPID > ` + dir + `/ppid; (sleep 0.1 &); sleep 0.6; if grep -qs "^State:.*Z" /proc/[0-9]*/status; then exit 9; fi; exit 7'
`
	os.WriteFile(filepath.Join(dir, "job.service"), []byte(job), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=job.service\n"), 0o644)
	work := t.TempDir()
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", tendBin, "run", "--units", dir,
		"--runtime-dir", filepath.Join(work, "run"), "--journal-dir", filepath.Join(work, "journal"), "--syslog-socket", "", "--exit-with", "job")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("tend as PID 1: %v\n%s", err, out)
	}
	if ee.ExitCode() != 7 {
		t.Fatalf("exit status %d; want 7 (9 means a zombie was left)\n%s", ee.ExitCode(), out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ppid")); strings.TrimSpace(string(b)) != "1" {
		t.Fatalf("the unit's parent was %q; want tend as PID 1", b)
	}
}

// TestUserInstance runs `tend run --user` as an unprivileged user (nobody)
// with units in its XDG config directory and a socket in its runtime
// directory, and controls it as that user.
func TestUserInstance(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to become another user")
	}
	h := newNobodyHome(t, map[string]string{
		"hello.service":  "[Service]\nExecStartPre=/bin/sh -c 'id -u > %h/uid'\nExecStart=/bin/sleep 1000\n",
		"default.target": "[Unit]\nWants=hello.service\n",
	}, "run")
	home, rundir := h.dir, filepath.Join(h.dir, "run")
	env := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + rundir, "PATH=/usr/bin:/bin"}
	asUser := func(args ...string) *exec.Cmd { return h.cmd(env, args...) }
	stderr := runUserDaemon(t, h.cmd(append(env, "NOTIFY_SOCKET="+h.notify), "run", "--user"), h.ready)
	if _, err := os.Stat(filepath.Join(rundir, "tend", "tend.sock")); err != nil {
		t.Fatalf("no per-user socket: %v\n%s", err, stderr)
	}
	out, err := asUser("is-active", "--user", "hello").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "active" {
		t.Fatalf("is-active --user hello: %v %q\n%s", err, out, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "uid")); strings.TrimSpace(string(b)) != "65534" {
		t.Fatalf("the service ran as uid %q; want 65534", b)
	}
	// Without cgroups of its own, the user instance names its processes'
	// units for the views.
	pidOut, err := asUser("show", "--user", "-p", "MainPID", "--value", "hello").CombinedOutput()
	if err != nil {
		t.Fatalf("show MainPID: %v %s", err, pidOut)
	}
	pid := strings.TrimSpace(string(pidOut))
	psOut, err := asUser("ps", "--user-instance", "-p", pid, "-o", "pid,unit").CombinedOutput()
	if err != nil || !strings.Contains(string(psOut), "hello.service") {
		t.Fatalf("ps --user-instance -p %s: %v\n%s", pid, err, psOut)
	}
	if out, err := asUser("stop", "--user", "hello").CombinedOutput(); err != nil {
		t.Fatalf("stop as the owning user: %v %s", err, out)
	}
}

// TestDaemonReload changes a running unit's file and adds a unit: reload
// keeps the running service untouched, names it as changed, and the new
// unit can be started.
func TestDaemonReload(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=a.service\n"), 0o644)
	in := startTend(t, dir)
	pid := in.mainPID("a")
	// Make sure the new mtime differs from the load time's second.
	later := time.Now().Add(2 * time.Second)
	os.WriteFile(filepath.Join(dir, "a.service"), []byte("[Unit]\nDescription=changed\n[Service]\nExecStart=/bin/sleep 2000\n"), 0o644)
	os.Chtimes(filepath.Join(dir, "a.service"), later, later)
	os.WriteFile(filepath.Join(dir, "b.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644)
	if out, _ := in.ctl("status", "a"); !strings.Contains(out, "changed on disk") {
		t.Errorf("status does not warn about the change:\n%s", out)
	}
	out := in.mustCtl("daemon-reload")
	if !strings.Contains(out, "a.service") {
		t.Errorf("daemon-reload does not name the changed running unit:\n%s", out)
	}
	if np := in.mainPID("a"); np != pid {
		t.Fatalf("reload touched the running service: pid %d → %d", pid, np)
	}
	in.mustCtl("start", "b")
	in.mustCtl("restart", "a")
	if desc := in.mustCtl("show", "-p", "Description", "--value", "a"); strings.TrimSpace(desc) != "changed" {
		t.Fatalf("after restart the new definition is not in force: %q", desc)
	}
}

// TestDeletedUnitKeepsRunning deletes the files of running services (one
// a target wants, one nothing names) and reloads: as systemd does, each
// keeps running, shown as not-found, refuses a start and stops with its
// own stop commands; once stopped it is gone. One that dies then is not
// restarted, whatever its Restart=.
func TestDeletedUnitKeepsRunning(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	for _, name := range []string{"wanted", "alone"} {
		unitText := "[Service]\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/touch " + filepath.Join(work, name+".stopped") + "\n"
		os.WriteFile(filepath.Join(dir, name+".service"), []byte(unitText), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=wanted.service\n"), 0o644)
	in := startTend(t, dir)
	in.mustCtl("start", "alone")
	for _, name := range []string{"wanted", "alone"} {
		pid := in.mainPID(name)
		os.Remove(filepath.Join(dir, name+".service"))
		in.mustCtl("daemon-reload")
		out, code := in.ctl("status", name)
		if code != 0 || !strings.Contains(out, "not-found") || !strings.Contains(out, "active (running)") || !strings.Contains(out, strconv.Itoa(pid)) || strings.Contains(out, "changed on disk") {
			t.Fatalf("%s: status after its file went (exit %d):\n%s", name, code, out)
		}
		if out, code := in.ctl("start", name); code == 0 {
			t.Errorf("%s: start of a unit without a file succeeded:\n%s", name, out)
		}
		in.mustCtl("stop", name)
		if _, err := os.Stat(filepath.Join(work, name+".stopped")); err != nil {
			t.Errorf("%s: its ExecStopPost did not run: %v", name, err)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s: pid %d still runs after stop", name, pid)
		}
		if out, code := in.ctl("status", name); code != 4 || !strings.Contains(out, "could not be found") {
			t.Errorf("%s: status once stopped (exit %d):\n%s", name, code, out)
		}
	}

	os.WriteFile(filepath.Join(dir, "always.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n"), 0o644)
	// A new unit gives the running targets new dependencies, not new files.
	if out := in.mustCtl("daemon-reload"); strings.Contains(out, "changed on disk") {
		t.Errorf("daemon-reload after adding a unit:\n%s", out)
	}
	in.mustCtl("start", "always")
	pid := in.mainPID("always")
	os.Remove(filepath.Join(dir, "always.service"))
	in.mustCtl("daemon-reload")
	wait := in.follow("always")
	syscall.Kill(pid, syscall.SIGKILL)
	wait("Main process exited")
	if out, code := in.ctl("status", "always"); code != 4 {
		t.Errorf("a unit without a file came back after its process died (exit %d):\n%s", code, out)
	}
}

// TestForwardSyslog forwards the journal to a syslog server (here a TCP
// listener of the test) as RFC 5424 with octet counting.
func TestForwardSyslog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan syslog.Message, 100)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fr := syslog.NewFrameReader(c, 64<<10)
		for {
			b, err := fr.Next()
			if err != nil {
				return
			}
			// The frame and the parsed message alias the reader's buffer.
			if m, err := syslog.Parse(bytes.Clone(b), time.Now()); err == nil {
				got <- m
			}
		}
	}()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "chatty.service"), []byte("[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/echo forward me please\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\n"), 0o644)
	in := startTend(t, dir, "--forward-syslog", "tcp://"+l.Addr().String())
	in.mustCtl("start", "chatty")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m := <-got:
			if strings.Contains(string(m.Msg), "forward me please") {
				if m.Format != syslog.FormatRFC5424 || m.AppName != "echo" {
					t.Fatalf("forwarded as %s from %q (%q); want RFC 5424 from echo", m.Format, m.AppName, m.Msg)
				}
				// This process holds the server's end of the connection.
				want := "→ tend (syslog forwarding to tcp://" + l.Addr().String() + ") pid " + strconv.Itoa(in.cmd.Process.Pid)
				if out := view(t, "fds", strconv.Itoa(os.Getpid()), "--socket", in.socket); !strings.Contains(out, want) {
					t.Errorf("fds of the syslog server lacks %q:\n%s", want, out)
				}
				return
			}
		case <-deadline:
			t.Fatalf("the line was not forwarded\n%s", in.stderr)
		}
	}
}

// runUserDaemon starts daemon (a `tend run --user` as its user), waits
// for READY=1 on ready, and stops it with SIGTERM when the test ends. The
// returned buffer holds its stderr.
func runUserDaemon(t *testing.T, daemon *exec.Cmd, ready <-chan notify.Message) *bytes.Buffer {
	t.Helper()
	var stderr bytes.Buffer
	daemon.Stderr = &stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("user instance exited: %v\n%s", err, &stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("user instance not ready\n%s", &stderr)
	}
	return &stderr
}
