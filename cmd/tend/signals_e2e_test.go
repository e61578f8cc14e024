package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestServicesStartWithDefaultSignals runs tend the way nohup, a shell
// with traps or a parent reading signals through signalfd would: SIGHUP
// and SIGPIPE ignored and SIGUSR1 blocked. Its services (one started
// directly, one through the exec helper, one through the pid trampoline)
// must start with nothing blocked and only what the unit asks ignored.
func TestServicesStartWithDefaultSignals(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run the system instance and need root")
	}
	dir := t.TempDir()
	out := t.TempDir()
	files := map[string]string{
		"fast.service":   "[Service]\nType=oneshot\nExecStart=/bin/cp /proc/self/status " + out + "/fast\n",
		"helper.service": "[Unit]\nAfter=fast.service\n[Service]\nType=oneshot\nUMask=0077\nExecStart=/bin/cp /proc/self/status " + out + "/helper\n",
		"nopipe.service": "[Unit]\nBefore=helper.service\n[Service]\nType=oneshot\nIgnoreSIGPIPE=no\nExecStart=/bin/cp /proc/self/status " + out + "/nopipe\n",
		"default.target": "[Unit]\nWants=fast.service helper.service nopipe.service\n",
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const wrapper = `import os, signal, sys
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.execv(sys.argv[1], sys.argv[1:])`
	work := t.TempDir()
	cmd := exec.Command(python, "-c", wrapper, tendBin, "run", "--units", dir,
		"--runtime-dir", filepath.Join(work, "run"), "--journal-dir", filepath.Join(work, "journal"),
		"--syslog-socket", filepath.Join(work, "syslog"), "--exit-with", "helper")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tend run: %v\n%s", err, b)
	}
	// Nothing tend inherited reaches a service: no blocked signal, no
	// ignored SIGHUP. SIGPIPE is ignored by default (IgnoreSIGPIPE=yes,
	// as in systemd), and not where the unit says IgnoreSIGPIPE=no.
	pipe := uint64(1) << (syscall.SIGPIPE - 1)
	wantIgn := map[string]uint64{"fast": pipe, "helper": pipe, "nopipe": 0}
	for _, name := range []string{"fast", "helper", "nopipe"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%s.service did not run: %v", name, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			key, val, _ := strings.Cut(line, ":")
			if key != "SigBlk" && key != "SigIgn" {
				continue
			}
			want := uint64(0)
			if key == "SigIgn" {
				want = wantIgn[name]
			}
			if m, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64); err != nil || m != want {
				t.Errorf("%s.service: %s %s; want %016x", name, key, strings.TrimSpace(val), want)
			}
		}
	}
}
