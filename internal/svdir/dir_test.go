package svdir

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteFiles: Open writes pid, stat and status in place over what an
// earlier supervisor left (a daemontools 18-byte status among them);
// later writes keep status the same file (one pwrite over its 20 bytes)
// and replace pid and stat by rename, only when their content changes.
func TestWriteFiles(t *testing.T) {
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	sup := filepath.Join(svc, "supervise")
	if err := os.Mkdir(sup, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{"status": "0123456789abcdefgh", "stat": "run, want down, got TERM, paused\n", "pid": "99999\n"} {
		if err := os.WriteFile(filepath.Join(sup, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ino := func(name string) uint64 {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(sup, name), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	check := func(want Status) {
		t.Helper()
		got := readStatus(t, svc)
		if !got.Since.Equal(want.Since) || got.PID != want.PID || got.Want != want.Want || got.State != want.State {
			t.Errorf("status says %+v; want %+v", got, want)
		}
		if b, _ := os.ReadFile(filepath.Join(sup, "stat")); string(b) != want.Stat() {
			t.Errorf("stat %q; want %q", b, want.Stat())
		}
		pid := ""
		if want.PID != 0 {
			pid = "4242\n"
		}
		if b, _ := os.ReadFile(filepath.Join(sup, "pid")); string(b) != pid {
			t.Errorf("pid %q; want %q", b, pid)
		}
	}
	before := map[string]uint64{"status": ino("status"), "stat": ino("stat"), "pid": ino("pid")}
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	down := Status{Since: time.Unix(1700000000, 5)}
	d, err := Open(svc, hub, down)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check(down)
	for name, i := range before {
		if ino(name) != i {
			t.Errorf("Open replaced %s; want it written in place", name)
		}
	}
	run := Status{Since: time.Unix(1700000001, 7), PID: 4242, State: StateRun}
	if err := d.Write(run); err != nil {
		t.Fatal(err)
	}
	check(run)
	if ino("status") != before["status"] {
		t.Error("Write replaced status; want it written in place")
	}
	if ino("pid") == before["pid"] || ino("stat") == before["stat"] {
		t.Error("Write changed pid and stat in place; want them renamed over")
	}
	stat := ino("stat")
	run.Since = time.Unix(1700000002, 0) // only status changes
	if err := d.Write(run); err != nil {
		t.Fatal(err)
	}
	check(run)
	if ino("stat") != stat {
		t.Error("Write rewrote stat whose line did not change")
	}
	if _, err := os.Stat(filepath.Join(sup, "status.new")); !os.IsNotExist(err) {
		t.Errorf("status.new left behind: %v", err)
	}
}

// TestPrepare: a prepared directory is locked and its FIFOs exist, but
// ok has no reader (sv sees no supervisor) and status, stat and pid are
// empty (an earlier supervisor's emptied) until the first Write, which
// writes them in place (no NAME.new renamed) and then opens ok.
func TestPrepare(t *testing.T) {
	svc := newServiceDir(t, t.TempDir(), "svc", nil)
	sup := filepath.Join(svc, "supervise")
	if err := os.Mkdir(sup, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sup, "stat"), []byte("run\n"), 0o644); err != nil { // a dead supervisor's
		t.Fatal(err)
	}
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	d, err := Prepare(svc, hub)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	supervised := func() bool {
		fd, err := unix.Open(filepath.Join(sup, "ok"), unix.O_WRONLY|unix.O_NONBLOCK, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err == nil
	}
	for _, name := range []string{"control", "ok"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(sup, name), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o600 {
			t.Errorf("supervise/%s: mode %o, %v; want a fifo of mode 600", name, st.Mode, err)
		}
	}
	if supervised() || d.Written() {
		t.Error("ok has a reader before the first Write; want none")
	}
	// Made ahead, empty (an earlier run's emptied), for the first Write
	// to fill without creating them.
	for _, name := range []string{"status", "stat", "pid"} {
		if b, err := os.ReadFile(filepath.Join(sup, name)); err != nil || len(b) != 0 {
			t.Errorf("supervise/%s before the first Write: %q, %v; want it empty", name, b, err)
		}
	}
	if _, err := Prepare(svc, hub); err == nil {
		t.Error("a second Prepare took the lock; want it refused")
	}
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, sup, unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	run := Status{Since: time.Unix(1700000001, 7), PID: 4242, State: StateRun}
	if err := d.Write(run); err != nil {
		t.Fatal(err)
	}
	if n, _ := unix.Read(ino, make([]byte, 4096)); n > 0 {
		t.Error("the first Write renamed a file; want every file written in place")
	}
	if !supervised() || !d.Written() {
		t.Error("ok has no reader after the first Write")
	}
	if got := readStatus(t, svc); got.PID != 4242 || got.State != StateRun {
		t.Errorf("status says %+v; want %+v", got, run)
	}
	if b, _ := os.ReadFile(filepath.Join(sup, "pid")); string(b) != "4242\n" {
		t.Errorf("pid %q; want %q", b, "4242\n")
	}
	if b, _ := os.ReadFile(filepath.Join(sup, "stat")); string(b) != run.Stat() {
		t.Errorf("stat %q; want %q", b, run.Stat())
	}
}
