package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ctlEnv is ctl with extra environment variables (EDITOR=…).
func (in *instance) ctlEnv(env []string, args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(tendBin, append(args, "--socket", in.socket)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		in.t.Fatalf("tend %v: %v", args, err)
	}
	return string(out), 0
}

// editorScript writes an editor that runs body with the file as $1.
func editorScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nset -e\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEdit(t *testing.T) {
	dir := t.TempDir()
	unitText := "[Unit]\nDescription=Edited\n[Service]\nExecStart=/bin/sleep 1000\n"
	if err := os.WriteFile(filepath.Join(dir, "ed.service"), []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	dropIn := filepath.Join(dir, "ed.service.d", "override.conf")

	// The editor sees systemctl's template; it writes a line between the
	// markers and saves a copy of what it was given.
	seen := filepath.Join(t.TempDir(), "seen")
	add := editorScript(t, `cp "$1" `+seen+`
sed -i '/^### Anything between here/a [Unit]\nDescription=Overridden' "$1"`)
	if out, code := in.ctlEnv([]string{"EDITOR=" + add}, "edit", "ed"); code != 0 {
		t.Fatalf("edit: exit %d\n%s", code, out)
	}
	tmpl, _ := os.ReadFile(seen)
	wantTmpl := "### Editing " + dropIn + "\n" +
		"### Anything between here and the comment below will become the new contents of the file\n\n\n\n" +
		"### Lines below this comment will be discarded\n\n" +
		"### " + filepath.Join(dir, "ed.service") + "\n# [Unit]\n# Description=Edited\n# [Service]\n# ExecStart=/bin/sleep 1000\n"
	if string(tmpl) != wantTmpl {
		t.Errorf("template:\n%q\nwant:\n%q", tmpl, wantTmpl)
	}
	b, err := os.ReadFile(dropIn)
	if err != nil || string(b) != "[Unit]\nDescription=Overridden\n" {
		t.Fatalf("drop-in = %q, %v", b, err)
	}
	// daemon-reload happened: the property changed.
	if got := strings.TrimSpace(in.mustCtl("show", "-P", "Description", "ed")); got != "Overridden" {
		t.Fatalf("Description after edit = %q; want Overridden", got)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "ed.service.d", ".#*")); len(names) > 0 {
		t.Errorf("temporary files left: %v", names)
	}

	// An editor that empties the file removes the override.
	wipe := editorScript(t, `: > "$1"`)
	if out, code := in.ctlEnv([]string{"EDITOR=" + wipe}, "edit", "ed.service"); code != 0 {
		t.Fatalf("edit (wipe): exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ed.service.d")); !os.IsNotExist(err) {
		t.Fatalf("drop-in directory still there after emptying: %v", err)
	}
	if got := strings.TrimSpace(in.mustCtl("show", "-P", "Description", "ed")); got != "Edited" {
		t.Fatalf("Description after removing the override = %q; want Edited", got)
	}

	// An untouched template writes nothing.
	keep := editorScript(t, `true`)
	out, code := in.ctlEnv([]string{"EDITOR=" + keep}, "edit", "ed")
	if code != 0 || !strings.Contains(out, "canceled: temporary file is empty") {
		t.Fatalf("edit (untouched): exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ed.service.d")); !os.IsNotExist(err) {
		t.Fatalf("untouched edit left %v", err)
	}

	// --drop-in names the file; VISUAL is used when EDITOR is unset.
	if out, code := in.ctlEnv([]string{"EDITOR=", "VISUAL=" + add}, "edit", "--drop-in=limits", "ed"); code != 0 {
		t.Fatalf("edit --drop-in: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ed.service.d", "limits.conf")); err != nil {
		t.Fatal(err)
	}

	// --full edits a whole copy; the editor appends to it.
	full := editorScript(t, `sed -i 's/^Description=.*/Description=Full/' "$1"`)
	if err := os.RemoveAll(filepath.Join(dir, "ed.service.d")); err != nil {
		t.Fatal(err)
	}
	if out, code := in.ctlEnv([]string{"EDITOR=" + full}, "edit", "--full", "ed"); code != 0 {
		t.Fatalf("edit --full: exit %d\n%s", code, out)
	}
	if got := strings.TrimSpace(in.mustCtl("show", "-P", "Description", "ed")); got != "Full" {
		t.Fatalf("Description after edit --full = %q; want Full", got)
	}

	// A unit that does not exist needs --force.
	out, code = in.ctlEnv([]string{"EDITOR=" + full}, "edit", "nosuch")
	if code == 0 || !strings.Contains(out, "--force --full nosuch.service") {
		t.Fatalf("edit nosuch: exit %d\n%s", code, out)
	}
	create := editorScript(t, `printf '[Service]\nExecStart=/bin/true\n' > "$1"`)
	if out, code := in.ctlEnv([]string{"EDITOR=" + create}, "edit", "--force", "--full", "new"); code != 0 {
		t.Fatalf("edit --force --full new: exit %d\n%s", code, out)
	}
	if got := strings.TrimSpace(in.mustCtl("show", "-P", "LoadState", "new")); got != "loaded" {
		t.Fatalf("new.service LoadState = %q; want loaded", got)
	}
}

func TestEditNeedsWriteRights(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ed.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	if err := os.Chmod(filepath.Dir(in.socket), 0o755); err != nil {
		t.Fatal(err)
	}
	add := editorScript(t, `echo '[Service]' >> "$1"`)
	cmd := exec.Command(tendBin, "edit", "ed", "--socket", in.socket)
	cmd.Env = append(os.Environ(), "EDITOR="+add)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs root") {
		t.Fatalf("edit as nobody: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ed.service.d")); !os.IsNotExist(err) {
		t.Fatalf("a refused edit left %v", err)
	}
}

func TestStatusProcessLines(t *testing.T) {
	dir := t.TempDir()
	unitText := "[Service]\nType=oneshot\nRemainAfterExit=yes\n" +
		"ExecStartPre=/bin/true\nExecStartPre=-/bin/sh -c 'exit 3'\nExecStart=/bin/sh -c 'echo done'\n"
	if err := os.WriteFile(filepath.Join(dir, "pre.service"), []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startTend(t, dir)
	in.mustCtl("start", "pre")
	out, _ := in.ctl("status", "pre")
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^    Process: \d+ ExecStartPre=/bin/true \(code=exited, status=0/SUCCESS\)$`),
		regexp.MustCompile(`(?m)^    Process: \d+ ExecStartPre=/bin/sh -c exit 3 \(code=exited, status=3/NOTIMPLEMENTED\)$`),
		regexp.MustCompile(`(?m)^    Process: \d+ ExecStart=/bin/sh -c echo done \(code=exited, status=0/SUCCESS\)$`),
		regexp.MustCompile(`(?m)^   Main PID: \d+ \(code=exited, status=0/SUCCESS\)$`),
	}
	for _, re := range want {
		if !re.MatchString(out) {
			t.Errorf("status lacks %s:\n%s", re, out)
		}
	}
	// show gives the same pids and statuses.
	show := in.mustCtl("show", "-p", "ExecStartPre", "pre")
	if !regexp.MustCompile(`argv\[\]=/bin/sh -c exit 3 ;.* pid=[1-9]\d* ; code=exited ; status=3/`).MatchString(show) {
		t.Errorf("show ExecStartPre:\n%s", show)
	}
}

func TestStatusOverview(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sleeper.service": "[Service]\nExecStart=/bin/sleep 1001\n",
		"broken.service":  "[Service]\nExecStart=/bin/false\n",
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	in.mustCtl("start", "sleeper")
	in.ctl("start", "broken")
	// The start job ends at the fork; /bin/false's exit comes after.
	in.waitState("broken", "Active: failed")
	pid := in.mainPID("sleeper")
	out := in.mustCtl("status")
	host, _ := os.Hostname()
	for _, re := range []string{
		`^● ` + regexp.QuoteMeta(host) + `\n`,
		`(?m)^    State: degraded$`,
		`(?m)^     Jobs: 0 queued$`,
		`(?m)^   Failed: 1 units$`,
		`(?m)^    Since: \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+; .* ago$`,
		`(?m)^   CGroup: /\S*$`,
		`(?m)^           [├└]─sleeper\.service\n           [│ ] └─` + strconv.Itoa(pid) + ` /bin/sleep 1001$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status lacks %s:\n%s", re, out)
		}
	}
}

func TestListDependenciesOrdering(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"db.service":  "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 1000\n",
		"app.service": "[Unit]\nDefaultDependencies=no\nAfter=db.service net.target\n[Service]\nExecStart=/bin/sleep 1000\n",
		"net.target":  "[Unit]\nDefaultDependencies=no\nAfter=db.service\n",
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := startTend(t, dir)
	got := in.mustCtl("list-dependencies", "--after", "app")
	want := "app.service\n○ ├─db.service\n○ └─net.target\n○   └─db.service\n"
	if got != want {
		t.Errorf("--after:\n%s\nwant:\n%s", got, want)
	}
	got = in.mustCtl("list-dependencies", "--before", "--plain", "db")
	want = "db.service\n  app.service\n  net.target\n"
	if got != want {
		t.Errorf("--before --plain:\n%s\nwant:\n%s", got, want)
	}
}
