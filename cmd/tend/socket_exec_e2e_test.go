package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketExecSettings: a socket unit's ExecStartPre= and
// ExecStopPost= run with the exec settings of its [Socket] section
// (systemd.exec(5) applies to socket units), TimeoutSec= bounds them,
// and a directive tend does not apply there is named at load.
func TestSocketExecSettings(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	work := t.TempDir()
	os.Chmod(work, 0o777)
	os.Chmod(filepath.Dir(work), 0o755)                      // the test's temporary dirs are 0700
	script := `echo "$(id -u) $GREETING $(pwd) $(umask)" > ` // + file name
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=ex.socket slow.socket\n",
		"ex.socket": fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nUser=nobody\nEnvironment=GREETING=hello\nWorkingDirectory=%s\nUMask=0027\nKillMode=mixed\n"+
			"ExecStartPre=/bin/sh -c '%s pre'\nExecStopPost=/bin/sh -c '%s post'\n", freePort(t), work, script, script),
		"ex.service":   "[Service]\nExecStart=/bin/true\n",
		"slow.socket":  fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nTimeoutSec=1\nExecStartPre=/bin/sleep 60\n", freePort(t)),
		"slow.service": "[Service]\nExecStart=/bin/true\n",
	})
	in := startTend(t, dir)
	if !strings.Contains(in.stderr.String(), "ex.socket: directives not supported by tend, ignored: KillMode") {
		t.Errorf("no load warning naming KillMode=:\n%s", in.stderr)
	}
	in.waitState("ex.socket", "active (listening)")
	want := fmt.Sprintf("%s hello %s 0027", nobody.Uid, work)
	if got := strings.TrimSpace(waitFile(t, filepath.Join(work, "pre"))); got != want {
		t.Errorf("ExecStartPre= ran as %q; want %q (uid, Environment=, WorkingDirectory=, UMask=)", got, want)
	}
	in.mustCtl("stop", "ex.socket")
	if got := strings.TrimSpace(waitFile(t, filepath.Join(work, "post"))); got != want {
		t.Errorf("ExecStopPost= ran as %q; want %q", got, want)
	}

	out := in.waitState("slow.socket", "failed")
	if !strings.Contains(out, "timeout") {
		t.Errorf("slow.socket did not fail by its TimeoutSec=1:\n%s", out)
	}
}
