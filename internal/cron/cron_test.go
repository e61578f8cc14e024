package cron

import (
	"errors"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fixtureEtc writes a passwd with root, alice and nobody.
func fixtureEtc(t testing.TB) string {
	dir := t.TempDir()
	passwd := "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "group"), []byte("root:x:0:\nalice:x:1000:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const sample = `# /etc/cron.d/sample
SHELL=/bin/bash
PATH = /usr/local/bin:/usr/bin:/bin
MAILTO="ops@example.com"
  GREETING = ' hello '
17 *	* * *	root    cd / && run-parts --report /etc/cron.hourly
61 * * * * root echo bad minute
*/5 9-17 * * mon-fri alice date +\%H:\%M % line one%line two
0 4 1,15 * 5 root /usr/bin/both
0 0 */2 * sun root /usr/bin/and
@reboot alice /usr/bin/at-boot
@daily nosuchuser /bin/true
@sometimes root /bin/true
30 2 * jan,JUL * root
0 0 * * 7-8 root /bin/week
0 0 5-1 * * root /bin/backwards
CRON_TZ=America/New_York
0 9 * * * root /bin/ny
`

func TestParseSample(t *testing.T) {
	entries, errs := Parse("/etc/cron.d/sample", []byte(sample), System, Options{Etc: fixtureEtc(t), Local: time.UTC})
	wantErrs := []string{
		`/etc/cron.d/sample:7: bad minute "61": 61 out of range 0-59`,
		`/etc/cron.d/sample:12: bad username "nosuchuser"`,
		`/etc/cron.d/sample:13: bad time keyword "@sometimes"`,
		`/etc/cron.d/sample:14: bad command: empty`,
		`/etc/cron.d/sample:15: bad day-of-week "7-8": 8 out of range 0-7`,
		`/etc/cron.d/sample:16: bad day-of-month "5-1": range 5-1 runs backwards`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %q; want %d", errs, len(wantErrs))
	}
	for i, err := range errs {
		if !strings.HasPrefix(err.Error(), wantErrs[i]) {
			t.Errorf("error %d = %q; want prefix %q", i, err, wantErrs[i])
		}
	}
	type want struct {
		line          int
		user, cmd, in string
		specs         []string
		reboot        bool
	}
	wants := []want{
		{6, "root", "cd / && run-parts --report /etc/cron.hourly", "", []string{"*-*-* *:17:00"}, false},
		{8, "alice", "date +%H:%M ", " line one\nline two\n", []string{"Mon..Fri *-*-* 09..17:00/5:00"}, false},
		{9, "root", "/usr/bin/both", "", []string{"*-*-01,15 04:00:00", "Fri *-*-* 04:00:00"}, false},
		{10, "root", "/usr/bin/and", "", []string{"Sun *-*-01/2 00:00:00"}, false},
		{11, "alice", "/usr/bin/at-boot", "", nil, true},
		{18, "root", "/bin/ny", "", []string{"*-*-* 09:00:00 America/New_York"}, false},
	}
	if len(entries) != len(wants) {
		t.Fatalf("%d entries; want %d", len(entries), len(wants))
	}
	for i, w := range wants {
		e := entries[i]
		var specs []string
		if e.Schedule != nil {
			specs = e.Schedule.Specs
		}
		if e.Line != w.line || e.User != w.user || e.Command != w.cmd || e.Stdin != w.in || e.Reboot != w.reboot ||
			strings.Join(specs, ";") != strings.Join(w.specs, ";") {
			t.Errorf("entry %d = line %d user %q cmd %q stdin %q reboot %v specs %q; want %+v",
				i, e.Line, e.User, e.Command, e.Stdin, e.Reboot, specs, w)
		}
	}
	if v, _ := entries[0].Lookup("MAILTO"); v != "ops@example.com" {
		t.Errorf("MAILTO = %q", v)
	}
	if v, _ := entries[0].Lookup("GREETING"); v != " hello " {
		t.Errorf("GREETING = %q", v)
	}
	if sh := entries[0].Shell(); sh != "/bin/bash" {
		t.Errorf("SHELL = %q", sh)
	}
}

func TestUserCrontabHasNoUserField(t *testing.T) {
	etc := fixtureEtc(t)
	entries, errs := Parse("/var/spool/cron/crontabs/alice", []byte("0 * * * * echo hi\n"), User, Options{Etc: etc, Owner: "alice", Local: time.UTC})
	if len(errs) != 0 || len(entries) != 1 || entries[0].User != "alice" || entries[0].Command != "echo hi" {
		t.Fatalf("entries %+v errors %v", entries, errs)
	}
	if got := entries[0].UnitBase(); got != "cron-user-alice-1" {
		t.Errorf("UnitBase = %q", got)
	}
}

func TestMissingFinalNewline(t *testing.T) {
	entries, errs := Parse("f", []byte("0 * * * * root a\n1 * * * * root b"), System, Options{Etc: fixtureEtc(t)})
	if len(entries) != 1 || len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "f:2: missing newline") {
		t.Fatalf("entries %d errors %v", len(entries), errs)
	}
}

// cronRule is cron's own test for one minute (cron.c's find_jobs): both
// day fields must match when either starts with "*", else either.
type cronRule struct {
	min, hour, dom, mon, dow bits
	domStar, dowStar         bool
}

func newRule(f []string) cronRule {
	var r cronRule
	r.min, _, _ = parseField(minuteField, f[0])
	r.hour, _, _ = parseField(hourField, f[1])
	r.dom, r.domStar, _ = parseField(domField, f[2])
	r.mon, _, _ = parseField(monthField, f[3])
	r.dow, r.dowStar, _ = parseField(dowField, f[4])
	return r
}

func (r cronRule) matches(t time.Time) bool {
	if !r.min.has(t.Minute()) || !r.hour.has(t.Hour()) || !r.mon.has(int(t.Month())) {
		return false
	}
	d, w := r.dom.has(t.Day()), r.dow.has(int(t.Weekday()))
	if r.domStar || r.dowStar {
		return d && w
	}
	return d || w
}

// The schedules of the entries crontab(5) documents, and random ones,
// agree minute by minute with cron's matching rule.
func TestScheduleAgreesWithCron(t *testing.T) {
	cases := [][]string{
		{"5", "0", "*", "*", "*"}, {"15", "14", "1", "*", "*"}, {"0", "22", "*", "*", "1-5"},
		{"23", "0-23/2", "*", "*", "*"}, {"5", "4", "*", "*", "sun"}, {"0", "4", "8-14", "*", "*"},
		{"30", "4", "1,15", "*", "5"}, {"0", "0", "*/2", "*", "sun"}, {"0", "*/3", "*", "jan-mar", "mon,fri"},
		{"0", "0", "31", "*", "7"}, {"0", "0", "29", "feb", "*"},
	}
	r := rand.New(rand.NewSource(5))
	gen := func(lo, hi int) string {
		switch r.Intn(5) {
		case 0:
			return "*"
		case 1:
			return "*/" + itoa(1+r.Intn(hi-lo))
		case 2:
			a := lo + r.Intn(hi-lo+1)
			return itoa(a) + "-" + itoa(a+r.Intn(hi-a+1))
		default:
			return itoa(lo+r.Intn(hi-lo+1)) + "," + itoa(lo+r.Intn(hi-lo+1))
		}
	}
	for i := 0; i < 60; i++ {
		cases = append(cases, []string{gen(0, 59), gen(0, 23), gen(1, 31), gen(1, 12), gen(0, 7)})
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range cases {
		s, err := newSchedule(f, "", time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		// Walk up to 25 runs, comparing each predicted run with cron's rule
		// and every minute in between with "no run".
		rule := newRule(f)
		at := start
		for n := 0; n < 25; n++ {
			next := s.Next(at)
			if next.IsZero() || next.After(start.AddDate(2, 0, 0)) {
				break
			}
			for m := at.Truncate(time.Minute).Add(time.Minute); m.Before(next); m = m.Add(time.Minute) {
				if rule.matches(m) {
					t.Fatalf("%q: cron runs at %v, schedule skips to %v", f, m, next)
				}
			}
			if !rule.matches(next) {
				t.Fatalf("%q: schedule runs at %v, cron would not", f, next)
			}
			at = next
		}
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

// fakeFS serves fixed files and their metadata.
type fakeFS map[string]struct {
	fi   FileInfo
	data string
}

func (f fakeFS) ReadChecked(p string, check func(FileInfo) error) ([]byte, error) {
	e, ok := f[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	if err := check(e.fi); err != nil {
		return nil, err
	}
	return []byte(e.data), nil
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		fi   FileInfo
		kind Kind
		uid  uint32
		want string
	}{
		{"system ok", FileInfo{Mode: 0o644, Nlink: 1}, System, 0, ""},
		{"symlink", FileInfo{Mode: fs.ModeSymlink | 0o777, Nlink: 1}, System, 0, "symbolic link"},
		{"directory", FileInfo{Mode: fs.ModeDir | 0o755, Nlink: 2}, System, 0, "not a regular file"},
		{"group writable", FileInfo{Mode: 0o664, Nlink: 1}, System, 0, "writable by group or others"},
		{"world writable", FileInfo{Mode: 0o646, Nlink: 1}, System, 0, "writable by group or others"},
		{"executable", FileInfo{Mode: 0o744, Nlink: 1}, System, 0, "executable"},
		{"not root's", FileInfo{Mode: 0o644, Nlink: 1, UID: 1000}, System, 0, "not root"},
		{"hard links", FileInfo{Mode: 0o644, Nlink: 2}, System, 0, "2 hard links"},
		{"user ok", FileInfo{Mode: 0o600, Nlink: 1, UID: 1000}, User, 1000, ""},
		{"user readable by group", FileInfo{Mode: 0o640, Nlink: 1, UID: 1000}, User, 1000, "accessible by others"},
		{"user someone else's", FileInfo{Mode: 0o600, Nlink: 1, UID: 1001}, User, 1000, "not its user"},
	}
	for _, tc := range tests {
		err := Check(tc.fi, tc.kind, tc.uid)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v; want %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadRefusesAndKeepsOthers(t *testing.T) {
	etc := fixtureEtc(t)
	fsys := fakeFS{
		"/etc/cron.d/good": {FileInfo{Mode: 0o644, Nlink: 1}, "0 1 * * * root /bin/good\n0 99 * * * root /bin/bad\n"},
		"/etc/cron.d/link": {FileInfo{Mode: fs.ModeSymlink | 0o777, Nlink: 1}, "0 1 * * * root /bin/evil\n"},
	}
	entries, errs := Load(fsys, "/etc/cron.d/link", System, Options{Etc: etc})
	if len(entries) != 0 || len(errs) != 1 || errs[0].Error() != "/etc/cron.d/link: refused: a symbolic link" {
		t.Fatalf("link: %v %v", entries, errs)
	}
	entries, errs = Load(fsys, "/etc/cron.d/good", System, Options{Etc: etc})
	var e *Error
	if len(entries) != 1 || len(errs) != 1 || !errors.As(errs[0], &e) || e.Line != 2 {
		t.Fatalf("good: %v %v", entries, errs)
	}
}

func TestLoadRealFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "job")
	if err := os.WriteFile(p, []byte("* * * * * root true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		t.Skip("the file must be root's")
	}
	if _, errs := Load(OSFS{}, p, System, Options{Etc: fixtureEtc(t)}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, errs := Load(OSFS{}, p, System, Options{Etc: fixtureEtc(t)}); len(errs) != 1 {
		t.Fatalf("world-writable file loaded: %v", errs)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, errs := Load(OSFS{}, link, System, Options{Etc: fixtureEtc(t)}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "symbolic link") {
		t.Fatalf("symlink: %v", errs)
	}
}

func TestUnits(t *testing.T) {
	in := "MAILTO=ops\n0 4 1,15 * 5 alice printf '\\%s $HOME \"q\"\\n' 50\\% %in%put\n"
	entries, errs := Parse("/etc/cron.d/php", []byte(in), System, Options{Etc: fixtureEtc(t), Local: time.UTC})
	if len(errs) != 0 || len(entries) != 1 {
		t.Fatal(errs)
	}
	u := entries[0].Units()
	wantTimer := `# Generated by tend from /etc/cron.d/php:2
[Unit]
Description=cron job /etc/cron.d/php:2
SourcePath=/etc/cron.d/php

[Timer]
OnCalendar=*-*-01,15 04:00:00
OnCalendar=Fri *-*-* 04:00:00
AccuracySec=1s
Unit=cron-php-2.service

[Install]
WantedBy=timers.target
`
	wantService := `# Generated by tend from /etc/cron.d/php:2
[Unit]
Description=cron job /etc/cron.d/php:2: printf '%%s $HOME "q"\n' 50%% 
SourcePath=/etc/cron.d/php

[Service]
Type=oneshot
User=alice
Environment="SHELL=/bin/sh"
Environment="PATH=/usr/bin:/bin"
Environment="HOME=/home/alice"
Environment="LOGNAME=alice"
Environment="MAILTO=ops"
ExecStart="/bin/sh" -c "printf '%%s $$HOME \"q\"\\n' 50%% "
IgnoreSIGPIPE=no
StandardInput=data
StandardInputData=aW4KcHV0Cg==
`
	if u.Timer != "cron-php-2.timer" || u.Service != "cron-php-2.service" {
		t.Errorf("names %q %q", u.Timer, u.Service)
	}
	if u.TimerText != wantTimer {
		t.Errorf("timer:\n%s\nwant:\n%s", u.TimerText, wantTimer)
	}
	if u.ServiceText != wantService {
		t.Errorf("service:\n%s\nwant:\n%s", u.ServiceText, wantService)
	}
	// A user instance runs its user's crontab as itself: no User=.
	entries, _ = Parse("/home/alice/.config/tend/crontab", []byte("0 * * * * true\n"), User, Options{Etc: fixtureEtc(t), Owner: "alice", Self: true})
	if u := entries[0].Units(); strings.Contains(u.ServiceText, "User=") {
		t.Errorf("Self entry names a user:\n%s", u.ServiceText)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("@hourly root x%y\\%z\n")
	f.Add("*/0 * * * * root x\n")
	etc := fixtureEtc(f)
	f.Fuzz(func(t *testing.T, s string) {
		entries, errs := Parse("f", []byte(s), System, Options{Etc: etc, Local: time.UTC})
		for _, err := range errs {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file:line: %v", err)
			}
		}
		for _, e := range entries {
			u := e.Units()
			if !strings.Contains(u.ServiceText, "ExecStart=") {
				t.Fatalf("no ExecStart in %q", u.ServiceText)
			}
			if e.Schedule != nil {
				base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
				if n := e.Schedule.Next(base); !n.IsZero() && !n.After(base) {
					t.Fatalf("Next went backwards: %v", n)
				}
			}
		}
	})
}

// TestLoadFIFORefusedAtOnce: a crontab swapped for a FIFO is refused by
// what its open descriptor is; the open does not wait for a writer (the
// test would hang if it did).
func TestLoadFIFORefusedAtOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "job")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs := Load(OSFS{}, p, System, Options{Etc: fixtureEtc(t)})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not a regular file") {
		t.Fatalf("FIFO: %v; want one error: not a regular file", errs)
	}
}
