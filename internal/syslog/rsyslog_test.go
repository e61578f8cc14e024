package syslog

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// rsyslogd is a real rsyslog daemon on 127.0.0.1 with a test config.
type rsyslogd struct {
	t    *testing.T
	bin  string
	dir  string
	conf string
	cmd  *exec.Cmd
}

// newRsyslogd writes a config that loads no local inputs (no /dev/log,
// no kernel log) and holds body, with $DIR replaced by the work directory.
func newRsyslogd(t *testing.T, body string) *rsyslogd {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd is not installed (Debian package rsyslog)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "rsyslog.conf")
	text := `global(workDirectory="` + dir + `" maxMessageSize="64k")
` + body
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return &rsyslogd{t: t, bin: bin, dir: dir, conf: conf}
}

// start runs rsyslogd in the foreground; it is stopped at test end.
func (r *rsyslogd) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.stop)
}

// stop ends this rsyslogd, by its pid, and reaps it.
func (r *rsyslogd) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// waitTCP waits until something accepts connections on addr. The kernel
// has no event for "another process bound a port", so this polls with a
// deadline.
func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
