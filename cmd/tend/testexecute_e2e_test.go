package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sdFloor is the score below which TestSystemdTestExecute fails: the
// suite is a yardstick, and a change that loses passing units is a
// regression. It was 63 before sandboxing, 113 with it, and is 133 (all
// the units this development VM can run) since; a machine with fewer
// capabilities lists what it cannot run as not runnable, with why. The
// floor leaves room for two: exec-dynamicuser-runtimedirectory1 and
// exec-dynamicuser-statedir-migrate-step2 pass alone but failed once
// while every other package's tests ran beside them (a PrivateTmp=
// source gone before the helper's bind), not yet explained.
const sdFloor = 131

// TestSystemdTestExecute runs systemd's own test-execute units under
// tend, each checked as test-execute.c checks it: the main process's
// exit code and status (or the Result= of its test_service cases), with
// the set-up test-execute.c does before it. It prints the score P/N and
// every failure with its reason; units this machine cannot run are
// listed with the reason too.
func TestSystemdTestExecute(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the suite runs the system instance and needs root")
	}
	src := sdSource(t)
	cfile, err := os.ReadFile(filepath.Join(src, "src", "test", "test-execute.c"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parseTestExecute(string(cfile))
	if err != nil {
		t.Fatal(err)
	}
	units := t.TempDir()
	copied, _ := filepath.Glob(filepath.Join(src, "test", "test-execute", "*"))
	for _, p := range copied {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sdUnitText[filepath.Base(p)] = string(b)
		os.WriteFile(filepath.Join(units, filepath.Base(p)), b, 0o644)
	}
	if d, err := apivfsDropIn(); err == nil {
		os.MkdirAll(filepath.Join(units, "exec-mount-apivfs-no.service.d"), 0o755)
		os.WriteFile(filepath.Join(units, "exec-mount-apivfs-no.service.d", "10-bind-mount.conf"), []byte(d), 0o644)
	}
	made := newDirs()
	t.Cleanup(func() { sdCleanup(cases); made() })

	// TEND_SD_ONLY=regexp runs only the matching units (for debugging).
	only := regexp.MustCompile(os.Getenv("TEND_SD_ONLY"))
	var pass, ran int
	var fails, notHere []string
	var in *instance
	var env map[string]string
	for _, c := range cases {
		if !only.MatchString(c.unit) {
			continue
		}
		if why := sdNotHere(c); why == "-" {
			continue
		} else if why != "" {
			notHere = append(notHere, c.unit+": "+why)
			continue
		}
		for _, s := range c.steps {
			if err := runStep(s); err != nil {
				t.Fatalf("set-up for %s: %s %s: %v", c.unit, s.op, s.path, err)
			}
		}
		if in == nil || !maps.Equal(env, c.env) {
			if in != nil {
				in.stop()
			}
			env = c.env
			in = sdLaunch(t, units, env)
		}
		ran++
		if why := sdRun(in, c); why != "" {
			fails = append(fails, c.unit+": "+why)
			continue
		}
		pass++
	}
	if in != nil {
		in.stop()
	}
	t.Logf("systemd test-execute under tend: %d/%d passed (%d cases not runnable here)", pass, ran+len(notHere), len(notHere))
	for _, f := range fails {
		t.Logf("FAIL %s", f)
	}
	for _, n := range notHere {
		t.Logf("NOT RUNNABLE %s", n)
	}
	if pass < sdFloor && os.Getenv("TEND_SD_ONLY") == "" {
		t.Errorf("score %d is below the floor %d", pass, sdFloor)
	}
}

// sdLaunch starts tend with the manager environment test-execute.c
// gives the case: without USER, LOGNAME, SHELL, HOME, TMPDIR and the
// PassEnvironment= test variables, plus env.
func sdLaunch(t *testing.T, units string, env map[string]string) *instance {
	t.Helper()
	for _, k := range []string{"USER", "LOGNAME", "SHELL", "HOME", "TMPDIR", "VAR1", "VAR2", "VAR3", "VAR4", "VAR5"} {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v) // tend and its client are run by absolute path
		t.Cleanup(func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	return startTend(t, units)
}

// sdRun starts the case's unit, waits for it to finish, and returns why
// the outcome differs from test-execute.c's expectation ("" if not).
func sdRun(in *instance, c sdCase) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startOut, startErr := exec.CommandContext(ctx, tendBin, "start", c.unit, "--socket", in.socket).CombinedOutput()
	props := map[string]string{}
	for {
		out, err := exec.CommandContext(ctx, tendBin, "show", "-p", "ActiveState,Result,ExecMainCode,ExecMainStatus", c.unit, "--socket", in.socket).Output()
		if err != nil {
			return fmt.Sprintf("show: %v (start: %v %s)", err, startErr, strings.TrimSpace(string(startOut)))
		}
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				props[k] = v
			}
		}
		if st := props["ActiveState"]; st != "active" && st != "activating" && st != "deactivating" {
			break
		}
		select {
		case <-ctx.Done():
			return "did not finish within 2 minutes"
		case <-time.After(20 * time.Millisecond): // a simple service's exit has no client-side event
		}
	}
	got := ""
	if c.result != "" {
		if props["Result"] == c.result {
			return ""
		}
		got = fmt.Sprintf("Result=%s, want %s", props["Result"], c.result)
	} else {
		code := map[string]string{"1": "exited", "2": "killed", "3": "killed"}[props["ExecMainCode"]]
		if code == c.code && props["ExecMainStatus"] == fmt.Sprint(c.status) {
			return ""
		}
		got = fmt.Sprintf("%s status %s, want %s status %d", code, props["ExecMainStatus"], c.code, c.status)
		switch {
		case props["ExecMainCode"] == "":
			got += fmt.Sprintf(" (tend shows no such unit after start: %v %s)", startErr, strings.TrimSpace(string(startOut)))
		case props["ExecMainCode"] == "0" && startErr != nil:
			got += fmt.Sprintf(" (start: %s)", strings.TrimSpace(string(startOut)))
		}
	}
	logs, _ := exec.Command(tendBin, "logs", "-u", c.unit, "-n", "8", "-o", "cat", "--no-pager", "--socket", in.socket).Output()
	if l := strings.TrimSpace(string(logs)); l != "" {
		got += " | " + strings.ReplaceAll(l, "\n", " | ")
	}
	return got
}

// sdCleanup removes what the set-up steps created.
func sdCleanup(cases []sdCase) {
	for _, c := range cases {
		for _, s := range c.steps {
			if s.op != "rm" && s.op != "unlink" && strings.HasPrefix(s.path, "/tmp/") {
				os.RemoveAll(s.path)
			}
		}
	}
}

// newDirs notes which directories the suite's units may create below
// /var/lib, /var/cache, /var/log and /run (their *Directory= settings,
// and private/ for DynamicUser=) already exist, and returns a function
// that removes the others.
func newDirs() func() {
	re := regexp.MustCompile(`(?m)^(State|Cache|Logs|Runtime)Directory=(.*)$`)
	bases := map[string]string{"State": "/var/lib", "Cache": "/var/cache", "Logs": "/var/log", "Runtime": "/run"}
	var cands []string
	for _, text := range sdUnitText {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, w := range strings.Fields(m[2]) {
				for _, part := range strings.Split(w, ":") {
					top, _, _ := strings.Cut(part, "/")
					if top != "" && !strings.Contains(top, "%") {
						cands = append(cands, filepath.Join(bases[m[1]], top))
					}
				}
			}
		}
	}
	for _, b := range []string{"/var/lib", "/var/cache", "/var/log"} {
		cands = append(cands, filepath.Join(b, "private"))
	}
	var fresh []string
	for _, c := range cands {
		if _, err := os.Lstat(c); err != nil {
			fresh = append(fresh, c)
		}
	}
	return func() {
		for _, c := range fresh {
			os.RemoveAll(c)
		}
	}
}
