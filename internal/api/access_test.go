package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
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
	f := testUnits()
	r := runChild(t, f, opts, nil)
	var methods []string
	for _, c := range f.Calls() {
		methods = append(methods, c.Method)
	}
	return r, methods
}

// runChild serves m, runs the child as uid 65534 with the supplementary
// groups given, and returns its report.
func runChild(t *testing.T, m api.Manager, opts api.Options, groups []uint32) childReport {
	t.Helper()
	bin, sock := serveToNobody(t, m, opts)
	cmd := exec.Command(bin)
	cmd.Env = []string{childEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: groups}}
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
	return r
}

// serveToNobody serves m where uid 65534 may reach it, next to a copy
// of the test binary it may execute, and returns the copy and the
// socket: test dirs are 0700, so both go to a directory of their own.
// It skips the test unless it runs as root.
func serveToNobody(t *testing.T, m api.Manager, opts api.Options) (bin, sock string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching to uid 65534 needs root")
	}
	dir, err := os.MkdirTemp("", "tend-api-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "api.test")
	copyFile(t, bin)
	return bin, serve(t, m, opts, dir)
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

// accessRecorder is a Manager that remembers the Access its Logs calls
// were made with.
type accessRecorder struct {
	*apitest.Fake
	mu  sync.Mutex // guards got
	got []api.Access
}

func (m *accessRecorder) Logs(ctx context.Context, q api.LogQuery) (<-chan api.LogEntry, error) {
	m.mu.Lock()
	m.got = append(m.got, api.AccessFromContext(ctx))
	m.mu.Unlock()
	return m.Fake.Logs(ctx, q)
}

func (m *accessRecorder) last() api.Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.got) == 0 {
		return api.Access{}
	}
	return m.got[len(m.got)-1]
}

// TestLogGroupFromKernel: a process running as nobody whose supplementary
// groups include a log group reads every log; without the group, only its
// own. The groups come from the kernel (SO_PEERGROUPS), not from the group
// database, which knows nothing of either process's groups.
func TestLogGroupFromKernel(t *testing.T) {
	const logGID = 4242
	lookups := 0
	opts := api.Options{LogGroups: []uint32{logGID}, LogGroupNames: []string{"adm"},
		LookupGroups: func(uint32) ([]uint32, error) { lookups++; return nil, nil }}
	for _, tt := range []struct {
		groups       []uint32
		all, ownLogs bool
	}{
		{[]uint32{logGID}, true, true},
		{[]uint32{100, 200}, false, true},
		{nil, false, true},
	} {
		m := &accessRecorder{Fake: testUnits()}
		r := runChild(t, m, opts, tt.groups)
		if r.UID != nobody || r.LogsErr != "" {
			t.Fatalf("groups %v: child uid %d, logs error %q", tt.groups, r.UID, r.LogsErr)
		}
		a := m.last()
		if !a.Known || a.UID != nobody || a.AllLogs != tt.all || a.OwnLogs != tt.ownLogs || a.Secrets {
			t.Errorf("groups %v: access %+v; want uid %d, AllLogs %v, OwnLogs %v, no secrets", tt.groups, a, nobody, tt.all, tt.ownLogs)
		}
	}
	if lookups != 0 {
		t.Errorf("the group database was asked %d times; the kernel knows the groups", lookups)
	}
}

// TestAccessRules decides Access for callers of a system and a user
// instance, without a socket.
func TestAccessRules(t *testing.T) {
	const adm = 4
	dbGroups := map[uint32][]uint32{1001: {adm}}
	lookup := func(uid uint32) ([]uint32, error) { return dbGroups[uid], nil }
	sys := api.Options{LogGroups: []uint32{adm}, LogGroupNames: []string{"adm"}, LookupGroups: lookup}
	usr := api.Options{Owner: 1000, UserInstance: true, LogGroups: []uint32{adm}, LookupGroups: lookup}
	tests := []struct {
		name              string
		opts              api.Options
		peer              *api.Peer
		all, own, secrets bool
	}{
		{"root", sys, &api.Peer{UID: 0}, true, true, true},
		{"other", sys, &api.Peer{UID: 65534, GID: 65534, GroupsKnown: true}, false, true, false},
		{"supplementary log group", sys, &api.Peer{UID: 1000, Groups: []uint32{27, adm}, GroupsKnown: true}, true, true, false},
		{"primary log group", sys, &api.Peer{UID: 1000, GID: adm, GroupsKnown: true}, true, true, false},
		{"group database fallback", sys, &api.Peer{UID: 1001}, true, true, false},
		{"kernel groups win over the database", sys, &api.Peer{UID: 1001, GroupsKnown: true}, false, true, false},
		{"no credentials", sys, nil, false, false, false},
		{"user instance owner", usr, &api.Peer{UID: 1000}, true, true, true},
		{"user instance root", usr, &api.Peer{UID: 0}, true, true, true},
		{"user instance other", usr, &api.Peer{UID: 1001, Groups: []uint32{adm}, GroupsKnown: true}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &accessRecorder{Fake: testUnits()}
			h := api.NewServer(m, tt.opts).Handler()
			req := httptest.NewRequest("POST", "http://tend/v1/logs", strings.NewReader(`{}`))
			if tt.peer != nil {
				req = req.WithContext(api.WithPeer(req.Context(), *tt.peer))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			a := m.last()
			if a.AllLogs != tt.all || a.OwnLogs != tt.own || a.Secrets != tt.secrets {
				t.Errorf("access %+v; want AllLogs %v, OwnLogs %v, Secrets %v", a, tt.all, tt.own, tt.secrets)
			}
		})
	}
}

// TestSecretsHidden: unit files are refused and Environment= values hidden
// from callers other than root and the owner; names stay visible.
func TestSecretsHidden(t *testing.T) {
	f := testUnits()
	f.Props["web.service"] = map[string]string{
		"Environment":   `DB_PASSWORD=hunter2 "GREETING=hello world" PORT=80`,
		"SetCredential": "token:s3cret",
		"ExecStart":     "/bin/web",
	}
	h := api.NewServer(f, api.Options{Owner: 1000}).Handler()
	get := func(uid uint32, path string) (int, string) {
		req := httptest.NewRequest("GET", "http://tend"+path, nil)
		req = req.WithContext(api.WithPeer(req.Context(), api.Peer{UID: uid, GroupsKnown: true}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, uid := range []uint32{0, 1000} {
		code, body := get(uid, "/v1/units/web.service/properties")
		if code != 200 || !strings.Contains(body, "hunter2") || !strings.Contains(body, "s3cret") {
			t.Errorf("uid %d: properties %d %s; want the values", uid, code, body)
		}
		if code, body := get(uid, "/v1/units/web.service/files"); code != 200 || !strings.Contains(body, "ExecStart") {
			t.Errorf("uid %d: files %d %s; want the text", uid, code, body)
		}
	}
	code, body := get(65534, "/v1/units/web.service/properties")
	var props map[string]string
	if err := json.Unmarshal([]byte(body), &props); code != 200 || err != nil {
		t.Fatalf("properties as nobody: %d %s", code, body)
	}
	want := map[string]string{
		"Environment":   "DB_PASSWORD=[hidden] GREETING=[hidden] PORT=[hidden]",
		"SetCredential": "[hidden]",
		"ExecStart":     "/bin/web",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("nobody sees %s=%q; want %q", k, props[k], v)
		}
	}
	code, body = get(65534, "/v1/units/web.service/files")
	if code != 403 || strings.Contains(body, "ExecStart") || !strings.Contains(body, "Access denied: unit files may hold secrets") {
		t.Errorf("files as nobody: %d %s; want 403 without the text", code, body)
	}
}

func TestRedactEnvironment(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"A=1", "A=[hidden]"},
		{`A=1 "B=two words" 'C=x'`, "A=[hidden] B=[hidden] C=[hidden]"},
		{`A=1 not-an-assignment B=\x41`, "A=[hidden] B=[hidden]"},
		{`A="unterminated`, "[hidden]"},
		{"", ""},
	} {
		props := map[string]string{"Environment": tt.in}
		api.RedactProperties(api.Access{}, props)
		if props["Environment"] != tt.want {
			t.Errorf("Environment=%s shows as %q; want %q", tt.in, props["Environment"], tt.want)
		}
	}
}

// FuzzRedactEnvironment: whatever the value, a caller without Secrets sees
// only NAME=[hidden] words, or [hidden].
func FuzzRedactEnvironment(f *testing.F) {
	for _, s := range []string{"A=1", `"A=b c" D=e`, `A='x`, `\"A=1\"`, "A=1\nB=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		props := map[string]string{"Environment": v}
		api.RedactProperties(api.Access{}, props)
		got := props["Environment"]
		if v == "" || got == "" || got == api.HiddenValue {
			return
		}
		for _, w := range strings.Split(got, " ") {
			name, val, ok := strings.Cut(w, "=")
			if !ok || val != api.HiddenValue || name == "" || strings.ContainsAny(name, "=\"'\\") {
				t.Fatalf("Environment=%q shows as %q", v, got)
			}
		}
	})
}
