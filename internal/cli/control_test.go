package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
)

// ctlFake is the daemon the control verbs talk to in these tests.
func ctlFake() *apitest.Fake {
	since := time.Now().Add(-3*time.Minute - 2*time.Second)
	f := apitest.New(
		api.UnitStatus{Name: "web.service", Description: "Example web server", LoadState: "loaded",
			ActiveState: "active", SubState: "running", UnitFileState: "enabled",
			FragmentPath: "/etc/tend/units/web.service", Since: since, MainPID: 1234, Tasks: 2,
			MemoryBytes: 11010048, StatusText: "Serving on :8080", Cgroup: "/tend/web.service",
			Processes: []api.Process{{PID: 1240, Command: "sleep 10"}, {PID: 1234, Command: "python3 -m http.server"}},
			Logs:      []api.LogEntry{{Time: since, Identifier: "web", PID: 1234, Message: "started"}}},
		api.UnitStatus{Name: "db.service", Description: "Database", LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
		api.UnitStatus{Name: "bad.service", Description: "Broken", LoadState: "loaded", ActiveState: "failed",
			SubState: "failed", Result: "exit-code", MainPID: 99, ExecMainCode: "exited", ExecMainStatus: 1},
		api.UnitStatus{Name: "app.socket", Description: "App socket", LoadState: "loaded", ActiveState: "active", SubState: "listening"},
	)
	f.FailStart["bad.service"] = "exit-code"
	f.Files = []api.UnitFile{{Name: "web.service", Path: "/etc/tend/units/web.service", State: "enabled", Preset: "enabled"},
		{Name: "db.service", Path: "/etc/tend/units/db.service", State: "disabled"},
		{Name: "app.socket", Path: "/etc/tend/units/app.socket", State: "static"}}
	f.Texts["web.service"] = []api.UnitText{{Path: "/etc/tend/units/web.service", Text: "[Service]\nExecStart=/bin/web\n"},
		{Path: "/etc/tend/units/web.service.d/env.conf", Text: "[Service]\nEnvironment=A=1"}}
	f.Props["web.service"] = map[string]string{"Restart": "always", "Empty": ""}
	f.Deps["web.service"] = api.DepTree{Name: "web.service", ActiveState: "active", Children: []api.DepTree{
		{Name: "db.service", ActiveState: "inactive", Children: []api.DepTree{{Name: "app.socket", ActiveState: "active"}}},
		{Name: "bad.service", ActiveState: "failed"}}}
	f.Changes = api.InstallChanges{Removed: []string{"/etc/tend/units/old.target.wants/web.service"},
		Created: []api.Symlink{{Path: "/etc/tend/units/multi-user.target.wants/web.service", Target: "/etc/tend/units/web.service"}}}
	f.Procs = map[int]string{1234: "web.service", 1240: "web.service"}
	f.ReloadReport = api.ReloadReport{Errors: []string{"/etc/tend/units/x.service:3: bad line"}}
	return f
}

// serveFake serves f on a temp socket for the test's lifetime.
func serveFake(t *testing.T, f api.Manager) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "tend.sock")
	l, err := api.Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewServer(f, api.Options{Socket: sock}).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

// runCLI runs one tend command line against sock.
func runCLI(sock string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = Run(env, append(args, "--socket", sock))
	return code, out.String(), errb.String()
}

func TestControlVerbs(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		out, err   string // substrings expected (each line must appear)
		notOut     string // substring that must not appear
		lastMethod string // the last call the fake saw, when set
	}{
		{args: []string{"start", "db"}, lastMethod: "start"},
		{args: []string{"start", "nope"}, code: 5, err: "Failed to start nope.service: Unit nope.service not found.\n"},
		{args: []string{"start", "web", "nope"}, code: 5, err: "Unit nope.service not found."},
		{args: []string{"stop", "nope.service"}, code: 5, err: "Failed to stop nope.service: Unit nope.service not loaded.\n"},
		{args: []string{"start", "bad"}, code: 1, err: "Job for bad.service failed because the control process exited with error code.\n" +
			"See \"tend status bad.service\" and \"tend logs -xeu bad.service\" for details.\n"},
		{args: []string{"restart", "web.service", "--no-block"}, lastMethod: "restart"},
		{args: []string{"try-restart", "db"}, lastMethod: "try-restart"},
		{args: []string{"reload", "web"}, lastMethod: "reload"},
		{args: []string{"reload-or-restart", "web"}, lastMethod: "reload-or-restart"},
		{args: []string{"start", "*.socket", "-o", "json"}, out: `"unit":"app.socket"`},
		{args: []string{"start", "bad", "-o", "json"}, code: 1, out: `"result":"failed"`},
		{args: []string{"start", "web", "--job-mode", "bogus"}, code: 1, err: "invalid job mode"},
		{args: []string{"kill", "-s", "HUP", "--kill-whom=main", "web"}, lastMethod: "kill"},
		{args: []string{"kill", "-s", "NOPE", "web"}, code: 1, err: `unknown signal "NOPE"`},
		{args: []string{"kill", "ghost"}, code: 5, err: "Unit ghost.service not loaded."},
		{args: []string{"reset-failed"}, lastMethod: "reset-failed"},
		{args: []string{"daemon-reload"}, err: "x.service:3: bad line", lastMethod: "daemon-reload"},

		{args: []string{"status", "web"}, out: "● web.service - Example web server\n" +
			"     Loaded: loaded (/etc/tend/units/web.service; enabled)\n" +
			"     Active: active (running) since |; 3min 2s ago\n" +
			"   Main PID: 1234 (python3)\n" +
			"     Status: \"Serving on :8080\"\n" +
			"      Tasks: 2\n" +
			"     Memory: 10.5M\n" +
			"     CGroup: /tend/web.service\n" +
			"             ├─1234 python3 -m http.server\n" +
			"             └─1240 sleep 10\n" +
			"| web[1234]: started\n"},
		{args: []string{"status", "db"}, code: 3, out: "○ db.service - Database\n|     Active: inactive (dead)\n"},
		{args: []string{"status", "bad"}, code: 3, out: "× bad.service - Broken\n|     Active: failed (Result: exit-code)\n   Main PID: 99 (code=exited, status=1/FAILURE)\n"},
		{args: []string{"status", "nope"}, code: 4, err: "Unit nope.service could not be found.\n"},
		{args: []string{"status", "web", "db"}, code: 3, out: "web.service|db.service"},
		{args: []string{"status", "nope", "db"}, code: 4, out: "db.service"},
		{args: []string{"status", "*.socket"}, out: "app.socket - App socket", notOut: "web.service"},
		{args: []string{"status", "1240"}, out: "● web.service - Example web server\n"},
		{args: []string{"status", "777"}, code: 4, err: "PID 777 does not belong to any loaded unit"},

		{args: []string{"list-units"}, out: "  UNIT        LOAD   ACTIVE SUB       DESCRIPTION\n" +
			"  app.socket  loaded active listening App socket\n" +
			"● bad.service loaded failed failed    Broken\n" +
			"  web.service loaded active running   Example web server\n" +
			"|3 loaded units listed. Pass --all to see loaded but inactive units, too.\n", notOut: "db.service"},
		{args: []string{"list-units", "--all", "--no-legend"}, out: "db.service", notOut: "UNIT"},
		{args: []string{"list-units", "--state=failed"}, out: "bad.service", notOut: "web.service"},
		{args: []string{"list-units", "--type", "socket"}, out: "app.socket", notOut: "web.service"},
		{args: []string{"list-units", "w*"}, out: "web.service", notOut: "bad.service"},
		{args: []string{"list-unit-files"}, out: "UNIT FILE   STATE    PRESET\n|app.socket  static   -\n\n3 unit files listed.\n"},
		{args: []string{"list-unit-files", "--state=enabled"}, out: "web.service enabled enabled\n", notOut: "db.service"},
		{args: []string{"cat", "web"}, out: "# /etc/tend/units/web.service\n[Service]\nExecStart=/bin/web\n\n# /etc/tend/units/web.service.d/env.conf\n[Service]\nEnvironment=A=1\n"},
		{args: []string{"cat", "nope"}, code: 1, err: "No files found for nope.service.\n"},
		{args: []string{"show", "web", "-p", "Restart,ActiveState"}, out: "Restart=always\nActiveState=active\n", notOut: "Id="},
		{args: []string{"show", "web", "-p", "MainPID", "--value"}, out: "1234\n", notOut: "="},
		{args: []string{"show", "web"}, out: "Id=web.service\n", notOut: "Empty="},
		{args: []string{"show", "web", "--all"}, out: "Empty=\n"},
		{args: []string{"is-active", "web"}, out: "active\n"},
		{args: []string{"is-active", "db", "web"}, out: "inactive\nactive\n"},
		{args: []string{"is-active", "db", "nope"}, code: 3, out: "inactive\ninactive\n"},
		{args: []string{"is-active", "-q", "db"}, code: 3, notOut: "inactive"},
		{args: []string{"is-failed", "bad"}, out: "failed\n"},
		{args: []string{"is-failed", "web"}, code: 1, out: "active\n"},
		{args: []string{"list-dependencies", "web"}, out: "web.service\n○ ├─db.service\n● │ └─app.socket\n× └─bad.service\n"},
		{args: []string{"list-dependencies", "--reverse", "web"}, lastMethod: "list-dependencies"},

		{args: []string{"enable", "web"}, err: "Removed \"/etc/tend/units/old.target.wants/web.service\".\n" +
			"Created symlink /etc/tend/units/multi-user.target.wants/web.service → /etc/tend/units/web.service.\n", lastMethod: "unit-files"},
		{args: []string{"disable", "-q", "web"}, notOut: "Removed", lastMethod: "unit-files"},
		{args: []string{"enable", "nope"}, code: 1, err: "Failed to enable unit: Unit file nope.service does not exist.\n"},
		{args: []string{"mask", "--now", "--runtime", "db"}, lastMethod: "unit-files"},
		{args: []string{"unmask", "db"}, lastMethod: "unit-files"},
		{args: []string{"reenable", "web"}, lastMethod: "unit-files"},
		{args: []string{"is-enabled", "web", "db"}, out: "enabled\ndisabled\n"},
		{args: []string{"is-enabled", "db"}, code: 1, out: "disabled\n"},
		{args: []string{"is-enabled", "app.socket"}, out: "static\n"},
		{args: []string{"is-enabled", "nope"}, code: 1, err: "Failed to get unit file state for nope.service: No such file or directory\n"},
		{args: []string{"status", "web", "-o", "yaml"}, code: 1, err: "unknown output format"},
		{args: []string{"start"}, code: 1, err: "too few arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := ctlFake()
			code, out, errOut := runCLI(serveFake(t, f), tt.args...)
			if code != tt.code {
				t.Errorf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			checkParts(t, "stdout", out, tt.out)
			checkParts(t, "stderr", errOut, tt.err)
			if tt.notOut != "" && strings.Contains(out+errOut, tt.notOut) {
				t.Errorf("output contains %q:\n%s%s", tt.notOut, out, errOut)
			}
			if tt.lastMethod != "" {
				calls := f.Calls()
				if len(calls) == 0 || calls[len(calls)-1].Method != tt.lastMethod {
					t.Errorf("calls %+v; want the last to be %s", calls, tt.lastMethod)
				}
			}
		})
	}
}

// checkParts checks that got contains each "|"-separated part of want, in
// order; the parts stand for text whose middle varies (times, hosts).
func checkParts(t *testing.T, what, got, want string) {
	t.Helper()
	rest := got
	for _, part := range strings.Split(want, "|") {
		i := strings.Index(rest, part)
		if i < 0 {
			t.Errorf("%s lacks %q (in order); got:\n%s", what, part, got)
			return
		}
		rest = rest[i+len(part):]
	}
}

// TestCallArguments checks that flags reach the daemon as options.
func TestCallArguments(t *testing.T) {
	f := ctlFake()
	sock := serveFake(t, f)
	runCLI(sock, "kill", "-s", "HUP", "--kill-whom=main", "web")
	runCLI(sock, "restart", "--no-block", "--job-mode=fail", "web")
	runCLI(sock, "mask", "--now", "--runtime", "db")
	runCLI(sock, "list-dependencies", "--reverse", "web")
	runCLI(sock, "list-dependencies", "--reverse", "--after", "--all", "web")
	runCLI(sock, "list-dependencies", "--before", "web")
	calls := f.Calls()
	if len(calls) != 6 {
		t.Fatalf("calls %+v; want 6", calls)
	}
	if c := calls[0]; c.Signal != 1 || c.Op != "main" || c.Names[0] != "web.service" {
		t.Errorf("kill call %+v; want SIGHUP to main of web.service", c)
	}
	if c := calls[1]; !c.Opts.NoWait || c.Opts.Mode != "fail" {
		t.Errorf("restart call %+v; want no_wait and mode fail", c)
	}
	if c := calls[2]; c.Op != "mask" || !c.Inst.Now || !c.Inst.Runtime {
		t.Errorf("mask call %+v; want now and runtime", c)
	}
	for i, want := range []string{"reverse all=false", "after all=true", "before all=false"} {
		if c := calls[3+i]; c.Op != want {
			t.Errorf("list-dependencies call %+v; want %s", c, want)
		}
	}
}

func TestJSONOutput(t *testing.T) {
	sock := serveFake(t, ctlFake())
	tests := []struct {
		args []string
		into any
		code int
	}{
		{[]string{"status", "web", "db", "-o", "json"}, &[]api.UnitStatus{}, 3},
		{[]string{"list-units", "--all", "-o", "json"}, &[]api.UnitStatus{}, 0},
		{[]string{"list-units", "--state=nothing", "-o", "json"}, &[]api.UnitStatus{}, 0},
		{[]string{"list-unit-files", "-o", "json-pretty"}, &[]api.UnitFile{}, 0},
		{[]string{"show", "web", "-o", "json"}, &[]map[string]string{}, 0},
		{[]string{"cat", "web", "-o", "json"}, &[][]api.UnitText{}, 0},
		{[]string{"list-dependencies", "web", "-o", "json"}, &api.DepTree{}, 0},
		{[]string{"is-enabled", "web", "-o", "json"}, &[]string{}, 0},
		{[]string{"enable", "web", "-o", "json"}, &api.InstallChanges{}, 0},
		{[]string{"daemon-reload", "-o", "json"}, &api.ReloadReport{}, 0},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(sock, tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d; want %d (%s)", tt.args, code, tt.code, errOut)
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(tt.into); err != nil {
			t.Errorf("%v: output does not parse: %v\n%s", tt.args, err, out)
		}
	}
	_, out, _ := runCLI(sock, "status", "web", "-o", "json")
	var units []api.UnitStatus
	if json.Unmarshal([]byte(out), &units) != nil || len(units) != 1 || units[0].MainPID != 1234 {
		t.Errorf("status -o json = %s; want web.service with main pid 1234", out)
	}
}

func TestNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	for _, args := range [][]string{{"start", "web"}, {"status", "web"}, {"list-units"}} {
		code, _, errOut := runCLI(sock, args...)
		if code != 1 || errOut != "tend is not running (no socket at "+sock+")\n" {
			t.Errorf("%v: exit %d, stderr %q; want 1 and the not-running message", args, code, errOut)
		}
	}
}

func TestChangedOnDiskWarning(t *testing.T) {
	f := ctlFake()
	f.Units["web.service"].NeedReload = true
	f.Units["web.service"].Warnings = []string{"web.service: ProtectSystem= is not supported; ignoring"}
	sock := serveFake(t, f)
	_, _, errOut := runCLI(sock, "status", "web")
	want := "Warning: The unit file, source configuration file or drop-ins of web.service changed on disk. Run 'tend daemon-reload' to reload units.\n"
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "Warning: web.service: ProtectSystem=") {
		t.Errorf("stderr %q; want the warnings", errOut)
	}
	if _, _, errOut := runCLI(sock, "restart", "web"); errOut != want {
		t.Errorf("restart: stderr %q; want %q", errOut, want)
	}
	if _, _, errOut := runCLI(sock, "status", "-q", "web"); errOut != "" {
		t.Errorf("with -q stderr %q; want nothing", errOut)
	}
}
