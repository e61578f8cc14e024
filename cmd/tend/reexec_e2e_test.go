package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/client"
)

// seqWriter writes "seq 1" … "seq N" with a short pause between lines,
// then stays up.
const seqWriter = `import sys, time
for i in range(1, %d + 1):
    sys.stdout.write("seq %%d\n" %% i)
    sys.stdout.flush()
    time.sleep(0.0005)
time.sleep(1000)
`

// pinger is a Type=notify service that keeps its watchdog fed every
// pingEvery, logging "fed" each time, until the file named by its
// argument exists.
const pinger = `import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1")
while not os.path.exists(sys.argv[1]):
    s.send(b"WATCHDOG=1")
    print("fed", flush=True)
    time.sleep(0.2)
time.sleep(1000)
`

// pingsPastWatchdog is how many of the pinger's keep-alives span more
// than its WatchdogSec=1 (one each 0.2 s).
const pingsPastWatchdog = 7

// TestDaemonReexec: daemon-reexec of a new binary keeps every service's
// pid, state and counters, every log line exactly once and in order, the
// watchdog, and a start job under way; the API then reports the new
// binary's version.
func TestDaemonReexec(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
	if os.Getuid() != 0 {
		t.Skip("end-to-end tests run the system instance and need root")
	}
	const lines = 4000
	work, units := t.TempDir(), t.TempDir()
	write := func(dir, name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seqPy := write(work, "seq.py", fmt.Sprintf(seqWriter, lines))
	pingPy := write(work, "ping.py", pinger)
	stopPing, preLog := filepath.Join(work, "stop-ping"), filepath.Join(work, "pre.log")
	write(units, "default.target", "[Unit]\nWants=seq.service ping.service\n")
	write(units, "seq.service", "[Service]\nExecStart=/usr/bin/python3 "+seqPy+"\nRestart=always\n")
	write(units, "ping.service", "[Service]\nType=notify\nWatchdogSec=1\nRestart=on-failure\nExecStart=/usr/bin/python3 "+pingPy+" "+stopPing+"\n")
	write(units, "slow.service", "[Service]\nExecStartPre=/bin/sh -c 'echo pre >> "+preLog+"; sleep 2'\nExecStart=/bin/sleep 1000\n")

	// The manager runs from its own copy, which the upgrade replaces.
	bin := filepath.Join(work, "tend")
	if out, err := exec.Command("cp", tendBin, bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	newBin := filepath.Join(work, "tend.new")
	build := exec.Command("go", "build", "-o", newBin, "-ldflags", "-X github.com/tendproject/tend/internal/cli.Version=9.9.9-reexec", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	in := startBinAt(t, bin, units, work)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := client.New(in.socket)
	before, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seqPID, pingPID := in.mainPID("seq.service"), in.mainPID("ping.service")
	seqSince := in.prop("seq.service", "ActiveEnterTimestamp")
	in.mustCtl("start", "--no-block", "slow.service")
	for i := 0; in.prop("slow.service", "SubState") != "start-pre"; i++ {
		if i > 500 {
			t.Fatal("slow.service never reached start-pre")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Upgrade: the new binary replaces the file, then daemon-reexec.
	if err := os.Rename(newBin, bin); err != nil {
		t.Fatal(err)
	}
	in.mustCtl("daemon-reexec")
	after, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.PID != before.PID || after.PID != in.cmd.Process.Pid {
		t.Errorf("manager pid %d after re-exec; want %d (exec in place)", after.PID, before.PID)
	}
	if !strings.HasPrefix(after.Version, "9.9.9-reexec") || after.Version == before.Version {
		t.Errorf("version after re-exec = %q (before %q); want the new binary's 9.9.9-reexec", after.Version, before.Version)
	}

	// Services and their state are untouched.
	if got := in.mainPID("seq.service"); got != seqPID {
		t.Errorf("seq.service MainPID %d after re-exec; want %d", got, seqPID)
	}
	if got := in.mainPID("ping.service"); got != pingPID {
		t.Errorf("ping.service MainPID %d after re-exec; want %d", got, pingPID)
	}
	if got := in.prop("seq.service", "ActiveEnterTimestamp"); got != seqSince {
		t.Errorf("ActiveEnterTimestamp %q after re-exec; want %q", got, seqSince)
	}
	if got := in.prop("seq.service", "NRestarts"); got != "0" {
		t.Errorf("NRestarts %s after re-exec; want 0", got)
	}

	// The job under way finishes: ExecStartPre= ran once, the unit runs.
	for i := 0; in.prop("slow.service", "ActiveState") != "active"; i++ {
		if i > 1000 {
			t.Fatalf("slow.service did not finish starting after the re-exec:\n%s\n%s", in.mustCtl("status", "slow.service"), in.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(preLog); string(b) != "pre\n" {
		t.Errorf("ExecStartPre= ran %q; want once", b)
	}

	// Every line exactly once, in order.
	var got []string
	for i := 0; ; i++ {
		out := in.mustCtl("logs", "-u", "seq.service", "-o", "cat", "--no-pager")
		got = got[:0]
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "seq ") {
				got = append(got, l)
			}
		}
		if len(got) >= lines || i > 300 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != lines {
		t.Errorf("journal has %d seq lines; want %d", len(got), lines)
	}
	for i, l := range got {
		if want := "seq " + strconv.Itoa(i+1); l != want {
			t.Fatalf("line %d of the journal is %q; want %q (lost, duplicated or reordered)", i+1, l, want)
		}
	}

	// The watchdog runs on: fed, the service stays up past its timeout;
	// starved, it is caught.
	follow := in.follow("ping.service")
	for range pingsPastWatchdog {
		follow("fed")
	}
	if got := in.mainPID("ping.service"); got != pingPID {
		t.Fatalf("ping.service restarted though it fed its watchdog: %d, was %d\n%s", got, pingPID, in.mustCtl("logs", "-u", "ping.service"))
	}
	if err := os.WriteFile(stopPing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	follow("Watchdog timeout")
}
