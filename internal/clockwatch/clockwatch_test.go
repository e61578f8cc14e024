package clockwatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Setting the clock (to the time it already has, so nothing else on the
// machine notices) wakes the watcher; nothing else does.
func TestClockSet(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("setting the clock needs root")
	}
	got := make(chan struct{}, 4)
	w, err := Watch("", func() { got <- struct{}{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	select {
	case <-got:
		t.Fatal("woke without a clock change")
	case <-time.After(100 * time.Millisecond):
	}
	var tv unix.Timeval
	if err := unix.Gettimeofday(&tv); err != nil {
		t.Fatal(err)
	}
	if err := unix.Settimeofday(&tv); err != nil {
		t.Skipf("settimeofday: %v", err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the clock was set")
	}
	// And again: the watch is re-armed.
	unix.Gettimeofday(&tv)
	unix.Settimeofday(&tv)
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the second setting")
	}
}

// Replacing the zone file by rename, as timedatectl and dpkg do, and
// writing it in place both wake the watcher; other files do not.
func TestZoneChange(t *testing.T) {
	dir := t.TempDir()
	lt := filepath.Join(dir, "localtime")
	os.WriteFile(lt, []byte("a"), 0o644)
	got := make(chan struct{}, 16)
	w, err := Watch(lt, func() {}, func() { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644)
	select {
	case <-got:
		t.Fatal("woke for another file")
	case <-time.After(100 * time.Millisecond):
	}
	tmp := filepath.Join(dir, ".localtime.new")
	os.Symlink("/usr/share/zoneinfo/Europe/Berlin", tmp)
	if err := os.Rename(tmp, lt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after localtime was replaced")
	}
}
