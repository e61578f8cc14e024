package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDebianDBus runs Debian's own dbus.socket and dbus.service, as
// the dbus package installs them, under tend. A drop-in moves the
// listener to a private path (the system bus path is global), and
// nothing else is changed: dbus-daemon gets its socket through
// --address=systemd: (sd_listen_fds), reports READY=1 (Type=notify),
// drops to its messagebus user, and answers dbus-send --system.
func TestDebianDBus(t *testing.T) {
	const lib = "/lib/systemd/system"
	for _, p := range []string{"/usr/bin/dbus-daemon", "/usr/bin/dbus-send", lib + "/dbus.socket", lib + "/dbus.service"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Debian's dbus package is not installed (%s is missing)", p)
		}
	}
	units := t.TempDir()
	for _, name := range []string{"dbus.socket", "dbus.service"} {
		b, err := os.ReadFile(filepath.Join(lib, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(units, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bus := filepath.Join(t.TempDir(), "system_bus_socket")
	os.MkdirAll(filepath.Join(units, "dbus.socket.d"), 0o755)
	os.WriteFile(filepath.Join(units, "dbus.socket.d", "private.conf"), []byte("[Socket]\nListenStream=\nListenStream="+bus+"\n"), 0o644)
	os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\nWants=dbus.socket\n"), 0o644)

	in := startTend(t, units)
	// dbus-daemon sends READY=1 after it dropped to messagebus: that
	// user must reach the notify socket in tend's runtime dir, as it
	// reaches /run/systemd/notify. The test's temporary dirs are 0700.
	for d := filepath.Dir(filepath.Dir(in.socket)); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in.waitState("dbus.socket", "active (listening)")
	if out, _ := in.ctl("status", "dbus.service"); !strings.Contains(out, "inactive") {
		t.Fatalf("dbus.service started before any client:\n%s", out)
	}

	first := listNames(t, bus)
	in.waitState("dbus.service", "active (running)")
	pid := in.mainPID("dbus.service")
	if !strings.Contains(first, `"org.freedesktop.DBus"`) || !strings.Contains(first, `":1.0"`) {
		t.Errorf("ListNames answered:\n%s\nwant org.freedesktop.DBus and the caller's :1.0", first)
	}
	if mb, err := user.Lookup("messagebus"); err == nil {
		if uid := procStatus(t, pid, "Uid"); strings.Fields(uid)[0] != mb.Uid {
			t.Errorf("dbus-daemon runs as uid %s; want messagebus (%s)", uid, mb.Uid)
		}
	}

	// Stopped, the bus is started again by the next client, on the
	// same listener.
	in.mustCtl("stop", "dbus.service")
	in.waitState("dbus.socket", "active (listening)")
	if alive(pid) {
		t.Fatalf("dbus-daemon %d still runs after stop", pid)
	}
	listNames(t, bus)
	if again := in.mainPID("dbus.service"); again == pid || again == 0 {
		t.Errorf("dbus.service main pid %d after re-activation; want a new one (was %d)", again, pid)
	}
}

// listNames asks the bus at path for its names, as a system-bus client.
func listNames(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dbus-send", "--system", "--print-reply", "--reply-timeout=20000",
		"--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.ListNames")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send: %v\n%s", err, out)
	}
	return string(out)
}

// procStatus is a field of /proc/PID/status.
func procStatus(t *testing.T, pid int, key string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return ""
}
