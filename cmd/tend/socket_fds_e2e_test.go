package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tendFDs counts the descriptors tend holds open.
func tendFDs(t *testing.T, in *instance) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", in.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestSocketAcceptReleasesJournalFDs: every Accept=yes connection is a
// unit of its own that logs. Its lines go to the template's journal
// stream, not to a directory and segment per connection, so tend's
// descriptors do not grow with the connections; the lines stay readable
// by instance, by template and by glob.
func TestSocketAcceptReleasesJournalFDs(t *testing.T) {
	const n = 200
	port := freePort(t)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=line.socket\n",
		"line.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"line@.service":  "[Service]\nExecStart=/bin/sh -c 'echo served-connection'\n",
	})
	in := startTend(t, dir)
	in.waitState("line.socket", "active (listening)")
	before := tendFDs(t, in)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var first string // the first instance's name
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v\n%s", i, err, in.stderr)
		}
		if i == 0 {
			first = fmt.Sprintf("line@0-%s-%s.service", addr, c.LocalAddr())
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		// The instance exits at once; its end closes the connection.
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	in.waitState("line.socket", fmt.Sprintf("Accepted: %d; Connected: 0", n))
	journal := filepath.Join(filepath.Dir(filepath.Dir(in.socket)), "journal")
	awaitStored(t, filepath.Join(journal, "line@.service"), "served-connection", n)
	if dirs, _ := filepath.Glob(filepath.Join(journal, "line@[0-9]*")); len(dirs) > 0 {
		t.Errorf("%d journal directories of instances (%s …); want their lines in line@.service's", len(dirs), dirs[0])
	}
	// A pipe ends after its lines are stored (tend closes its write end
	// once the instance is dead); its spool goes with that end.
	awaitEmpty(t, filepath.Join(filepath.Dir(in.socket), "spool"))
	const slack = 5
	if after := tendFDs(t, in); after > before+slack {
		t.Errorf("tend holds %d descriptors after %d connections; %d before\n%s", after, n, before, view(t, "fds", fmt.Sprint(in.cmd.Process.Pid), "--socket", in.socket))
	}
	for _, c := range []struct {
		unit string
		want int
	}{{"line@*", n}, {"line@.service", n}, {first, 1}} {
		out := in.mustCtl("logs", "-u", c.unit, "--no-pager")
		if got := strings.Count(out, "served-connection"); got != c.want {
			t.Errorf("logs -u %s show %d lines of the instances; want %d\n%s", c.unit, got, c.want, out)
		}
	}
}

// awaitStored waits, woken by inotify, until the segments in the
// journal directory dir hold n records containing text.
func awaitStored(t *testing.T, dir, text string, n int) {
	t.Helper()
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, filepath.Dir(dir), unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	watched := false
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 4096)
	for {
		if !watched {
			if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_MODIFY|unix.IN_CREATE); err == nil {
				watched = true
			}
		}
		got := 0
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		for _, s := range segs {
			b, _ := os.ReadFile(s)
			got += strings.Count(string(b), text)
		}
		if got >= n {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: %d records of %q after 20s; want %d", dir, got, text, n)
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if k, _ := unix.Poll(fds, int(left/time.Millisecond)+1); k > 0 {
			_, _ = unix.Read(ino, buf)
		}
	}
}

// awaitEmpty waits, woken by inotify, until the directory dir is empty
// or gone.
func awaitEmpty(t *testing.T, dir string) {
	t.Helper()
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_DELETE|unix.IN_DELETE_SELF); err != nil {
		return // gone: nothing is left in it
	}
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 4096)
	for {
		ents, err := os.ReadDir(dir)
		if len(ents) == 0 || err != nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: %d files left after 20s (%s …)", dir, len(ents), ents[0].Name())
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if k, _ := unix.Poll(fds, int(left/time.Millisecond)+1); k > 0 {
			_, _ = unix.Read(ino, buf)
		}
	}
}
