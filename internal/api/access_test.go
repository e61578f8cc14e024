package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
)

// childEnv names the socket a re-executed test binary talks to as an
// unprivileged user; see childMain.
const childEnv = "TEND_API_TEST_CHILD_SOCKET"

const nobody = 65534

// childReport is what the child found out, printed as JSON.
type childReport struct {
	UID         int    `json:"uid"`
	ReadErr     string `json:"read_err"`
	LogsErr     string `json:"logs_err"`
	SelfFDsErr  string `json:"self_fds_err"`
	WriteStatus int    `json:"write_status"`
	WriteErr    string `json:"write_err"`
}

// childMain runs in the re-executed test binary: reads (units, logs, the
// daemon's descriptors) and one write against the server.
func childMain() int {
	c := client.New(os.Getenv(childEnv))
	ctx := context.Background()
	r := childReport{UID: os.Getuid()}
	if _, err := c.ListUnits(ctx, nil, true); err != nil {
		r.ReadErr = err.Error()
	}
	if err := c.LogsFunc(ctx, api.LogQuery{}, func(api.LogEntry) error { return nil }); err != nil {
		r.LogsErr = err.Error()
	}
	if _, err := c.SelfFDs(ctx); err != nil {
		r.SelfFDsErr = err.Error()
	}
	_, err := c.Stop(ctx, []string{"web.service"}, api.JobOptions{})
	var ce *client.Error
	if errors.As(err, &ce) {
		r.WriteStatus = ce.Status
	}
	if err != nil {
		r.WriteErr = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// runAsNobody serves a fake on a socket nobody can reach, runs the child
// as uid 65534 and returns its report.
func runAsNobody(t *testing.T, opts api.Options) (childReport, []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching to uid 65534 needs root")
	}
	// Test dirs are 0700; the child needs a path it may traverse, and a
	// copy of the test binary it may execute.
	dir, err := os.MkdirTemp("", "tend-api-access-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "api.test")
	copyFile(t, bin)
	f := testUnits()
	sock := serve(t, f, opts, dir)

	cmd := exec.Command(bin)
	cmd.Env = []string{childEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.Bytes())
	}
	var r childReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child report %q: %v", out, err)
	}
	var methods []string
	for _, c := range f.Calls() {
		methods = append(methods, c.Method)
	}
	return r, methods
}

func copyFile(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAccessDeniedForOthers(t *testing.T) {
	r, calls := runAsNobody(t, api.Options{})
	if r.UID != nobody {
		t.Fatalf("child ran as uid %d; want %d", r.UID, nobody)
	}
	if r.ReadErr != "" || r.LogsErr != "" || r.SelfFDsErr != "" {
		t.Errorf("reads as nobody failed: list %q, logs %q, self/fds %q", r.ReadErr, r.LogsErr, r.SelfFDsErr)
	}
	want := "Access denied: changing unit state requires root (uid 0); you are uid 65534"
	if r.WriteStatus != 403 || r.WriteErr != want {
		t.Errorf("write as nobody: status %d, %q; want 403, %q", r.WriteStatus, r.WriteErr, want)
	}
	if strings.Contains(strings.Join(calls, " "), "stop") {
		t.Errorf("the denied stop reached the manager: calls %v", calls)
	}
}

func TestOwnerMayWrite(t *testing.T) {
	r, calls := runAsNobody(t, api.Options{Owner: nobody})
	if r.ReadErr != "" || r.WriteErr != "" {
		t.Errorf("owner: read %q, write %q; want both to work", r.ReadErr, r.WriteErr)
	}
	if !strings.Contains(strings.Join(calls, " "), "stop") {
		t.Errorf("the owner's stop did not reach the manager: calls %v", calls)
	}
}
