package main

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLogsFollowNoHistory: `logs -n 0` prints no entry from before, and
// `logs -f -n 0` only entries written after it started, as journalctl
// does. (It printed the last ten: a test that followed a unit for
// "Started" matched the line of an earlier start.)
func TestLogsFollowNoHistory(t *testing.T) {
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=tick.service\n",
		"tick.service":   "[Service]\nExecStart=/bin/sh -c 'i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.2; done'\n",
	})
	in := startTend(t, dir)
	in.follow("tick.service")("tick 3")
	if out := in.mustCtl("logs", "-n", "0", "-u", "tick.service", "--no-pager"); strings.TrimSpace(out) != "" {
		t.Errorf("logs -n 0 printed entries:\n%s", out)
	}
	last := func(out string) int {
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if i := strings.Index(l, "tick "); i >= 0 {
				n, _ = strconv.Atoi(strings.TrimSpace(l[i+5:]))
			}
		}
		return n
	}
	before := last(in.mustCtl("logs", "-n", "1", "-o", "cat", "-u", "tick.service", "--no-pager"))
	cmd := exec.Command(tendBin, "logs", "-f", "-n", "0", "-o", "cat", "-u", "tick.service", "--socket", in.socket)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
	}()
	select {
	case l := <-first:
		if n := last(l); n <= before {
			t.Errorf("logs -f -n 0 printed %q first; want a line after tick %d, written once it started", l, before)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("logs -f -n 0 printed nothing new within 20s")
	}
}
