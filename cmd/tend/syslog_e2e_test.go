package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyslogShortLivedSenders has a unit run logger(1) 200 times from a
// shell loop: each logger is gone (and reaped by the shell, not by tend)
// moments after its datagram was sent, often before tend reads it. Every
// line must still be attributed to the unit.
func TestSyslogShortLivedSenders(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger not installed")
	}
	const n = 200
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\n"), 0o644)
	in := startTend(t, dir)
	unitText := "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'i=0; while [ $$i -lt 200 ]; do i=$$((i+1)); " +
		logger + " -u " + in.syslog + " -t burst -p user.notice line-$$i || exit 1; done'\n"
	os.WriteFile(filepath.Join(dir, "burst.service"), []byte(unitText), 0o644)
	in.mustCtl("daemon-reload")
	in.mustCtl("start", "burst")
	out := in.mustCtl("logs", "-o", "json", "--no-pager")
	seen, lost := 0, []string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["SYSLOG_IDENTIFIER"] != "burst" {
			continue
		}
		seen++
		if e["_SYSTEMD_UNIT"] != "burst.service" {
			lost = append(lost, e["MESSAGE"].(string))
		}
	}
	if seen != n {
		t.Fatalf("%d burst lines in the journal; want %d", seen, n)
	}
	// The sender's pidfd names its cgroup even after it exited, but this
	// kernel answers PIDFD_GET_INFO with ESRCH when the sender was also
	// reaped before tend read the datagram: under load about one line in
	// 200 is then unattributable (the old /proc lookup lost 6 in 200 or
	// more on every run).
	if len(lost) > n/100 {
		t.Fatalf("%d of %d lines not attributed to burst.service: %v\n%s", len(lost), n, lost[:min(len(lost), 10)], in.stderr)
	}
	if len(lost) > 0 {
		t.Logf("%d of %d lines not attributed (sender reaped before the read): %v", len(lost), n, lost)
	}
}

// TestSyslogMsgIDAndSD sends an RFC 5424 message with a MSGID and
// structured data through logger(1): both are in the journal, shown by
// `-o json` and `-o verbose` and matched by field.
func TestSyslogMsgIDAndSD(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger not installed")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\n"), 0o644)
	in := startTend(t, dir)
	out, err := exec.Command(logger, "-u", in.syslog, "--rfc5424", "--msgid", "ID47", "--sd-id", "ex@32473",
		"--sd-param", `iut="3"`, "-t", "sdapp", "with structured data").CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	js := in.mustCtl("logs", "-o", "json", "--no-pager", "SYSLOG_MSGID=ID47")
	if !strings.Contains(js, `"MESSAGE":"with structured data"`) || !strings.Contains(js, `[ex@32473 iut=\"3\"]"`) {
		t.Fatalf("json lacks the message with its SD:\n%s", js)
	}
	if v := in.mustCtl("logs", "-o", "verbose", "--no-pager", "SYSLOG_IDENTIFIER=sdapp"); !strings.Contains(v, "    SYSLOG_MSGID=ID47\n") {
		t.Fatalf("verbose lacks SYSLOG_MSGID:\n%s", v)
	}
}
