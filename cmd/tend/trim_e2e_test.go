package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLargeStartTrims: a client's start that brought up hundreds of
// units ends, as boot and daemon-reload end, with a collection that gives
// the request's garbage back (--heap-profile is written at each such
// trim), and a start of one unit does not pay for one.
func TestLargeStartTrims(t *testing.T) {
	const n = 500
	work := t.TempDir()
	files := map[string]string{
		"default.target": "[Unit]\n",
		"small.service":  "[Service]\nExecStart=/bin/sleep 1000\n",
	}
	wants := idleSockets(files, work, n)
	files["big.target"] = "[Unit]\nWants=" + strings.Join(wants, " ") + "\n"
	units := writeUnits(t, files)
	prof := filepath.Join(t.TempDir(), "heap.pprof")
	in := startTendAt(t, units, work, "--heap-profile", prof, "--syslog-socket", "")
	defer in.stop()
	if _, err := os.Stat(prof); err != nil {
		t.Fatalf("boot wrote no heap profile: %v", err)
	}
	gone := func() {
		for _, p := range []string{prof, prof + ".txt"} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	gone()
	in.mustCtl("start", "small.service")
	if _, err := os.Stat(prof); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a start of one unit trimmed (heap profile: %v)", err)
	}
	in.mustCtl("start", "big.target")
	if _, err := os.Stat(prof); err != nil {
		t.Fatalf("a start of %d units did not trim before it returned: %v", n, err)
	}
	if out, _ := in.ctl("list-sockets"); strings.Count(out, ".socket") != n {
		t.Fatalf("want %d listening sockets; list-sockets shows:\n%.500s", n, out)
	}
}
