package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMultiCall links systemctl and journalctl to tend, as a container
// image would, and uses them against a running instance; it also checks
// TEND_SOCKET, --version and the shell completion of unit names.
func TestMultiCall(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.service"), []byte("[Unit]\nDescription=Says hello\n[Service]\n"+
		"ExecStart=/bin/sh -c 'echo hello from the unit; exec sleep 1000'\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=hello.service\n"), 0o644)
	in := startTend(t, dir)
	bin := t.TempDir()
	for _, name := range []string{"systemctl", "journalctl"} {
		if err := os.Symlink(tendBin, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, env []string, args ...string) (string, int) {
		t.Helper()
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Env = append(os.Environ(), env...)
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	sock := "TEND_SOCKET=" + in.socket
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"systemctl", []string{"--help"}, "called as systemctl"},
		{"systemctl", []string{"--version"}, "systemctl "},
		{"journalctl", []string{"--help"}, "called as journalctl"},
		{"journalctl", []string{"--version"}, "journalctl "},
		{"systemctl", []string{"is-active", "hello"}, "active\n"},
		{"systemctl", []string{"show", "-P", "Description", "hello"}, "Says hello\n"},
	} {
		out, code := run(tt.name, []string{sock}, tt.args...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s %s: exit %d, output\n%s\nwant it to contain %q", tt.name, strings.Join(tt.args, " "), code, out, tt.want)
		}
	}
	// journalctl follows the unit's output (the line may be written before
	// or after this starts: -n 10 shows it either way).
	jc := exec.Command(filepath.Join(bin, "journalctl"), "-u", "hello", "-f", "-n", "10")
	jc.Env = append(os.Environ(), sock)
	stdout, err := jc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := jc.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "hello from the unit") {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Errorf("journalctl -u hello -f ended without the unit's line")
		}
	case <-time.After(20 * time.Second):
		t.Errorf("journalctl -u hello -f: no line of the unit within 20s")
	}
	jc.Process.Kill()
	jc.Wait()

	out, _ := exec.Command(tendBin, "--version").Output()
	if !strings.HasPrefix(string(out), "tend ") || !strings.Contains(string(out), "(go1.") {
		t.Errorf("tend --version = %q; want \"tend VERSION (goX.Y…)\"", out)
	}
	// What a shell's completion script runs on <TAB>.
	c := exec.Command(tendBin, "__complete", "status", "hel")
	c.Env = append(os.Environ(), sock)
	out, err = c.Output()
	if err != nil || !strings.Contains(string(out), "hello.service\tSays hello") {
		t.Errorf("completion of \"status hel\": %v\n%s", err, out)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out, err := exec.Command(tendBin, "completion", sh).Output(); err != nil || len(out) == 0 {
			t.Errorf("tend completion %s: %v", sh, err)
		}
	}
}
