package unit

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServiceDefaults(t *testing.T) {
	u := loadText(t, "d.service", "[Service]\nExecStart=/bin/true\n")
	s := u.Service
	if u.Load != Loaded || s.Type != TypeSimple || s.Restart != RestartNo || s.RestartSec != 100*time.Millisecond ||
		s.TimeoutStart != 90*time.Second || s.TimeoutStop != 90*time.Second || s.Kill.Mode != KillControlGroup ||
		s.Kill.Signal != 15 || s.Kill.RestartKillSignal != 15 || s.Kill.FinalKillSignal != 9 || !s.Kill.SendSIGKILL ||
		s.Exec.UMask != 0o022 || u.StartLimitInterval != 10*time.Second || u.StartLimitBurst != 5 ||
		!u.DefaultDependencies || s.Exec.RuntimeDirectory.Mode != 0o755 || s.RuntimeMax != Infinity {
		t.Errorf("defaults wrong: %+v %+v", u, s)
	}
	if len(u.Diags) != 0 {
		t.Errorf("diags: %s", diagText(u))
	}
	if u := loadText(t, "o.service", "[Service]\nExecStop=/bin/true\nRemainAfterExit=yes\n"); u.Service.Type != TypeOneshot || u.Load != Loaded {
		t.Errorf("no ExecStart: type %q load %q; want oneshot loaded (%s)", u.Service.Type, u.Load, diagText(u))
	}
}

func TestServiceDirectives(t *testing.T) {
	u := loadText(t, "s.service", `[Unit]
Description=My %n
Documentation=man:foo(8) https://example.com
Wants=a.service b.service
Wants=
Wants=c.service
After=a.service %p.target
Requires=x.socket
BindsTo=y.service
StartLimitBurst=3
StartLimitIntervalSec=1min
DefaultDependencies=no
JobTimeoutSec=infinity
ConditionPathExists=|!/etc/x
AssertPathIsDirectory=/tmp
ConditionKernelCommandLine=quiet

[Service]
Type=notify
ExecStartPre=-/bin/echo pre
ExecStartPre=/bin/echo pre2
ExecStart=/usr/bin/daemon --flag "two words"
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
TimeoutSec=30
TimeoutStopSec=infinity
WatchdogSec=10
SuccessExitStatus=3 SIGUSR1
KillMode=mixed
KillSignal=SIGINT
SendSIGKILL=no
User=nobody
Group=nogroup
SupplementaryGroups=adm  disk
Environment=A=1 "B=two words"
Environment=C=%p
EnvironmentFile=-/etc/default/s
EnvironmentFile=/etc/s.env
WorkingDirectory=-~
UMask=0077
Nice=-5
OOMScoreAdjust=100
LimitNOFILE=1024:4096
LimitCORE=infinity
RuntimeDirectory=s s//sub/./
RuntimeDirectoryMode=0700
StateDirectory=s
StandardOutput=append:/var/log/s.log
StandardError=journal
SyslogIdentifier=ss
PIDFile=s.pid
StartLimitInterval=2min

[Install]
WantedBy=multi-user.target
Alias=s2.service
`)
	if u.Load != Loaded {
		t.Fatalf("load = %s: %s", u.Load, diagText(u))
	}
	if len(u.Diags) != 0 {
		t.Errorf("unexpected diags:\n%s", diagText(u))
	}
	s := u.Service
	checks := []struct {
		what      string
		got, want any
	}{
		{"Description", u.Description, "My s.service"},
		{"Documentation", u.Documentation, []string{"man:foo(8)", "https://example.com"}},
		{"Wants (empty does not reset deps)", u.Dependencies().Wants, []string{"a.service", "b.service", "c.service"}},
		{"After", u.Dependencies().After, []string{"a.service", "s.target"}},
		{"StartLimitBurst", u.StartLimitBurst, 3},
		{"StartLimitInterval (old name in [Service] wins later)", u.StartLimitInterval, 2 * time.Minute},
		{"DefaultDependencies", u.DefaultDependencies, false},
		{"Conditions", len(u.Conditions), 3},
		{"cond0", u.Conditions[0].Trigger && u.Conditions[0].Negate && u.Conditions[0].Arg == "/etc/x" && !u.Conditions[0].Assert, true},
		{"assert", u.Conditions[1].Assert && u.Conditions[1].Kind == "PathIsDirectory", true},
		{"Type", s.Type, TypeNotify},
		{"ExecStartPre", len(s.ExecStartPre), 2},
		{"ExecStartPre[0].IgnoreFailure", s.ExecStartPre[0].IgnoreFailure, true},
		{"ExecStart argv", s.ExecStart[0].Argv, []string{"/usr/bin/daemon", "--flag", "two words"}},
		{"ExecStart line", s.ExecStart[0].Line, 22},
		{"ExecReload", s.ExecReload[0].Argv, []string{"/bin/kill", "-HUP", "$MAINPID"}},
		{"Restart", s.Restart, RestartOnFailure},
		{"RestartSec", s.RestartSec, 5 * time.Second},
		{"TimeoutStart", s.TimeoutStart, 30 * time.Second},
		{"TimeoutStop", s.TimeoutStop, Infinity},
		{"TimeoutAbort follows TimeoutStop", s.TimeoutAbort, Infinity},
		{"Watchdog", s.Watchdog, 10 * time.Second},
		{"SuccessExitStatus", s.SuccessExitStatus, ExitStatusSet{Codes: []int{3}, Signals: []int{10}}},
		{"KillMode", s.Kill.Mode, KillMixed},
		{"KillSignal", s.Kill.Signal, 2},
		{"RestartKillSignal follows KillSignal", s.Kill.RestartKillSignal, 2},
		{"SendSIGKILL", s.Kill.SendSIGKILL, false},
		{"User", s.Exec.User, "nobody"},
		{"Group", s.Exec.Group, "nogroup"},
		{"SupplementaryGroups", s.Exec.SupplementaryGroups, []string{"adm", "disk"}},
		{"Environment", s.Exec.Environment, []string{"A=1", "B=two words", "C=s"}},
		{"EnvironmentFiles", s.Exec.EnvironmentFiles, []EnvFile{{"/etc/default/s", true}, {"/etc/s.env", false}}},
		{"WorkingDirectory", s.Exec.WorkingDirectory + "|" + map[bool]string{true: "opt"}[s.Exec.WorkingDirectoryOptional], "~|opt"},
		{"UMask", s.Exec.UMask, uint32(0o077)},
		{"Nice", *s.Exec.Nice, -5},
		{"OOMScoreAdjust", *s.Exec.OOMScoreAdjust, 100},
		{"LimitNOFILE", s.Exec.Limits["NOFILE"], Rlimit{1024, 4096}},
		{"LimitCORE", s.Exec.Limits["CORE"], Rlimit{RlimInfinity, RlimInfinity}},
		{"RuntimeDirectory", s.Exec.RuntimeDirectory, DirSpec{Paths: []string{"s", "s/sub"}, Mode: 0o700}},
		{"StateDirectory", s.Exec.StateDirectory, DirSpec{Paths: []string{"s"}, Mode: 0o755}},
		{"StandardOutput", s.Exec.StandardOutput, "append:/var/log/s.log"},
		{"StandardError", s.Exec.StandardError, "journal"},
		{"SyslogIdentifier", s.Exec.SyslogIdentifier, "ss"},
		{"PIDFile", s.PIDFile, "/run/s.pid"},
		{"WantedBy", u.Install.WantedBy, []string{"multi-user.target"}},
		{"Alias", u.Install.Alias, []string{"s2.service"}},
		{"Entries kept", len(u.Entries) > 40, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v; want %#v", c.what, c.got, c.want)
		}
	}
}

// diagCases are units with problems: how they load and what is said.
var diagCases = []struct {
	name, text string
	load       LoadState
	diags      []string // substrings that must appear
}{
	{"unknown key", "[Service]\nExecStart=/bin/true\nExecStrat=/bin/x\n", Loaded, []string{"b.service:3: unknown key ExecStrat="}},
	{"bad value dropped", "[Service]\nExecStart=/bin/true\nRestart=sometimes\nRestartSec=soon\n", Loaded,
		[]string{":3: Restart=sometimes: unknown restart policy", ":4: RestartSec=soon: invalid time span"}},
	{"unsupported collected once", "[Service]\nExecStart=/bin/true\nRestrictFileSystems=ext4\nMountFlags=private\nRestrictFileSystems=\nMemoryZSwapMax=1G\n", Loaded,
		[]string{"not supported by tend, ignored: RestrictFileSystems, MountFlags, MemoryZSwapMax"}},
	{"no ExecStart", "[Service]\nType=simple\nExecStop=/bin/true\n", BadSetting, []string{"no ExecStart= setting"}},
	{"nothing at all", "[Unit]\nDescription=x\n", BadSetting, []string{"no ExecStart=, ExecStop="}},
	{"two ExecStart", "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n", BadSetting, []string{"more than one ExecStart="}},
	{"two ExecStart reset", "[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b\n", Loaded, nil},
	{"oneshot many", "[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b ; /bin/c\n", Loaded, nil},
	{"oneshot restart always", "[Service]\nType=oneshot\nExecStart=/bin/a\nRestart=always\n", BadSetting, []string{"Restart="}},
	{"unknown section", "[Service]\nExecStart=/bin/a\n[Foo]\nA=1\nB=2\n", Loaded, []string{"unknown section [Foo]"}},
	{"X- ignored", "[Service]\nExecStart=/bin/a\nX-Custom=1\n[X-Mine]\nA=1\n", Loaded, nil},
	{"bad dep name", "[Unit]\nWants=ok.service bad/name.service x@.service\n[Service]\nExecStart=/bin/a\n", Loaded,
		[]string{"contains '/'", "template without an instance"}},
	{"bad specifier", "[Unit]\nDescription=%z\n[Service]\nExecStart=/bin/a\n", Loaded, []string{"unknown specifier %z"}},
	{"bad exec", "[Service]\nExecStart=/bin/a\nExecStartPre=rel/path\n", BadSetting, []string{"neither absolute"}},
	{"unbalanced exec", "[Service]\nExecStart=/bin/a \"x\n", BadSetting, []string{"unbalanced"}},
	{"exec specifier", "[Service]\nExecStart=/bin/a %z\n", BadSetting, []string{"unknown specifier"}},
	{"exec prefixes", "[Service]\nExecStart=+!/bin/a\n", BadSetting, []string{"cannot be combined"}},
	{"bad user", "[Service]\nExecStart=/bin/a\nUser=bad:name\n", BadSetting, []string{"invalid user"}},
	{"odd group", "[Service]\nExecStart=/bin/a\nGroup=a b\n", Loaded, nil},
	{"relative root", "[Service]\nExecStart=/bin/a\nRootDirectory=rel\n", BadSetting, []string{"not absolute"}},
	{"pidfile specifier", "[Service]\nExecStart=/bin/a\nPIDFile=%z\n", Loaded, []string{"unknown specifier"}},
	{"bad runtime dir", "[Service]\nExecStart=/bin/a\nRuntimeDirectory=../x\n", Loaded, []string{"not a relative path below"}},
	{"runtime dir leaving by a/..", "[Service]\nExecStart=/bin/a\nRuntimeDirectory=a/../../x\n", Loaded, []string{"not a relative path below"}},
	{"absolute runtime dir", "[Service]\nExecStart=/bin/a\nStateDirectory=/x\n", Loaded, []string{"not a relative path below"}},
	{"bad env", "[Service]\nExecStart=/bin/a\nEnvironment=OK=1 9X=2\n", Loaded, []string{`invalid environment assignment "9X=2"`}},
	{"relative env file", "[Service]\nExecStart=/bin/a\nEnvironmentFile=x.env\n", Loaded, []string{"not absolute"}},
	{"bad workdir", "[Service]\nExecStart=/bin/a\nWorkingDirectory=rel\n", BadSetting, []string{"neither absolute nor ~"}},
	{"condition reset", "[Unit]\nConditionPathExists=/a\nConditionPathExists=\n[Service]\nExecStart=/bin/a\n", Loaded, nil},
	{"unknown escape warns", "[Service]\nExecStart=/bin/echo \\q\n", Loaded, []string{"unknown escape"}},
	{"socket section untyped", "[Socket]\nListenStream=80\nWhatever=1\n[Unit]\nDescription=x\n", Loaded, nil},
}

func TestDiagnostics(t *testing.T) {
	for _, tt := range diagCases {
		t.Run(tt.name, func(t *testing.T) {
			name := "b.service"
			if strings.Contains(tt.name, "socket") {
				name = "b.socket"
			}
			u := loadText(t, name, tt.text)
			if u.Load != tt.load {
				t.Errorf("load = %s; want %s\n%s", u.Load, tt.load, diagText(u))
			}
			got := diagText(u)
			for _, want := range tt.diags {
				if !strings.Contains(got, want) {
					t.Errorf("diags missing %q:\n%s", want, got)
				}
			}
			if len(tt.diags) == 0 && tt.load == Loaded && got != "" {
				t.Errorf("unexpected diags:\n%s", got)
			}
			if strings.Count(got, "not supported by tend") > 1 {
				t.Errorf("more than one unsupported warning:\n%s", got)
			}
		})
	}
}

func TestConditionsReset(t *testing.T) {
	u := loadText(t, "c.service", "[Unit]\nConditionPathExists=/a\nAssertPathExists=/b\nConditionPathExists=\nConditionHost=x\n[Service]\nExecStart=/bin/a\n")
	if len(u.Conditions) != 2 || !u.Conditions[0].Assert || u.Conditions[1].Kind != "Host" {
		t.Errorf("conditions = %+v", u.Conditions)
	}
}

func TestOneshotMultiCommand(t *testing.T) {
	u := loadText(t, "m.service", "[Service]\nType=oneshot\nExecStart=/bin/a 1 ; /bin/b 2\nExecStart=/bin/c\n")
	var paths []string
	for _, c := range u.Service.ExecStart {
		paths = append(paths, c.Path)
	}
	if !reflect.DeepEqual(paths, []string{"/bin/a", "/bin/b", "/bin/c"}) {
		t.Errorf("ExecStart paths = %q", paths)
	}
}

// TestBadSettingOracle checks that systemd-analyze verify calls exactly
// the units we mark bad-setting bad.
func TestBadSettingOracle(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: no oracle")
	}
	dir := t.TempDir()
	args := []string{"verify", "--man=no"}
	for i, tt := range diagCases {
		if !strings.Contains(tt.name, "socket") {
			p := filepath.Join(dir, fmt.Sprintf("case%d.service", i))
			write(t, p, tt.text)
			args = append(args, p)
		}
	}
	// One run for all files: verify names each bad unit in its output.
	out, _ := exec.Command(sa, args...).CombinedOutput()
	for i, tt := range diagCases {
		if strings.Contains(tt.name, "socket") {
			continue
		}
		systemdBad := strings.Contains(string(out), fmt.Sprintf("Unit case%d.service has a bad unit file setting", i))
		if systemdBad != (tt.load == BadSetting) {
			t.Errorf("%s: systemd bad=%v, we load %s", tt.name, systemdBad, tt.load)
		}
	}
	if t.Failed() {
		t.Logf("systemd-analyze verify said:\n%s", out)
	}
}

// TestExecSpecifiersPerWord: specifiers in Exec*= are resolved in each
// word after splitting, so one resolving to "" stays an empty argument
// and one resolving to text with blanks stays one argument.
func TestExecSpecifiersPerWord(t *testing.T) {
	u := loadText(t, "a-b.service", "[Service]\nExecStart=test %i = \"\" %J\nExecStart=/bin/echo \"%%i\" x%n\n")
	got := u.Service.ExecStart
	if len(got) != 2 || !slices.Equal(got[0].Argv, []string{"test", "", "=", "", "b"}) ||
		!slices.Equal(got[1].Argv, []string{"/bin/echo", "%i", "xa-b.service"}) {
		t.Errorf("ExecStart = %+v; want [test \"\" = \"\" b] and [/bin/echo %%i xa-b.service] (%s)", got, diagText(u))
	}
}

// TestOOMPolicy: OOMPolicy= takes continue, stop and kill; anything else
// is a bad setting named at load.
func TestOOMPolicy(t *testing.T) {
	for _, tt := range []struct{ in, want string }{{"kill", "kill"}, {"continue", "continue"}, {"stop", "stop"}, {"sometimes", ""}} {
		u := loadText(t, "o.service", "[Service]\nExecStart=/bin/true\nOOMPolicy="+tt.in+"\n")
		if u.Service.OOMPolicy != tt.want {
			t.Errorf("OOMPolicy=%s: %q; want %q", tt.in, u.Service.OOMPolicy, tt.want)
		}
		if bad := tt.want == ""; bad != strings.Contains(diagText(u), "OOM policy") {
			t.Errorf("OOMPolicy=%s: diags %q", tt.in, diagText(u))
		}
	}
}

// TestLongDependencyListsDeduplicated: a target that wants many units
// (the lists names indexes) keeps each name once, in first-seen order.
func TestLongDependencyListsDeduplicated(t *testing.T) {
	var text strings.Builder
	text.WriteString("[Unit]\n")
	var want []string
	for i := range 3 * longList {
		n := fmt.Sprintf("s%03d.service", i)
		want = append(want, n)
		fmt.Fprintf(&text, "Wants=%s\nAfter=%s s000.service\n", n, n)
	}
	for i := range 3 * longList {
		fmt.Fprintf(&text, "Wants=s%03d.service\n", (i*7)%(3*longList))
	}
	u := loadText(t, "many.target", text.String())
	if !slices.Equal(u.Dependencies().Wants, want) {
		t.Errorf("Wants = %v; want %v", u.Dependencies().Wants, want)
	}
	if !slices.Equal(u.Dependencies().After, want) {
		t.Errorf("After = %v; want %v", u.Dependencies().After, want)
	}
}

// TestWordListsReset: an empty assignment resets a list of words, and
// what follows starts it again.
func TestWordListsReset(t *testing.T) {
	u := loadText(t, "r.service", `[Unit]
Documentation=man:a(1)
Documentation=
Documentation=man:b(1)
[Service]
ExecStart=/bin/true
PassEnvironment=A
PassEnvironment=
PassEnvironment=B
UnsetEnvironment=C
UnsetEnvironment=
RuntimeDirectory=x
RuntimeDirectory=
RuntimeDirectory=y z
`)
	x := &u.Service.Exec
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"Documentation", u.Documentation, []string{"man:b(1)"}},
		{"PassEnvironment", x.PassEnvironment, []string{"B"}},
		{"UnsetEnvironment", x.UnsetEnvironment, nil},
		{"RuntimeDirectory", x.RuntimeDirectory.Paths, []string{"y", "z"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %q; want %q", c.what, c.got, c.want)
		}
	}
	if len(u.Diags) != 0 {
		t.Errorf("diags: %s", diagText(u))
	}
}
