package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// debugPanic asks a tend run with --debug-panic-hook to panic where.
func debugPanic(t *testing.T, in *instance, where string) (int, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", in.socket)
	}}, Timeout: 30 * time.Second}
	resp, err := c.Post("http://tend/v1/debug/panic", "application/json", strings.NewReader(`{"where":"`+where+`"}`))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A panic in an API handler fails that request only; a panic on the
// manager loop restarts tend in place (same pid), and it takes back
// every service as after a crash: same main pids, the log goes on, no
// line lost or written twice.
func TestPanicRecovery(t *testing.T) {
	units, tmp := t.TempDir(), t.TempDir()
	writer := loopWriter(t, tmp, 50, "0.01")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("default.target", "[Unit]\nWants=writer.service sleeper.service\n")
	write("writer.service", "[Service]\nExecStart=/usr/bin/python3 "+writer+"\n")
	write("sleeper.service", "[Service]\nExecStart=/bin/sleep infinity\nRestart=always\n")
	work := t.TempDir()
	reapHolder(t, work)
	in := startTendAt(t, units, work, "--debug-panic-hook")
	tendPID := in.cmd.Process.Pid
	writerPID, sleeperPID := in.mainPID("writer.service"), in.mainPID("sleeper.service")
	in.follow("writer.service")("seq 500")

	code, err := debugPanic(t, in, "api")
	if err != nil || code != http.StatusInternalServerError {
		t.Fatalf("panic in an API handler: status %d, %v; want 500", code, err)
	}
	if got := in.mainPID("writer.service"); got != writerPID {
		t.Fatalf("after a handler's panic MainPID = %d; want %d", got, writerPID)
	}

	// The loop's panic: tend execs itself; the request's connection
	// ends with the old process image.
	if code, err := debugPanic(t, in, "loop"); err == nil {
		t.Fatalf("panic on the loop answered %d; want the connection cut by the restart", code)
	}
	awaitNotify(t, in)
	if !alive(tendPID) {
		t.Fatalf("tend %d gone", tendPID)
	}
	if got := in.mainPID("writer.service"); got != writerPID {
		t.Fatalf("after the loop's panic writer MainPID = %d; want %d\n%s", got, writerPID, in.stderr)
	}
	if got := in.mainPID("sleeper.service"); got != sleeperPID {
		t.Fatalf("after the loop's panic sleeper MainPID = %d; want %d", got, sleeperPID)
	}
	// Still tend's children: a restart policy acts on a real exit.
	sleeper := in.follow("sleeper.service")
	_ = syscall.Kill(sleeperPID, syscall.SIGKILL)
	sleeper("Main process exited, code=killed")
	sleeper("Started sleeper.service")
	in.follow("writer.service")("seq ") // a line read by the new image
	in.mustCtl("stop", "writer.service")
	n := checkSeqLog(t, in, "writer.service")
	t.Logf("%d lines, each once, across a panic", n)
}
