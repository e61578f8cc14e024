package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tendproject/tend/internal/notify"
)

// TestUserInstanceWithoutRuntimeDir is `tend run --user` started the way
// su, runuser or cron start it, without XDG_RUNTIME_DIR: the daemon and a
// client in the same situation agree on the socket, and the service gets
// the account's USER, LOGNAME, HOME and SHELL, and the runtime directory.
func TestUserInstanceWithoutRuntimeDir(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to become another user")
	}
	const uid, gid = 65534, 65534
	if fi, err := os.Stat("/run/user/65534"); err == nil && fi.IsDir() {
		t.Skip("/run/user/65534 exists: the rule would pick it, shared with others")
	}
	home, err := os.MkdirTemp("", "tend-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	units := filepath.Join(home, ".config", "tend", "units")
	tmp := filepath.Join(home, "tmp") // the fallback lands here, not in a shared /tmp
	for _, d := range []string{units, tmp} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(filepath.Join(units, "hello.service"), []byte("[Service]\nType=oneshot\nRemainAfterExit=yes\n"+
		"ExecStart=/bin/sh -c 'env > %h/env'\n"), 0o644)
	os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\nWants=hello.service\n"), 0o644)
	if err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error { return os.Lchown(p, uid, gid) }); err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	ns, err := notify.Listen(filepath.Join(home, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan notify.Message, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ns.Serve(ctx, func(m notify.Message) { ready <- m })
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
	asUser := func(extra []string, args ...string) *exec.Cmd {
		c := exec.Command(tendBin, args...)
		c.Env = append(env, extra...)
		c.Dir = home
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		return c
	}
	stderr := runUserDaemon(t, asUser([]string{"NOTIFY_SOCKET=" + ns.Path}, "run", "--user"), ready)
	out, err := asUser(nil, "is-active", "--user", "hello").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "active" {
		t.Fatalf("is-active --user hello: %v %q\n%s", err, out, stderr)
	}
	// Active means the oneshot finished writing.
	b, err := os.ReadFile(filepath.Join(home, "env"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{"USER": "nobody", "LOGNAME": "nobody", "HOME": home,
		"SHELL": passwdShell(t, "nobody"), "XDG_RUNTIME_DIR": filepath.Join(tmp, "tend-65534")}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("service's %s = %q; want %q", k, got[k], v)
		}
	}
}

// passwdShell is user's login shell in /etc/passwd.
func passwdShell(t *testing.T, user string) string {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) == 7 && f[0] == user {
			return f[6]
		}
	}
	t.Fatalf("no %s in /etc/passwd", user)
	return ""
}
