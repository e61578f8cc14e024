package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/journal"
)

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi int
		bad    bool
	}{
		{"err", 0, 3, false}, {"3", 0, 3, false}, {"WARNING", 0, 4, false}, {"debug", 0, 7, false},
		{"warning..err", 3, 4, false}, {"err..warning", 3, 4, false}, {"..notice", 0, 5, false},
		{"crit..", 2, 7, false}, {"8", 0, 0, true}, {"loud", 0, 0, true}, {"err..x", 0, 0, true},
	}
	for _, tt := range tests {
		lo, hi, err := parsePriority(tt.in)
		if (err != nil) != tt.bad || !tt.bad && (lo != tt.lo || hi != tt.hi) {
			t.Errorf("parsePriority(%q) = %d, %d, %v; want %d, %d (error %v)", tt.in, lo, hi, err, tt.lo, tt.hi, tt.bad)
		}
	}
}

func TestResolveBoot(t *testing.T) {
	boots := []journal.Boot{{ID: "b1"}, {ID: "b2"}, {ID: "b3"}}
	tests := []struct{ in, want string }{{"", "cur"}, {"0", "cur"}, {"-1", "b2"}, {"-2", "b1"}, {"1", "b1"}, {"abc", "abc"}}
	for _, tt := range tests {
		if got, err := resolveBoot(tt.in, "cur", boots); err != nil || got != tt.want {
			t.Errorf("resolveBoot(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := resolveBoot("-5", "cur", boots); err == nil {
		t.Error("boot -5 of 3 accepted")
	}
}

// logsDir writes a small journal and returns its directory.
func logsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	j, err := journal.Open(journal.Options{Dir: dir, MaxUse: 1 << 30, KeepFree: -1, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []struct {
		unit string
		pri  int
		msg  string
	}{{"web.service", 6, "web up"}, {"db.service", 3, "db Failed badly"}, {"web.service", 6, "web request"}, {"web.service", 4, "web slow"}} {
		now = now.Add(time.Second)
		if err := j.Append(journal.Entry{Unit: m.unit, Priority: m.pri, PID: 100 + i, Identifier: strings.TrimSuffix(m.unit, ".service"), Message: []byte(m.msg)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runLogsCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := Run(env, append([]string{"logs"}, args...))
	return out.String(), errb.String(), code
}

func TestLogsDirectory(t *testing.T) {
	dir := logsDir(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", "cat"}, "web up\ndb Failed badly\nweb request\nweb slow\n"},
		{[]string{"-o", "cat", "-u", "web"}, "web up\nweb request\nweb slow\n"},
		{[]string{"-o", "cat", "-u", "web", "-n", "2"}, "web request\nweb slow\n"},
		{[]string{"-o", "cat", "-n1"}, "web slow\n"},
		{[]string{"-o", "cat", "-r", "-u", "web*"}, "web slow\nweb request\nweb up\n"},
		{[]string{"-o", "cat", "-p", "warning"}, "db Failed badly\nweb slow\n"},
		{[]string{"-o", "cat", "-g", "FAILED"}, "db Failed badly\n"},
		{[]string{"-o", "cat", "-g", "FAILED", "--case-sensitive"}, ""},
		{[]string{"-o", "cat", "-b"}, "web up\ndb Failed badly\nweb request\nweb slow\n"},
		{[]string{"-o", "cat", "--since", "2000-01-01", "--until", "-1h"}, ""},
		{[]string{"-u", "nothing"}, "-- No entries --\n"},
	}
	for _, tt := range tests {
		out, errs, code := runLogsCmd(t, append([]string{"--directory", dir, "--no-hostname"}, tt.args...)...)
		if code != 0 || out != tt.want {
			t.Errorf("logs %v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errs, tt.want)
		}
	}
}

func TestLogsJSONAndCursor(t *testing.T) {
	dir := logsDir(t)
	out, _, code := runLogsCmd(t, "-D", dir, "-o", "json", "-u", "db")
	var m map[string]string
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if m["MESSAGE"] != "db Failed badly" || m["_SYSTEMD_UNIT"] != "db.service" || m["PRIORITY"] != "3" || m["_PID"] != "101" {
		t.Errorf("json fields %v", m)
	}
	out, _, _ = runLogsCmd(t, "-D", dir, "-o", "cat", "--after-cursor", m["__CURSOR"])
	if out != "web request\nweb slow\n" {
		t.Errorf("after cursor: %q", out)
	}
	out, _, _ = runLogsCmd(t, "-D", dir, "-o", "cat", "-n", "1", "--show-cursor")
	if !strings.HasPrefix(out, "web slow\n-- cursor: s=4;") {
		t.Errorf("show-cursor: %q", out)
	}
}

func TestLogsBadFlagsAndMaintenance(t *testing.T) {
	dir := logsDir(t)
	for _, args := range [][]string{{"--since", "someday"}, {"-p", "loud"}, {"-o", "fancy"}, {"extra"}, {"--vacuum-size", "lots"}} {
		if _, errs, code := runLogsCmd(t, append([]string{"-D", dir}, args...)...); code == 0 || errs == "" {
			t.Errorf("logs %v: exit %d, stderr %q; want an error", args, code, errs)
		}
	}
	out, _, code := runLogsCmd(t, "-D", dir, "--disk-usage")
	if code != 0 || !strings.HasPrefix(out, "Archived and active journals take up ") {
		t.Errorf("disk usage: %d %q", code, out)
	}
	out, _, code = runLogsCmd(t, "-D", dir, "--list-boots")
	if boot := currentBootID(); code != 0 || !strings.HasPrefix(out, "  0 "+boot+" ") {
		t.Errorf("list-boots: %d %q; want the current boot %s at offset 0", code, out, boot)
	}
	out, errs, code := runLogsCmd(t, "-D", dir, "--vacuum-size", "1")
	if code != 0 || !strings.Contains(out, "freed") {
		t.Errorf("vacuum: %d %q %q", code, out, errs)
	}
	if out, _, _ := runLogsCmd(t, "-D", dir, "-o", "cat"); out != "" {
		t.Errorf("after vacuum to 1 byte the sealed segments should be gone, got %q", out)
	}
}

func TestOptionalValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-n", "--lines=10"},
		{"-n 20", "--lines=20"},
		{"-n20", "--lines=20"},
		{"-n=5", "-n=5"},
		{"-n -u web", "--lines=10 -u web"},
		{"--lines 3 -f", "--lines=3 -f"},
		{"-b", "--boot=0"},
		{"-b -1", "--boot=-1"},
		{"-b -u x", "--boot=0 -u x"},
		{"-b ee2a311b-f200-4837-8f2f-5e33d0dad8c0 -r", "--boot=ee2a311b-f200-4837-8f2f-5e33d0dad8c0 -r"},
		{"-- -n", "-- -n"},
		{"-n all -f", "--lines=-1 -f"},
	}
	for _, tt := range tests {
		if got := strings.Join(optionalValues(strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("optionalValues(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"100", 100, false}, {"1K", 1 << 10, false}, {"2M", 2 << 20, false}, {"1.5G", 3 << 29, false},
		{"1T", 1 << 40, false}, {"500MB", 500 << 20, false}, {"lots", 0, true}, {"-1M", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// TestLogsJournalctlFlags runs journalctl's selection and listing flags
// on a journal directory.
func TestLogsJournalctlFlags(t *testing.T) {
	dir := logsDir(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", "cat", "-xeu", "web"}, "web up\nweb request\nweb slow\n"},
		{[]string{"-o", "cat", "-t", "db"}, "db Failed badly\n"},
		{[]string{"-o", "cat", "-t", "db", "--identifier", "web", "-n", "2"}, "web request\nweb slow\n"},
		{[]string{"-o", "cat", "_PID=101"}, "db Failed badly\n"},
		{[]string{"-o", "cat", "_PID=100", "_PID=103"}, "web up\nweb slow\n"},
		{[]string{"-o", "cat", "_PID=100", "PRIORITY=4"}, ""},
		{[]string{"-o", "cat", "_PID=100", "+", "PRIORITY=4"}, "web up\nweb slow\n"},
		{[]string{"-o", "cat", "_SYSTEMD_UNIT=db.service"}, "db Failed badly\n"},
		{[]string{"-o", "cat", "-u", "web", "SYSLOG_IDENTIFIER=db"}, ""},
		{[]string{"-o", "cat", "-m", "-e"}, "web up\ndb Failed badly\nweb request\nweb slow\n"},
		{[]string{"-o", "cat", "-n", "1", "--no-tail"}, "web up\ndb Failed badly\nweb request\nweb slow\n"},
		{[]string{"-F", "_SYSTEMD_UNIT"}, "db.service\nweb.service\n"},
		{[]string{"-F", "PRIORITY"}, "3\n4\n6\n"},
		{[]string{"-o", "cat", "-k", "-q"}, ""},
		{[]string{"-k"}, "-- No entries --\n"},
	}
	for _, tt := range tests {
		out, errs, code := runLogsCmd(t, append([]string{"--directory", dir, "--no-hostname"}, tt.args...)...)
		if code != 0 || out != tt.want {
			t.Errorf("logs %v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errs, tt.want)
		}
	}
	out, _, _ := runLogsCmd(t, "-N")
	if !strings.Contains(out, "\n_SYSTEMD_UNIT\n") || !strings.HasPrefix(out, "__CURSOR\n") {
		t.Errorf("-N: %q", out)
	}
	if _, errs, code := runLogsCmd(t, "-D", dir, "-o", "cat", "_COMM=web"); code != 0 || !strings.Contains(errs, "does not record _COMM") {
		t.Errorf("_COMM match: exit %d, stderr %q; want a note that it is not recorded", code, errs)
	}
	if _, errs, code := runLogsCmd(t, "-D", dir, "_PID=1", "+"); code != 1 || !strings.Contains(errs, `"+" can only be used between terms`) {
		t.Errorf("trailing +: exit %d, stderr %q", code, errs)
	}
	if _, errs, code := runLogsCmd(t, "-D", dir, "-o", "bogus"); code != 1 || !strings.Contains(errs, "unknown output format") {
		t.Errorf("-o bogus: exit %d, stderr %q", code, errs)
	}
}
