package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLogsBadOptions: options getopt refuses get getopt's message and
// exit status 1, as journalctl's do; where journalctl is installed the
// message is compared with its own.
func TestLogsBadOptions(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--foo"}, "unrecognized option '--foo'"},
		{[]string{"--foo=bar"}, "unrecognized option '--foo=bar'"},
		{[]string{"-Z"}, "invalid option -- 'Z'"},
		{[]string{"-xZ"}, "invalid option -- 'Z'"},
		{[]string{"-o"}, "option requires an argument -- 'o'"},
		{[]string{"-xeu"}, "option requires an argument -- 'u'"},
		{[]string{"--output"}, "option '--output' requires an argument"},
		{[]string{"--follow=yes"}, "option '--follow' doesn't allow an argument"},
		{[]string{"-F"}, "option requires an argument -- 'F'"},
	}
	journalctl, _ := exec.LookPath("journalctl")
	for _, tt := range tests {
		_, errs, code := runLogsCmd(t, tt.args...)
		if code != 1 || errs != "tend: "+tt.want+"\n" {
			t.Errorf("logs %q: exit %d, stderr %q; want 1, %q", tt.args, code, errs, tt.want)
		}
		if journalctl == "" {
			continue
		}
		out, _ := exec.Command(journalctl, append([]string{"--no-pager"}, tt.args...)...).CombinedOutput()
		first, _, _ := strings.Cut(string(out), "\n")
		if _, msg, _ := strings.Cut(first, ": "); msg != tt.want { // getopt prefixes argv[0]
			t.Errorf("journalctl %q says %q; tend says %q", tt.args, first, tt.want)
		}
	}
}

func TestCheckOptionsAccepts(t *testing.T) {
	cmd := logCommands(&Env{Getenv: func(string) string { return "" }})[0]
	for _, args := range [][]string{
		{"-xeu", "web"}, {"-xe", "-u", "web"}, {"-t", "id", "--identifier=x"}, {"-F", "_PID"}, {"-N"}, {"-km"},
		{"--no-tail", "-f"}, {"--output-fields=MESSAGE,_PID", "-o", "verbose"}, {"_PID=1", "+", "_PID=2"},
		{"--lines=10", "--boot=-1"}, {"-ocat"}, {"--", "--foo"},
	} {
		if err := checkOptions(cmd.Flags(), args); err != nil {
			t.Errorf("checkOptions(%q): %v", args, err)
		}
	}
}
