package svdir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/unit"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "run") || strings.HasPrefix(filepath.Base(filepath.Dir(name)), "control") ||
			name == "finish" || name == "check" {
			mode = 0o755
		}
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    Service // Name, Dir and Log.Dir are filled in
		log     bool
		wantErr string
	}{
		{"run only", map[string]string{"run": "#!/bin/sh\n"}, Service{}, false, ""},
		{"everything", map[string]string{"run": "#!/bin/sh\n", "finish": "#!/bin/sh\n", "down": "", "check": "",
			"conf": "X=1\n", "env/A": "1\n", "log/run": "#!/bin/sh\n", "log/down": ""},
			Service{Down: true, Finish: true, Check: true, Conf: true, EnvDir: "env"}, true, ""},
		{"no run", map[string]string{"finish": "x"}, Service{}, false, "no run file"},
		{"run not executable", map[string]string{"run/": ""}, Service{}, false, "not a regular file"},
		{"log without run", map[string]string{"run": "#!/bin/sh\n", "log/finish": ""}, Service{}, false, "log: no run file"},
		{"log is a file", map[string]string{"run": "#!/bin/sh\n", "log": ""}, Service{}, false, "log is not a directory"},
		{"env is a file", map[string]string{"run": "#!/bin/sh\n", "env": ""}, Service{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, tt.files)
			got, err := Read(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+"/", ""), tt.wantErr) {
					t.Fatalf("Read error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Name, want.Dir = "svc", dir
			if want.EnvDir != "" {
				want.EnvDir = filepath.Join(dir, want.EnvDir)
			}
			if (got.Log != nil) != tt.log {
				t.Fatalf("Log = %+v; want a log: %v", got.Log, tt.log)
			}
			if tt.log && (got.Log.Dir != filepath.Join(dir, "log") || got.Log.Name != "svc/log" || !got.Log.Down) {
				t.Errorf("Log = %+v", got.Log)
			}
			got.Log = nil
			if *got != want {
				t.Errorf("Read = %+v; want %+v", *got, want)
			}
		})
	}
	t.Run("run without x bit", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "run is not executable") {
			t.Errorf("Read = %v; want run is not executable", err)
		}
	})
}

func TestControlScript(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"control/u": "#!/bin/sh\n", "control/h": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(dir, "control/h"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c    Command
		want string
	}{
		{CmdUp, "control/u"}, {CmdOnce, "control/u"}, {CmdHup, ""}, {CmdTerm, ""},
	}
	for _, tt := range tests {
		got := ControlScript(dir, tt.c)
		if tt.want != "" {
			tt.want = filepath.Join(dir, tt.want)
		}
		if got != tt.want {
			t.Errorf("ControlScript(%v) = %q; want %q", tt.c, got, tt.want)
		}
	}
}

// FinishArgs gives what the real runsv gives ./finish for the same exit.
func TestFinishArgsAgainstRunsv(t *testing.T) {
	needTool(t, "runsv")
	for _, tt := range []struct{ name, run string }{
		{"exit 3", "exit 3"},
		{"exit 0", "exit 0"},
		{"killed", "kill -9 $$"},
		{"terminated", "kill -TERM $$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := t.TempDir()
			writeFiles(t, svc, map[string]string{
				"run":    "#!/bin/sh\n" + tt.run + "\n",
				"finish": "#!/bin/sh\necho \"$@\" >args.new && mv args.new args\n",
				"down":   "",
			})
			runsv(t, svc)
			if err := os.WriteFile(filepath.Join(svc, "supervise/control"), []byte("o"), 0); err != nil {
				t.Fatal(err)
			}
			var ref []byte
			waitFor(t, svc, "finish's arguments", func() bool {
				var err error
				ref, err = os.ReadFile(filepath.Join(svc, "args"))
				return err == nil
			})
			err := exec.Command("/bin/sh", "-c", tt.run).Run()
			var ee *exec.ExitError
			var ws unix.WaitStatus
			if errors.As(err, &ee) {
				ws = unix.WaitStatus(ee.Sys().(syscall.WaitStatus))
			}
			if got := strings.Join(FinishArgs(ws), " ") + "\n"; got != string(ref) {
				t.Errorf("FinishArgs = %q; runsv gave %q", got, ref)
			}
		})
	}
}

func TestUnitName(t *testing.T) {
	tests := []struct {
		name string
		log  bool
		want string
	}{
		{"sshd", false, "sshd.svdir"},
		{"sshd", true, "sshd:log.svdir"},
		{"getty-tty1", false, "getty-tty1.svdir"},
		{"a.b_c", false, "a.b_c.svdir"},
		{"x:log", false, `x\x3alog.svdir`},
		{"a b@c/", false, `a\x20b\x40c\x2f.svdir`},
		{"a..b", false, `a.\x2eb.svdir`},
		{"a.", false, `a\x2e.svdir`},
		{"é", false, `\xc3\xa9.svdir`},
	}
	for _, tt := range tests {
		got := UnitName(tt.name, tt.log)
		if got != tt.want {
			t.Errorf("UnitName(%q, %v) = %q; want %q", tt.name, tt.log, got, tt.want)
		}
		if err := unit.ValidName(strings.TrimSuffix(got, ".svdir") + ".service"); err != nil {
			t.Errorf("UnitName(%q) = %q is no valid unit name: %v", tt.name, got, err)
		}
	}
}

func FuzzUnitName(f *testing.F) {
	f.Add("sshd", false)
	f.Add("x:log", true)
	f.Fuzz(func(t *testing.T, name string, log bool) {
		if name == "" || strings.HasPrefix(name, ".") || len(name) > 50 {
			return // not a service name (runsvdir skips dot-names)
		}
		got := UnitName(name, log)
		if err := unit.ValidName(strings.TrimSuffix(got, ".svdir") + ".service"); err != nil {
			t.Fatalf("UnitName(%q) = %q: %v", name, got, err)
		}
		if strings.Contains(strings.TrimSuffix(got, ":log.svdir"), ":") {
			t.Fatalf("UnitName(%q) = %q: ':' is the log's mark", name, got)
		}
	})
}

func TestEnvValue(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		unset bool
	}{
		{"", "", true},
		{"\n", "", false},
		{"value\n", "value", false},
		{"value", "value", false},
		{"a b \t \nsecond line\n", "a b", false},
		{"x\x00y\n", "x\ny", false},
		{" lead", " lead", false},
		{"trail\r\n", "trail\r", false}, // only spaces and tabs are trimmed
	}
	for _, tt := range tests {
		got, unset := EnvValue([]byte(tt.in))
		if got != tt.want || unset != tt.unset {
			t.Errorf("EnvValue(%q) = %q, %v; want %q, %v", tt.in, got, unset, tt.want, tt.unset)
		}
	}
}

func FuzzEnvValue(f *testing.F) {
	for _, s := range []string{"", "\n", "a\n", "x\x00y \t\nz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, unset := EnvValue(b)
		if unset != (len(b) == 0) || (unset && v != "") {
			t.Fatalf("EnvValue(%q) = %q, %v", b, v, unset)
		}
		if strings.HasSuffix(v, " ") || strings.HasSuffix(v, "\t") || len(v) > len(b) {
			t.Fatalf("EnvValue(%q) = %q", b, v)
		}
	})
}

// ReadEnvDir + ApplyEnv give the environment daemontools' envdir and
// runit's chpst -e give.
func TestEnvDirAgainstTools(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"PLAIN": "value\nignored\n", "TRAIL": "x \t\n", "NUL": "a\x00b", "GONE": "", "EMPTY": "\n",
		".hidden": "no\n", "KEEP_NEW": "new\n",
	})
	vars, err := ReadEnvDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"GONE=old", "KEEP=1", "KEEP_NEW=old", "PATH=/usr/bin:/bin"}
	want := ApplyEnv(base, vars)
	sort.Strings(want)
	for _, tool := range [][]string{{"envdir", dir}, {"chpst", "-e", dir}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			t.Logf("%s not installed", tool[0])
			continue
		}
		args := append(append([]string{"-i"}, base...), tool...)
		out, err := exec.Command("env", append(args, "/usr/bin/env", "-0")...).Output()
		if err != nil {
			t.Fatalf("%v: %v", tool, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s gives %q; ReadEnvDir+ApplyEnv %q", tool[0], got, want)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "SUB"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvDir(dir); err == nil {
		t.Error("ReadEnvDir with a directory inside: no error")
	}
}

// TestEnvDirFIFO: a FIFO in env/ is refused at once; opening it for
// reading would wait for a writer, and ./run is started on the manager's
// loop.
func TestEnvDirFIFO(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"PLAIN": "value\n"})
	if err := unix.Mkfifo(filepath.Join(dir, "PIPE"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvDir(dir); err == nil || !strings.Contains(err.Error(), "PIPE is not a regular file") {
		t.Errorf("ReadEnvDir with a FIFO: %v; want it refused", err)
	}
}
