package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
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
	// The last instances' pipes may still be draining: wait for the
	// count to settle within the bound, then report what it is.
	const slack = 20
	after := tendFDs(t, in)
	for end := time.Now().Add(20 * time.Second); after > before+slack && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		after = tendFDs(t, in)
	}
	if after > before+slack {
		t.Errorf("tend holds %d descriptors after %d connections; %d before\n%s", after, n, before, view(t, "fds", fmt.Sprint(in.cmd.Process.Pid), "--socket", in.socket))
	}
	out := in.mustCtl("logs", "-u", "line@*", "--no-pager")
	if got := strings.Count(out, "served-connection"); got != n {
		t.Errorf("logs show %d lines of the instances; want %d\n%s", got, n, out)
	}
}
