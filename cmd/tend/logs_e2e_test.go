package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/journal"
)

// seedJournal writes size bytes of entries of old.service from another
// boot into a journal directory, in segments of 1 MiB, all sealed.
func seedJournal(t *testing.T, dir, boot string, size int) {
	t.Helper()
	j, err := journal.Open(journal.Options{Dir: dir, BootID: boot, MaxUse: 1 << 30, KeepFree: -1, MaxFileSize: 1 << 20,
		Clock: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 200))
	for n := 0; n < size; n += len(line) {
		if err := j.Append(journal.Entry{Unit: "old.service", Identifier: "old", Priority: 6, Message: line}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Append(journal.Entry{Unit: "old.service", Identifier: "old", Priority: 6, Message: []byte("last words of the old boot")}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// sizeOf parses "Archived and active journals take up 3.1M in the file
// system." into bytes (to the precision shown).
func sizeOf(t *testing.T, out string) float64 {
	t.Helper()
	f := strings.Fields(out)
	if len(f) < 7 {
		t.Fatalf("disk usage output %q", out)
	}
	s := f[6]
	mult := 1.0
	switch s[len(s)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	}
	n, err := strconv.ParseFloat(strings.TrimRight(s, "BKMG"), 64)
	if err != nil {
		t.Fatalf("disk usage output %q: %v", out, err)
	}
	return n * mult
}

// TestLogsThroughInstance: boots, disk usage and vacuum are the journal of
// the instance behind --socket, not the default directory, and vacuum
// works while that instance runs (defect 8 of issue 8).
func TestLogsThroughInstance(t *testing.T) {
	units := t.TempDir()
	os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\n"), 0o644)
	jdir := filepath.Join(t.TempDir(), "journal")
	const oldBoot = "0123456789abcdef0123456789abcdef"
	seedJournal(t, jdir, oldBoot, 3<<20)
	in := startTend(t, units, "--journal-dir", jdir)

	out := in.mustCtl("logs", "--list-boots")
	if !strings.Contains(out, " -1 "+oldBoot+" ") || !strings.Contains(out, "  0 ") {
		t.Fatalf("--list-boots does not show the instance's boots (%s at -1, the current one at 0):\n%s", oldBoot, out)
	}
	if out := in.mustCtl("logs", "-b", "-1", "-o", "cat", "-n", "1"); out != "last words of the old boot\n" {
		t.Errorf("-b -1 -n 1 shows %q; want the old boot's last entry", out)
	}
	before := sizeOf(t, in.mustCtl("logs", "--disk-usage"))
	if before < 3<<20 {
		t.Errorf("--disk-usage says %.0f bytes; the instance's journal holds more than 3 MiB", before)
	}
	out = in.mustCtl("logs", "--vacuum-size", "1K")
	if !strings.Contains(out, "freed ") || !strings.Contains(out, jdir) {
		t.Errorf("--vacuum-size while the daemon runs: %q", out)
	}
	after := sizeOf(t, in.mustCtl("logs", "--disk-usage"))
	if after >= 1<<20 {
		t.Errorf("after --vacuum-size 1K the journal still takes %.0f bytes (before: %.0f)", after, before)
	}
	if out := in.mustCtl("logs", "-o", "cat", "-u", "old"); strings.Contains(out, "last words") {
		t.Errorf("old.service's sealed segments survived the vacuum: %q", out)
	}
	// Without a daemon and without --directory there is nothing to read:
	// no silent fall-back to a default directory.
	if out, err := exec.Command(tendBin, "logs", "--list-boots", "--socket", filepath.Join(t.TempDir(), "none.sock")).CombinedOutput(); err == nil {
		t.Errorf("--list-boots without a daemon succeeded:\n%s", out)
	}
}

// TestLogsJournalctlCombinations runs journalctl spellings against a live
// instance.
func TestLogsJournalctlCombinations(t *testing.T) {
	units := t.TempDir()
	os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\nWants=talker.service\n"), 0o644)
	os.WriteFile(filepath.Join(units, "talker.service"), []byte("[Service]\nType=oneshot\nRemainAfterExit=yes\n"+
		"SyslogIdentifier=talkid\nExecStart=/bin/sh -c 'echo hello-talker; echo warn-talker >&2'\n"+
		"ExecStartPost=/bin/echo post-talker\n"), 0o644)
	in := startTend(t, units)
	in.mustCtl("start", "talker")
	// The start job ends when ExecStartPost= exits, not when the journal
	// has read what its processes wrote to their pipes: the queries
	// below wait for every line they count.
	for _, line := range []string{"hello-talker", "warn-talker", "post-talker"} {
		in.waitLog("talker.service", line)
	}

	if out := in.mustCtl("logs", "-xeu", "talker", "--no-pager"); !strings.Contains(out, "talkid[") || !strings.Contains(out, ": hello-talker\n") {
		t.Errorf("-xeu talker:\n%s", out)
	}
	if out := in.mustCtl("logs", "-t", "talkid", "-o", "cat"); out != "hello-talker\nwarn-talker\npost-talker\n" && out != "warn-talker\nhello-talker\npost-talker\n" {
		t.Errorf("-t talkid: %q; want the unit's three lines and none of tend's", out)
	}
	var first map[string]any
	js := in.mustCtl("logs", "-u", "talker", "-g", "hello-talker", "-o", "json")
	if err := json.Unmarshal([]byte(js), &first); err != nil {
		t.Fatalf("json: %v\n%s", err, js)
	}
	pid := first["_PID"].(string)
	if out := in.mustCtl("logs", "_PID="+pid, "-o", "cat"); out != "hello-talker\nwarn-talker\n" && out != "warn-talker\nhello-talker\n" {
		t.Errorf("_PID=%s: %q; want the ExecStart= process's two lines", pid, out)
	}
	if out := in.mustCtl("logs", "_PID="+pid, "+", "MESSAGE=post-talker", "-o", "cat"); strings.Count(out, "\n") != 3 {
		t.Errorf("_PID=%s + MESSAGE=post-talker: %q; want three lines", pid, out)
	}
	if out := in.mustCtl("logs", "-F", "_SYSTEMD_UNIT"); !strings.Contains(out, "talker.service\n") {
		t.Errorf("-F _SYSTEMD_UNIT: %q", out)
	}
	out := in.mustCtl("logs", "-o", "verbose", "-u", "talker", "-g", "post-talker")
	for _, want := range []string{" [s=", "\n    _SYSTEMD_UNIT=talker.service\n", "\n    SYSLOG_IDENTIFIER=talkid\n", "\n    MESSAGE=post-talker\n", "\n    _TRANSPORT=stdout\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-o verbose lacks %q:\n%s", want, out)
		}
	}
	if out, code := in.ctl("logs", "--foo"); code != 1 || !strings.Contains(out, "unrecognized option '--foo'") {
		t.Errorf("--foo: exit %d, %q", code, out)
	}
	if out, code := in.ctl("logs", "nonsense"); code != 1 || !strings.Contains(out, fmt.Sprintf("failed to add match %q", "nonsense")) {
		t.Errorf("bad match: exit %d, %q", code, out)
	}
}
