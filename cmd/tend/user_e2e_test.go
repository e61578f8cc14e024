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
	if fi, err := os.Stat("/run/user/65534"); err == nil && fi.IsDir() {
		t.Skip("/run/user/65534 exists: the rule would pick it, shared with others")
	}
	// The fallback lands in tmp, not in a shared /tmp.
	h := newNobodyHome(t, map[string]string{
		"hello.service":  "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'env > %h/env'\n",
		"default.target": "[Unit]\nWants=hello.service\n",
	}, "tmp")
	home, tmp := h.dir, filepath.Join(h.dir, "tmp")
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
	stderr := runUserDaemon(t, h.cmd(append(env, "NOTIFY_SOCKET="+h.notify), "run", "--user"), h.ready)
	out, err := h.cmd(env, "is-active", "--user", "hello").CombinedOutput()
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

// nobodyHome is a home directory that nobody owns, for a user instance
// run as nobody, with a notify socket in it for the instance's READY=1.
type nobodyHome struct {
	dir    string
	notify string              // the notify socket's path
	ready  chan notify.Message // what arrives on it
}

const nobodyUID, nobodyGID = 65534, 65534

// newNobodyHome makes the home with units (name → text) in its XDG
// config directory and the directories dirs (relative) in it, all
// removed when the test ends.
func newNobodyHome(t *testing.T, units map[string]string, dirs ...string) *nobodyHome {
	t.Helper()
	home, err := os.MkdirTemp("", "tend-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	unitDir := filepath.Join(home, ".config", "tend", "units")
	for _, d := range append(dirs, filepath.Join(".config", "tend", "units")) {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error { return os.Lchown(p, nobodyUID, nobodyGID) }); err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	ns, err := notify.Listen(filepath.Join(home, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	h := &nobodyHome{dir: home, notify: ns.Path, ready: make(chan notify.Message, 2)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ns.Close() })
	go ns.Serve(ctx, func(m notify.Message) {
		select {
		case h.ready <- m:
		default: // nobody waits for it
		}
	})
	return h
}

// cmd is tend with args, run as nobody in the home with env.
func (h *nobodyHome) cmd(env []string, args ...string) *exec.Cmd {
	c := exec.Command(tendBin, args...)
	c.Env = env
	c.Dir = h.dir
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyGID}}
	return c
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
