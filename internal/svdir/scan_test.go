package svdir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestScan(t *testing.T) {
	root := t.TempDir()
	scan := filepath.Join(root, "service")
	writeFiles(t, root, map[string]string{
		"service/a/run": "", "service/.hidden/run": "", "service/file": "", "elsewhere/b/run": "",
	})
	must(t, os.Symlink("../elsewhere/b", filepath.Join(scan, "b")))
	must(t, os.Symlink("/nonexistent", filepath.Join(scan, "dangling")))
	entries, err := Scan(scan)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		s := e.Name
		if e.Err != nil {
			s += "!"
		}
		got = append(got, s)
	}
	if strings.Join(got, " ") != "a b dangling! file!" {
		t.Errorf("Scan = %v; want a b dangling! file!", got)
	}
	if _, err := Scan(filepath.Join(root, "none")); err == nil {
		t.Error("Scan of a missing directory: no error")
	}
}

// A name readdir returned may be gone when Scan looks it up (a service
// removed meanwhile): it is absent, not an entry that leads nowhere, which
// a Watcher would report as "removed", "added NAME!", then "removed" again.
func TestScanEntryGone(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Symlink("/nonexistent", filepath.Join(dir, "dangling")))
	if e, ok := scanEntry(dir, "gone"); ok {
		t.Errorf("scanEntry of a removed name = %+v; want none", e)
	}
	if e, ok := scanEntry(dir, "dangling"); !ok || e.Err == nil {
		t.Errorf("scanEntry of a dangling symlink = %+v, %v; want an entry with Err", e, ok)
	}
}

// A scan directory removed while the watcher scans it ends the watcher as
// its IN_DELETE_SELF would: "removed or moved", not a readdir error.
func TestWatcherScanDirGoneWhileScanning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "service")
	w := &Watcher{dir: dir}
	_, err := w.rescan()
	if want := "scan directory " + dir + ": the scan directory was removed or moved"; err == nil || err.Error() != want {
		t.Errorf("rescan of a removed scan directory: %v; want %q", err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// next returns the watcher's next events, n of them, sorted; the
// deadline only bounds a failing test.
func next(t *testing.T, w *Watcher, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("events closed after %v (err %v)", got, w.Err())
			}
			s := fmt.Sprintf("%v %s", ev.Kind, ev.Entry.Name)
			if ev.Entry.Err != nil {
				s += "!"
			}
			got = append(got, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d events, got %v", n, got)
		}
	}
	sort.Strings(got)
	return got
}

func expect(t *testing.T, w *Watcher, want ...string) {
	t.Helper()
	if got := next(t, w, len(want)); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("events %v; want %v", got, want)
	}
	select {
	case ev := <-w.Events():
		t.Errorf("unexpected event %v %s", ev.Kind, ev.Entry.Name)
	default:
	}
}

func TestWatcher(t *testing.T) {
	root := t.TempDir()
	scan := filepath.Join(root, "service")
	writeFiles(t, root, map[string]string{"service/a/run": "", "other/b/run": "", "other/c/run": ""})
	w, err := Watch(scan)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	expect(t, w, "added a")

	t.Run("directory made", func(t *testing.T) {
		must(t, os.Mkdir(filepath.Join(scan, "new"), 0o755))
		expect(t, w, "added new")
	})
	t.Run("dot-directory ignored", func(t *testing.T) {
		must(t, os.Mkdir(filepath.Join(scan, ".tmp"), 0o755))
		must(t, os.Mkdir(filepath.Join(scan, "z"), 0o755)) // an event to wait for
		expect(t, w, "added z")
	})
	t.Run("symlink", func(t *testing.T) {
		must(t, os.Symlink(filepath.Join(root, "other/b"), filepath.Join(scan, "link")))
		expect(t, w, "added link")
	})
	t.Run("symlink re-pointed", func(t *testing.T) {
		tmp := filepath.Join(scan, ".link.new")
		must(t, os.Symlink(filepath.Join(root, "other/c"), tmp))
		must(t, os.Rename(tmp, filepath.Join(scan, "link")))
		expect(t, w, "added link", "removed link")
	})
	t.Run("renamed into place", func(t *testing.T) {
		must(t, os.Rename(filepath.Join(scan, ".tmp"), filepath.Join(scan, "ready")))
		expect(t, w, "added ready")
	})
	t.Run("renamed away", func(t *testing.T) {
		must(t, os.Rename(filepath.Join(scan, "ready"), filepath.Join(root, "ready")))
		expect(t, w, "removed ready")
	})
	t.Run("removed", func(t *testing.T) {
		must(t, os.RemoveAll(filepath.Join(scan, "new")))
		must(t, os.Remove(filepath.Join(scan, "link")))
		// one or two batches, depending on when the loop wakes
		expect(t, w, "removed link", "removed new")
	})
	t.Run("dangling symlink", func(t *testing.T) {
		must(t, os.Symlink(filepath.Join(root, "nothing"), filepath.Join(scan, "dangling")))
		expect(t, w, "added dangling!")
	})
	t.Run("scan directory removed", func(t *testing.T) {
		must(t, os.RemoveAll(scan))
		got := next(t, w, 3)
		if strings.Join(got, ", ") != "removed a, removed dangling!, removed z" {
			t.Errorf("events %v", got)
		}
		if _, ok := <-w.Events(); ok {
			t.Error("events not closed")
		}
		if want := "scan directory " + scan + ": the scan directory was removed or moved"; w.Err() == nil || w.Err().Error() != want {
			t.Errorf("Err = %v", w.Err())
		}
	})
}

func TestWatcherCloseWhileSending(t *testing.T) {
	scan := t.TempDir()
	for i := range 20 {
		must(t, os.Mkdir(filepath.Join(scan, fmt.Sprint(i)), 0o755))
	}
	w, err := Watch(scan)
	if err != nil {
		t.Fatal(err)
	}
	<-w.Events()
	must(t, w.Close()) // the loop is blocked sending the second: Close must not hang
	for range w.Events() {
	}
}
