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
