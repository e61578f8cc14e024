package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
	"github.com/tendproject/tend/internal/client"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	if sock := os.Getenv(floodEnv); sock != "" {
		os.Exit(apitest.FloodMain(sock))
	}
	code := m.Run()
	if code == 0 {
		if l := waitNoLeaks(); len(l) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", strings.Join(l, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

func testUnits() *apitest.Fake {
	f := apitest.New(
		api.UnitStatus{Name: "web.service", Description: "Web", LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 42},
		api.UnitStatus{Name: "db.service", Description: "DB", LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
		api.UnitStatus{Name: "bad.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
	)
	f.FailStart["bad.service"] = "exit-code"
	f.Files = []api.UnitFile{{Name: "web.service", Path: "/etc/tend/units/web.service", State: "enabled"},
		{Name: "db.service", Path: "/etc/tend/units/db.service", State: "disabled"}}
	f.Texts["web.service"] = []api.UnitText{{Path: "/etc/tend/units/web.service", Text: "[Service]\nExecStart=/bin/true\n"}}
	f.Deps["web.service"] = api.DepTree{Name: "web.service", ActiveState: "active",
		Children: []api.DepTree{{Name: "db.service", ActiveState: "inactive"}}}
	f.Procs = map[int]string{42: "web.service"}
	f.ReloadReport = api.ReloadReport{Added: []string{"new.service"}}
	f.Changes = api.InstallChanges{Created: []api.Symlink{{Path: "/etc/a", Target: "/etc/b"}}}
	return f
}

// serve starts a server for m on a fresh socket in dir (a temp dir when
// empty) and stops it, checking Serve's result, when the test ends.
func serve(t *testing.T, m api.Manager, opts api.Options, dir string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	sock := filepath.Join(dir, "run", "tend.sock")
	l, err := api.Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	opts.Socket = sock
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(m, opts).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

func TestRoutes(t *testing.T) {
	f := testUnits()
	c := client.New(serve(t, f, api.Options{}, ""))
	defer c.Close()
	ctx := context.Background()

	res, err := c.Start(ctx, []string{"db.service"}, api.JobOptions{Mode: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []api.JobResult{{Unit: "db.service", Job: "start", Result: "done"}}; !reflect.DeepEqual(res, want) {
		t.Errorf("Start = %+v; want %+v", res, want)
	}
	if got := f.Unit("db.service").ActiveState; got != "active" {
		t.Errorf("db.service after start: %s; want active", got)
	}
	if res, _ := c.Start(ctx, []string{"bad.service"}, api.JobOptions{}); len(res) != 1 || res[0].Result != "failed" {
		t.Errorf("Start(bad) = %+v; want result failed", res)
	}
	jobs := []struct {
		name string
		f    func(context.Context, []string, api.JobOptions) ([]api.JobResult, error)
	}{{"stop", c.Stop}, {"restart", c.Restart}, {"try-restart", c.TryRestart}, {"reload", c.Reload}, {"reload-or-restart", c.ReloadOrRestart}}
	for _, j := range jobs {
		res, err := j.f(ctx, []string{"web.service"}, api.JobOptions{NoWait: true})
		if err != nil || len(res) != 1 || res[0].Job != j.name {
			t.Errorf("%s = %+v, %v; want one %s job", j.name, res, err, j.name)
		}
	}
	if err := c.Kill(ctx, []string{"web.service"}, "main", 9); err != nil {
		t.Errorf("Kill: %v", err)
	}
	if err := c.ResetFailed(ctx, nil); err != nil {
		t.Errorf("ResetFailed: %v", err)
	}
	if got := f.Unit("bad.service").ActiveState; got != "inactive" {
		t.Errorf("bad.service after reset-failed: %s; want inactive", got)
	}
	calls := f.Calls()
	if kill := calls[len(calls)-2]; kill.Method != "kill" || kill.Op != "main" || kill.Signal != 9 {
		t.Errorf("kill call = %+v", kill)
	}
	if calls[0].Opts.Mode != "fail" || !calls[2].Opts.NoWait {
		t.Errorf("job options lost: %+v", calls[:3])
	}

	list, err := c.ListUnits(ctx, []string{"*.service"}, true)
	if err != nil || len(list) != 3 {
		t.Errorf("ListUnits(all) = %d units, %v; want 3", len(list), err)
	}
	list, _ = c.ListUnits(ctx, []string{"w*"}, false)
	if len(list) != 1 || list[0].Name != "web.service" {
		t.Errorf("ListUnits(w*) = %+v; want web.service", list)
	}
	st, err := c.Status(ctx, "web.service")
	if err != nil || st.Description != "Web" {
		t.Errorf("Status = %+v, %v", st, err)
	}
	props, err := c.Show(ctx, "web.service")
	if err != nil || props["Id"] != "web.service" {
		t.Errorf("Show = %v, %v", props, err)
	}
	texts, err := c.Cat(ctx, "web.service")
	if err != nil || len(texts) != 1 || !strings.Contains(texts[0].Text, "ExecStart") {
		t.Errorf("Cat = %+v, %v", texts, err)
	}
	tree, err := c.ListDependencies(ctx, "web.service", api.DepQuery{Kind: api.DepReverse})
	if err != nil || len(tree.Children) != 1 {
		t.Errorf("ListDependencies = %+v, %v", tree, err)
	}
	if last := f.Calls()[len(f.Calls())-1]; last.Op != "reverse all=false" {
		t.Errorf("reverse flag lost: %+v", last)
	}
	rep, err := c.DaemonReload(ctx)
	if err != nil || !reflect.DeepEqual(rep.Added, []string{"new.service"}) {
		t.Errorf("DaemonReload = %+v, %v", rep, err)
	}
	files, err := c.ListUnitFiles(ctx, nil)
	if err != nil || len(files) != 2 {
		t.Errorf("ListUnitFiles = %+v, %v", files, err)
	}
	states, err := c.IsEnabled(ctx, []string{"web.service", "db.service"})
	if err != nil || !reflect.DeepEqual(states, []string{"enabled", "disabled"}) {
		t.Errorf("IsEnabled = %v, %v", states, err)
	}
	ch, err := c.UnitFiles(ctx, api.OpEnable, []string{"web.service"}, api.InstallOptions{Runtime: true, Now: true})
	if err != nil || len(ch.Created) != 1 {
		t.Errorf("UnitFiles = %+v, %v", ch, err)
	}
	if last := f.Calls()[len(f.Calls())-1]; last.Op != "enable" || !last.Inst.Runtime || !last.Inst.Now {
		t.Errorf("install call = %+v", last)
	}
	procs, err := c.ProcessUnits(ctx)
	if err != nil || procs[42] != "web.service" {
		t.Errorf("ProcessUnits = %v, %v", procs, err)
	}
}

func TestNoSuchUnit(t *testing.T) {
	c := client.New(serve(t, testUnits(), api.Options{}, ""))
	defer c.Close()
	ctx := context.Background()
	calls := map[string]func() error{
		"status": func() error { _, err := c.Status(ctx, "nope.service"); return err },
		"show":   func() error { _, err := c.Show(ctx, "nope.service"); return err },
		"cat":    func() error { _, err := c.Cat(ctx, "nope.service"); return err },
		"start": func() error {
			_, err := c.Start(ctx, []string{"web.service", "nope.service"}, api.JobOptions{})
			return err
		},
		"kill": func() error { return c.Kill(ctx, []string{"nope.service"}, "all", 15) },
		"enable": func() error {
			_, err := c.UnitFiles(ctx, "enable", []string{"nope.service"}, api.InstallOptions{})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Unit != "nope.service" {
			t.Errorf("%s: error %#v; want 404 about nope.service", name, err)
		}
		if !errors.Is(err, api.ErrNoSuchUnit) {
			t.Errorf("%s: %v is not ErrNoSuchUnit", name, err)
		}
	}
}

func TestBadRequests(t *testing.T) {
	sock := serve(t, testUnits(), api.Options{}, "")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/v1/units/start", `{"names":["web.service"]`, 400, "unexpected EOF"},
		{"POST", "/v1/units/start", `{"names":["web.service"],"nmae":1}`, 400, `unknown field "nmae"`},
		{"POST", "/v1/units/start", `{"names":"web.service"}`, 400, "cannot unmarshal"},
		{"POST", "/v1/units/start", `{"names":["web.service"]} {}`, 400, "unexpected data"},
		{"POST", "/v1/units/start", ``, 400, "empty"},
		{"POST", "/v1/units/start", `{"names":[]}`, 400, "no unit names"},
		{"POST", "/v1/units/start", `{"names":[""]}`, 400, "empty unit name"},
		{"POST", "/v1/units/start", `{"names":["..x.service"]}`, 400, `contains ".."`},
		{"POST", "/v1/units/stop", `{"names":["a/b.service"]}`, 400, `contains "/"`},
		{"POST", "/v1/units/start", `{"names":["a\u0000.service"]}`, 400, "control character"},
		{"POST", "/v1/units/start", `{"names":["web.service"],"mode":"now"}`, 400, "invalid job mode"},
		{"POST", "/v1/units/kill", `{"names":["web.service"],"signal":0}`, 400, "signal 0"},
		{"POST", "/v1/units/kill", `{"names":["web.service"],"signal":9,"who":"x"}`, 400, "kill-whom"},
		{"GET", "/v1/units/a%2Fb.service", ``, 400, `contains "/"`},
		{"GET", "/v1/units/%2E%2E", ``, 400, `".."`},
		{"GET", "/v1/units?all=maybe", ``, 400, "not a boolean"},
		{"GET", "/v1/units/web.service/dependencies?reverse=2", ``, 400, "not a boolean"},
		{"GET", "/v1/unit-files/state", ``, 400, "no unit names"},
		{"POST", "/v1/unit-files/explode", `{"names":["web.service"]}`, 404, "no such unit-file operation"},
		{"POST", "/v1/logs", `{"lines":-1}`, 400, "negative"},
		{"POST", "/v1/logs", `{"priority_min":9}`, 400, "priorities"},
		{"GET", "/v2/units", ``, 404, "no such route"},
		{"POST", "/v1/units/start", `{"names":["` + strings.Repeat("x", 2<<20) + `"]}`, 413, "larger than"},
		{"POST", "/v1/daemon-reload", `{"x":1}`, 400, "unknown field"},
		{"POST", "/v1/daemon-reload", ``, 200, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://tend"+tt.path, strings.NewReader(tt.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		var er api.ErrorResponse
		derr := json.NewDecoder(resp.Body).Decode(&er)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s %.40q: status %d (%s); want %d", tt.method, tt.path, tt.body, resp.StatusCode, er.Error, tt.status)
			continue
		}
		if tt.status != 200 && (derr != nil || !strings.Contains(er.Error, tt.want)) {
			t.Errorf("%s %s %.40q: error %q (%v); want it to contain %q", tt.method, tt.path, tt.body, er.Error, derr, tt.want)
		}
	}
}

func TestNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	_, err := client.New(sock).Status(context.Background(), "web.service")
	if !errors.Is(err, client.ErrNotRunning) {
		t.Fatalf("error %v is not ErrNotRunning", err)
	}
	if want := "tend is not running (no socket at " + sock + ")"; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
	// A socket file nobody listens on.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	_, err = client.New(sock).Status(context.Background(), "web.service")
	if !errors.Is(err, client.ErrNotRunning) || !strings.Contains(err.Error(), "nothing answers") {
		t.Errorf("error %v; want not running, nothing answers", err)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sub", "tend.sock")
	// A stale socket from a crashed daemon is replaced.
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	l, err := api.Listen(sock, 0o666)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, %v; want 0666", fi.Mode(), err)
	}
	// A live socket is not taken over.
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	if _, err := api.Listen(sock, 0o666); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Listen over a live socket: %v; want in use", err)
	}
	// A regular file is never removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep"), 0o644)
	if _, err := api.Listen(file, 0o666); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v; want not a socket", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Errorf("file content %q; want it kept", b)
	}
}

func TestLogsFollow(t *testing.T) {
	f := testUnits()
	f.Entries = []api.LogEntry{
		{Cursor: "c1", Unit: "web.service", Message: "one", Time: time.Unix(1, 0).UTC()},
		{Cursor: "c2", Unit: "db.service", Message: "other"},
		{Cursor: "c3", Unit: "web.service", Message: "bin\xff\x00ary"},
	}
	f.Follow = make(chan api.LogEntry)
	c := client.New(serve(t, f, api.Options{}, ""))
	defer c.Close()

	// Without follow the stream ends by itself.
	var got []string
	err := c.LogsFunc(context.Background(), api.LogQuery{Units: []string{"web.*"}}, func(e api.LogEntry) error {
		got = append(got, e.Message)
		return nil
	})
	if want := []string{"one", "bin\xff\x00ary"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Logs = %q, %v; want %q", got, err, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.Logs(ctx, api.LogQuery{Units: []string{"web.service"}, Lines: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := <-ch; e.Cursor != "c3" {
		t.Errorf("first entry %+v; want c3 (the last line)", e)
	}
	f.Follow <- api.LogEntry{Cursor: "c4", Unit: "web.service", Message: "live"}
	if e := <-ch; e.Message != "live" {
		t.Errorf("followed entry %+v; want live", e)
	}
	// The client going away ends the stream at both ends; Serve's join
	// at cleanup proves the handler returned.
	cancel()
	for range ch {
	}
}

func TestLogEntryJSON(t *testing.T) {
	for _, msg := range []string{"", "plain", "ünï", "\xff", "a\x00b\xc3"} {
		in := api.LogEntry{Cursor: "x", Message: msg, Priority: 3, Time: time.Unix(5, 0).UTC()}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out api.LogEntry
		if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(in, out) {
			t.Errorf("round trip of %q via %s = %+v, %v", msg, b, out, err)
		}
	}
	in := api.LogEntry{Cursor: "y", Message: "m", Time: time.Unix(5, 0).UTC(), Hostname: "web7",
		SourceAddress: "192.0.2.7", SenderTime: time.Unix(4, 5).UTC(), MsgID: "ID1", StructuredData: `[a b="\"]"]`}
	b, _ := json.Marshal(in)
	var out api.LogEntry
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("round trip of the syslog origin via %s = %+v, %v", b, out, err)
	}
	var e api.LogEntry
	if err := json.Unmarshal([]byte(`{"message":[300]}`), &e); err == nil {
		t.Error("byte 300 accepted")
	}
}

func FuzzLogEntryJSON(f *testing.F) {
	f.Add([]byte(`{"cursor":"a","message":"x"}`))
	f.Add([]byte(`{"message":[104,255]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e api.LogEntry
		if json.Unmarshal(b, &e) != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var again api.LogEntry
		if err := json.Unmarshal(out, &again); err != nil || again.Message != e.Message {
			t.Errorf("message %q did not survive %s: %q, %v", e.Message, out, again.Message, err)
		}
	})
}

// TestFollowOutlivesReadTimeout checks that the request read deadline does
// not cut a log follow: the follower still gets an entry written well
// after the deadline passed.
func TestFollowOutlivesReadTimeout(t *testing.T) {
	f := testUnits()
	f.Follow = make(chan api.LogEntry)
	c := client.New(serve(t, f, api.Options{ReadTimeout: 50 * time.Millisecond}, ""))
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Logs(ctx, api.LogQuery{Units: []string{"none"}, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing signals "the deadline would have fired"; waiting past it is
	// the point of the test, not a synchronisation.
	<-time.After(250 * time.Millisecond)
	f.Follow <- api.LogEntry{Unit: "none", Message: "late"}
	if e, ok := <-ch; !ok || e.Message != "late" {
		t.Fatalf("got %+v, %v; want the late entry", e, ok)
	}
}

// FuzzLogEntryEncode checks the hand-written encoder against encoding/json:
// valid JSON, and the same values once decoded.
func FuzzLogEntryEncode(f *testing.F) {
	f.Add("c1", "web.service", "hello \"world\"\n\t<&>", 42, 6, uint64(7), int64(1700000000))
	f.Add("\xff", "u\x00", "bin\xff\x00", 0, 0, uint64(0), int64(0))
	f.Add("é", "\u2028", "ok\u2029", -1, 7, uint64(1<<63), int64(-5))
	f.Fuzz(func(t *testing.T, cursor, unitName, msg string, pid, prio int, mono uint64, sec int64) {
		e := api.LogEntry{Cursor: cursor, Unit: unitName, Identifier: unitName, Message: msg, PID: pid,
			Priority: prio, Monotonic: mono, Time: time.Unix(sec%(1<<33), 0).UTC(),
			Hostname: unitName, MsgID: cursor, StructuredData: msg}
		b, err := json.Marshal(e)
		if err != nil || !json.Valid(b) {
			t.Fatalf("Marshal(%+v) = %q, %v: not valid JSON", e, b, err)
		}
		type plain api.LogEntry
		p := plain(e)
		if !utf8.ValidString(msg) {
			p.Message = "" // encoding/json cannot carry it; compared below
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(want, &exp)
		if !utf8.ValidString(msg) {
			delete(got, "message")
			delete(exp, "message")
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("hand-written %s\nencoding/json %s", b, want)
		}
		var back api.LogEntry
		if err := json.Unmarshal(b, &back); err != nil || back.Message != msg {
			t.Errorf("message %q came back as %q, %v", msg, back.Message, err)
		}
	})
}

// TestShutdownEndsFollow checks that stopping the server ends a log follow
// in progress: Serve returns and the client's channel closes.
func TestShutdownEndsFollow(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	l, err := api.Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	f := testUnits()
	f.Entries = []api.LogEntry{{Cursor: "c1", Unit: "web.service", Message: "one"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(f, api.Options{}).Serve(ctx, l) }()

	c := client.New(sock)
	defer c.Close()
	ch, err := c.Logs(context.Background(), api.LogQuery{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := <-ch; e.Message != "one" {
		t.Fatalf("first entry %+v; want one", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	for e := range ch {
		t.Errorf("entry %+v after shutdown", e)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after Serve: %v", err)
	}
}

// TestSelfFDs checks that /v1/self/fds passes on the Manager's roles and
// adds the server's own descriptors, which must be the real ones: the
// listening socket and the connection this very request came on.
func TestSelfFDs(t *testing.T) {
	f := testUnits()
	f.Self = api.SelfFDs{PID: os.Getpid(), FDs: map[int]string{1000: "journal: web.service stdout"}}
	sock := serve(t, f, api.Options{}, "")
	c := client.New(sock)
	defer c.Close()
	got, err := c.SelfFDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != os.Getpid() || got.FDs[1000] != "journal: web.service stdout" {
		t.Errorf("SelfFDs = %+v; want pid %d and the manager's roles", got, os.Getpid())
	}
	listening, connected := 0, 0
	for fd, role := range got.FDs {
		if role != "control socket "+sock && role != "api connection" {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if ua, ok := sa.(*unix.SockaddrUnix); err != nil || !ok || ua.Name != sock {
			t.Errorf("fd %d (%s) is bound to %+v (%v); want %s", fd, role, sa, err, sock)
			continue
		}
		acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		switch {
		case err != nil:
			t.Errorf("fd %d (%s): %v", fd, role, err)
		case role == "api connection" && acc == 0:
			connected++
		case role != "api connection" && acc == 1:
			listening++
		default:
			t.Errorf("fd %d is %q but SO_ACCEPTCONN is %d", fd, role, acc)
		}
	}
	// The listener and the duplicate the server accepts on.
	if listening != 2 || connected < 1 {
		t.Errorf("roles %v: %d listening sockets, %d connections; want 2 and at least 1", got.FDs, listening, connected)
	}
}
