package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// analyze runs systemd-analyze (the reference) with TZ=tz.
func analyze(t *testing.T, tz string, args ...string) (string, string, int) {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	cmd := exec.Command(p, args...)
	cmd.Env = append(os.Environ(), "TZ="+tz, "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "LC_ALL=C.UTF-8")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// dropFromNow removes the "From now:" lines, which depend on the moment
// each program ran.
func dropFromNow(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.Contains(l, "From now:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestCalendarOutputMatchesSystemd(t *testing.T) {
	specs := []string{"daily", "Mon..Fri *-*-* 10:00", "*:0/20", "*-*-* 02:30", "weekly Europe/Berlin",
		"@1234", "Sun *-*-* 03:10:00", "*-*-* 6,18:00", "bogus", "*:*:99999", "5s", "minutely UTC",
		"2003-03-05 05:40:23.4200004/3.1700005"}
	for _, tz := range []string{"UTC", "Europe/Berlin", "America/New_York"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range []int64{1729989000, 1710052200} {
			args := []string{"calendar", "--iterations=4", "--base-time=@" + strconv.FormatInt(base, 10), "--"}
			wantOut, wantErr, wantCode := analyze(t, tz, append(args, specs...)...)
			var out, errOut bytes.Buffer
			ok := printCalendar(&out, &errOut, specs, 4, time.Unix(base, 0), time.Now(), loc)
			if got, want := dropFromNow(out.String()), dropFromNow(wantOut); got != want {
				t.Errorf("TZ=%s base %d stdout:\n%s\nwant:\n%s", tz, base, got, want)
			}
			if ok != (wantCode == 0) {
				t.Errorf("TZ=%s: success %v; systemd-analyze exited %d", tz, ok, wantCode)
			}
			if got, want := firstLines(errOut.String(), "Failed"), firstLines(wantErr, "Failed"); got != want {
				t.Errorf("TZ=%s errors:\n%s\nwant:\n%s", tz, got, want)
			}
		}
	}
}

// firstLines keeps the lines that start with prefix.
func firstLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestTimespanCommandMatchesSystemd(t *testing.T) {
	for _, args := range [][]string{
		{"1h 30min", "2s 500ms", "infinity", "5", "1 µs", "61.5s"},
		{"1h", "x", "5s"}, // stops at the first bad span
		{"-1"},
	} {
		wantOut, wantErr, wantCode := analyze(t, "UTC", append([]string{"timespan", "--"}, args...)...)
		var out, errOut bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
		code := Run(env, append([]string{"timespan", "--"}, args...))
		if out.String() != wantOut {
			t.Errorf("timespan %q:\n%s\nwant:\n%s", args, out.String(), wantOut)
		}
		if code != wantCode {
			t.Errorf("timespan %q exited %d; want %d", args, code, wantCode)
		}
		if got, want := firstLines(errOut.String(), "Failed"), firstLines(wantErr, "Failed"); got != want {
			t.Errorf("timespan %q errors %q; want %q", args, got, want)
		}
	}
}
