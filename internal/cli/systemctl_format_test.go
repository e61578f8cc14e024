package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/inspect"
)

func TestProcessLines(t *testing.T) {
	runs := []api.ExecRun{
		{Kind: "ExecStop", Argv: []string{"/bin/kill", "-HUP", "1"}, PID: 40, Code: "exited", Status: 0},
		{Kind: "ExecStartPre", Index: 1, Argv: []string{"/bin/sh", "-c", "exit 1"}, PID: 20, Code: "exited", Status: 1},
		{Kind: "ExecStartPre", Argv: []string{"/bin/true"}, PID: 10, Code: "exited", Status: 0},
		{Kind: "ExecStartPost", Argv: []string{"/bin/sleep", "9"}, PID: 30, Code: "killed", Status: 15},
		{Kind: "ExecReload", Argv: []string{"/bin/x"}, PID: 35, Code: "dumped", Status: 11},
	}
	want := []string{
		"10 ExecStartPre=/bin/true (code=exited, status=0/SUCCESS)",
		"20 ExecStartPre=/bin/sh -c exit 1 (code=exited, status=1/FAILURE)",
		"30 ExecStartPost=/bin/sleep 9 (code=killed, signal=TERM)",
		"35 ExecReload=/bin/x (code=dumped, signal=SEGV)",
		"40 ExecStop=/bin/kill -HUP 1 (code=exited, status=0/SUCCESS)",
	}
	v := statusView{}
	for i, r := range sortedRuns(runs) {
		if got := v.processLine(r); got != want[i] {
			t.Errorf("line %d = %q; want %q", i, got, want[i])
		}
	}
	// In color, only unclean ends are red.
	v.color = true
	if got := v.processLine(runs[1]); !strings.Contains(got, ansiRed) {
		t.Errorf("failed command not red: %q", got)
	}
	if got := v.processLine(runs[3]); strings.Contains(got, ansiRed) {
		t.Errorf("SIGTERM is a clean end, yet red: %q", got)
	}
	var b bytes.Buffer
	v.color = false
	v.writeStatus(&b, api.UnitStatus{Name: "x.service", ActiveState: "active", SubState: "exited", LoadState: "loaded",
		MainPID: 50, ExecMainCode: "exited", ExecMainStatus: 0, ExecRuns: runs[2:3]})
	if !strings.Contains(b.String(), "\n    Process: 10 ExecStartPre=/bin/true (code=exited, status=0/SUCCESS)\n   Main PID: 50 (code=exited, status=0/SUCCESS)\n") {
		t.Errorf("status:\n%s", b.String())
	}
}

func TestWriteSystemStatus(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.Local)
	o := systemOverview{Host: "box", State: "degraded", Units: 12, Jobs: 1, Failed: 2, Since: now.Add(-90 * time.Second),
		Cgroup: "/tend", Groups: []cgroupGroup{
			{Unit: "a.service", Procs: []overviewProc{{PID: 7, Command: "/bin/a"}, {PID: 1234, Command: "/bin/a -x"}}},
			{Unit: "b.service", Procs: []overviewProc{{PID: 99, Command: "[b]"}}},
		}}
	var b bytes.Buffer
	writeSystemStatus(&b, o, now, false)
	want := "● box\n" +
		"    State: degraded\n" +
		"    Units: 12 loaded\n" +
		"     Jobs: 1 queued\n" +
		"   Failed: 2 units\n" +
		"    Since: " + o.Since.Format("Mon 2006-01-02 15:04:05 MST") + "; 1min 30s ago\n" +
		"   CGroup: /tend\n" +
		"           ├─a.service\n" +
		"           │ ├─   7 /bin/a\n" +
		"           │ └─1234 /bin/a -x\n" +
		"           └─b.service\n" +
		"             └─99 [b]\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestGroupProcesses(t *testing.T) {
	units := []api.UnitStatus{{Name: "a.service", Cgroup: "/x/tend/a.service"}, {Name: "b.service", Cgroup: "/x/tend/b.service"}, {Name: "t.target"}}
	procs := []*inspect.Process{
		{PID: 5, Cgroup: "/x/tend/a.service/sub", Args: []string{"/bin/a"}},
		{PID: 3, Cgroup: "/x/tend/a.service", Args: []string{"/bin/a0"}},
		{PID: 9, Cgroup: "/other/tend/b.service", Comm: "b", Unit: ""}, // another instance's group
		{PID: 8, Cgroup: "/", Comm: "kb", Unit: "b.service"},           // named by the daemon
		{PID: 1, Cgroup: "/init.scope", Args: []string{"/sbin/init"}},  // not tend's
	}
	base, groups := groupProcesses(units, procs)
	if base != "/x/tend" {
		t.Errorf("base = %q; want /x/tend", base)
	}
	var got []string
	for _, g := range groups {
		for _, p := range g.Procs {
			got = append(got, g.Unit+" "+p.Command)
		}
	}
	want := "a.service /bin/a0|a.service /bin/a|b.service [kb]"
	if strings.Join(got, "|") != want {
		t.Errorf("groups = %q; want %q", strings.Join(got, "|"), want)
	}
}

func TestWriteDepPlain(t *testing.T) {
	tree := api.DepTree{Name: "a.target", Children: []api.DepTree{
		{Name: "x.service"},
		{Name: "b.target", Children: []api.DepTree{{Name: "x.service"}, {Name: "y.service"}, {Name: "a.target"}}},
	}}
	var b bytes.Buffer
	writeDepPlain(&b, tree)
	if want := "a.target\n  x.service\n  b.target\n  y.service\n"; b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestEditedBody(t *testing.T) {
	tmpl := "### Editing /e/x.service.d/override.conf\n" + editMarkerStart + "\n\n%s\n" + editMarkerEnd + "\n\n### /e/x.service\n# [Service]\n"
	tests := []struct {
		name, text string
		markers    bool
		want       string
	}{
		{"untouched", strings.Replace(tmpl, "%s", "", 1), true, ""},
		{"added", strings.Replace(tmpl, "%s", "[Service]\nNice=5\n", 1), true, "[Service]\nNice=5\n"},
		{"below the end marker", strings.Replace(tmpl, "%s", "", 1) + "[Service]\nNice=5\n", true, ""},
		{"start marker deleted", "[Service]\nNice=5\n" + editMarkerEnd + "\n# x\n", true, "[Service]\nNice=5\n"},
		{"emptied", "", true, ""},
		{"blank", " \n\t\n", true, ""},
		{"full", "\n[Service]\nExecStart=/bin/x\n\n\n", false, "[Service]\nExecStart=/bin/x\n"},
		{"full keeps markers as text", editMarkerEnd + "\nA=1", false, editMarkerEnd + "\nA=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := editedBody(tt.text, tt.markers); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func FuzzEditedBody(f *testing.F) {
	f.Add("### Editing x\n"+editMarkerStart+"\n\nA=1\n\n"+editMarkerEnd+"\n# B=2\n", true)
	f.Add("A=1", false)
	f.Fuzz(func(t *testing.T, text string, markers bool) {
		got := editedBody(text, markers)
		if got == "" {
			return
		}
		if strings.TrimSpace(got)+"\n" != got {
			t.Fatalf("body %q is not trimmed to one final newline", got)
		}
		if markers && strings.Contains(got, editMarkerEnd) {
			t.Fatalf("body %q keeps what lies below the end marker", got)
		}
	})
}

func TestEditTemplate(t *testing.T) {
	dir := t.TempDir()
	frag := filepath.Join(dir, "x.service")
	other := filepath.Join(dir, "x.service.d", "10-a.conf")
	target := filepath.Join(dir, "x.service.d", "override.conf")
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(frag, "[Service]\nExecStart=/bin/x\n")
	write(other, "[Service]\nNice=1\n")
	write(target, "[Service]\nNice=2")
	got, err := editTemplate(&editFile{target: target, dropIn: true, comment: []string{frag, other, target}})
	if err != nil {
		t.Fatal(err)
	}
	want := "### Editing " + target + "\n" + editMarkerStart + "\n\n[Service]\nNice=2\n\n" + editMarkerEnd +
		"\n\n### " + frag + "\n# [Service]\n# ExecStart=/bin/x" +
		"\n\n### " + other + "\n# [Service]\n# Nice=1\n"
	if got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
	// --full starts from the fragment while no copy exists.
	got, err = editTemplate(&editFile{target: filepath.Join(dir, "etc", "x.service"), source: frag})
	if err != nil || got != "[Service]\nExecStart=/bin/x\n" {
		t.Errorf("full template = %q, %v", got, err)
	}
}
