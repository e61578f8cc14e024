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
// unit of its own that logs; once the instance is gone tend must not
// keep its journal segment open, or its descriptors grow by one per
// connection until accept fails. The lines stay readable.
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
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v\n%s", i, err, in.stderr)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		// The instance exits at once; its end closes the connection.
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	in.waitState("line.socket", fmt.Sprintf("Accepted: %d; Connected: 0", n))
	// Each instance's segment is closed when the instance is gone and
	// its pipes are read to their end, then sealed (indexed): once every
	// instance's segments are indexed, none is open any more.
	awaitSealed(t, filepath.Join(filepath.Dir(filepath.Dir(in.socket)), "journal"), "line@", n)
	const slack = 5
	if after := tendFDs(t, in); after > before+slack {
		t.Errorf("tend holds %d descriptors after %d connections; %d before\n%s", after, n, before, view(t, "fds", fmt.Sprint(in.cmd.Process.Pid), "--socket", in.socket))
	}
	out := in.mustCtl("logs", "-u", "line@*", "--no-pager")
	if got := strings.Count(out, "served-connection"); got != n {
		t.Errorf("logs show %d lines of the instances; want %d\n%s", got, n, out)
	}
}

// awaitSealed waits, woken by inotify, until n journal directories of
// units named prefix… exist and every segment in them has its index.
func awaitSealed(t *testing.T, journal, prefix string, n int) {
	t.Helper()
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, journal, unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	watched := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 4096)
	for {
		dirs, _ := filepath.Glob(filepath.Join(journal, prefix+"*"))
		unsealed := 0
		for _, d := range dirs {
			if !watched[d] {
				if _, err := unix.InotifyAddWatch(ino, d, unix.IN_MOVED_TO); err != nil {
					t.Fatal(err)
				}
				watched[d] = true
			}
			segs, _ := filepath.Glob(filepath.Join(d, "*.seg"))
			for _, s := range segs {
				if _, err := os.Stat(strings.TrimSuffix(s, ".seg") + ".idx"); err != nil {
					unsealed++
				}
			}
		}
		if len(dirs) >= n && unsealed == 0 {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%d journal directories of %s…, %d segments not sealed after 20s", len(dirs), prefix, unsealed)
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if k, _ := unix.Poll(fds, int(left/time.Millisecond)+1); k > 0 {
			_, _ = unix.Read(ino, buf)
		}
	}
}
