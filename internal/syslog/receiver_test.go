package syslog

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoggerClient(t *testing.T) {
	needCommand(t, "logger")
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	path := unixgramReceiver(t, r)
	host, _ := os.Hostname()
	tests := []struct {
		name string
		args []string
		want Message
	}{
		{"local", []string{"-t", "mytag", "-p", "daemon.warning", "hello local"},
			Message{Facility: 3, Severity: 4, AppName: "mytag", Msg: []byte("hello local"), Format: FormatRFC3164}},
		{"rfc3164", []string{"--rfc3164", "-t", "t3164", "hello 3164"},
			Message{Facility: 1, Severity: 5, Hostname: host, AppName: "t3164", Msg: []byte("hello 3164"), Format: FormatRFC3164}},
		{"rfc5424", []string{"--rfc5424", "--msgid", "M1", "--sd-id", "zoo@32473", "--sd-param", `tiger="hun\"gry"`, "-t", "t5424", "hello 5424"},
			Message{Facility: 1, Severity: 5, Hostname: host, AppName: "t5424", MsgID: "M1", Msg: []byte("hello 5424"), Format: FormatRFC5424}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--socket-errors=on", "-u", path}, tt.args...)
			pid := run(t, "logger", args...)
			g := c.next(t)
			if !g.cred.Known || g.cred.PID != pid || g.cred.UID != os.Getuid() {
				t.Errorf("cred %+v; want pid %d uid %d", g.cred, pid, os.Getuid())
			}
			if g.m.Time.IsZero() {
				t.Errorf("no timestamp parsed")
			}
			g.m.Time = time.Time{}
			if tt.want.Format == FormatRFC5424 {
				if !strings.Contains(g.m.StructuredData, `[zoo@32473 tiger="hun\"gry"]`) {
					t.Errorf("structured data %q lacks the zoo element", g.m.StructuredData)
				}
				g.m.StructuredData = ""
				tt.want.ProcID = g.m.ProcID // logger may or may not send it
			}
			if !sameMessage(g.m, tt.want) {
				t.Errorf("got %+v\nwant %+v", g.m, tt.want)
			}
		})
	}
}

// TestGlibcSyslog checks the exact datagrams glibc's syslog(3) sends. glibc
// always writes to /dev/log, so the client runs in its own mount namespace
// with the test socket's directory mounted over /dev.
func TestGlibcSyslog(t *testing.T) {
	gcc := needCommand(t, "gcc")
	unshare := needCommand(t, "unshare")
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{})
	defer r.Close()
	path := unixgramReceiver(t, r)
	dir := t.TempDir()
	src := filepath.Join(dir, "client.c")
	prog := filepath.Join(dir, "client")
	if err := os.WriteFile(src, []byte(`#include <syslog.h>
int main(int argc, char **argv) {
	openlog("glibctest", LOG_PID, LOG_DAEMON);
	syslog(LOG_ERR, "hello %s", argv[1]);
	closelog();
	return 0;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-o", prog, src).CombinedOutput(); err != nil {
		t.Skipf("cannot compile a C client: %v\n%s", err, out)
	}
	// unshare execs the shell, which execs the client: all one pid.
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "/bin/sh", "-c",
		`mount --bind "$1" /dev && exec "$2" world`, "sh", filepath.Dir(path), prog)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot run a client in a mount namespace: %v\n%s", err, out)
	}
	g := c.next(t)
	pid := cmd.Process.Pid
	want := Message{Facility: 3, Severity: 3, AppName: "glibctest", ProcID: strconv.Itoa(pid),
		Msg: []byte("hello world"), Format: FormatRFC3164}
	if g.m.Time.IsZero() {
		t.Errorf("no timestamp parsed")
	}
	g.m.Time = time.Time{}
	if !sameMessage(g.m, want) || g.cred.PID != pid {
		t.Errorf("got %+v from %+v\nwant %+v from pid %d", g.m, g.cred, want, pid)
	}
}

// TestRateLimitPerPID floods from this process and checks that another
// process still gets through and that the report counts exactly.
func TestRateLimitPerPID(t *testing.T) {
	needCommand(t, "logger")
	const burst, flood = 5, 300
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitInterval: time.Hour, RateLimitBurst: burst})
	path := unixgramReceiver(t, r)
	conn, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range flood {
		if _, err := fmt.Fprintf(conn, "<13>flood: %d", i); err != nil {
			t.Fatal(err)
		}
	}
	// Datagrams on one socket are read in order: once the other sender's
	// message is here, the whole flood has been handled.
	pid := run(t, "logger", "--socket-errors=on", "-u", path, "-t", "other", "still heard")
	for i := range burst {
		if g := c.next(t); string(g.m.Msg) != strconv.Itoa(i) || g.cred.PID != os.Getpid() {
			t.Fatalf("message %d: %q from %+v", i, g.m.Msg, g.cred)
		}
	}
	if g := c.next(t); string(g.m.Msg) != "still heard" || g.cred.PID != pid {
		t.Fatalf("got %q from %+v; want the other process's message", g.m.Msg, g.cred)
	}
	c.none(t)
	r.Close()
	g := c.next(t)
	want := fmt.Sprintf("Suppressed %d messages from pid %d", flood-burst, os.Getpid())
	if string(g.m.Msg) != want || g.m.AppName != SuppressedAppName || g.cred.Known {
		t.Errorf("report %q (%+v); want %q", g.m.Msg, g.m, want)
	}
}

// TestRateLimitPerUID checks that an unprivileged user cannot escape the
// limit by using several processes, while root's messages still pass.
func TestRateLimitPerUID(t *testing.T) {
	needCommand(t, "logger")
	setpriv := needCommand(t, "setpriv")
	if os.Getuid() != 0 {
		t.Skip("needs root to run clients as another user")
	}
	c := newCollector()
	r := NewReceiver(c.handle, ReceiverOptions{RateLimitInterval: time.Hour, RateLimitBurst: 2, UIDRateLimitBurst: 3})
	path := unixgramReceiver(t, r)
	lines := filepath.Join(filepath.Dir(path), "lines")
	if err := os.WriteFile(lines, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "logger", "--socket-errors=on", "-u", path, "-t", "nobody", "-f", lines}
	p1 := run(t, setpriv, nobody...)
	p2 := run(t, setpriv, nobody...)
	rootPID := run(t, "logger", "--socket-errors=on", "-u", path, "-t", "root", "root line")
	want := []struct {
		pid, uid int
		msg      string
	}{{p1, 65534, "one"}, {p1, 65534, "two"}, {p2, 65534, "one"}, {rootPID, 0, "root line"}}
	for _, w := range want {
		if g := c.next(t); g.cred.PID != w.pid || g.cred.UID != w.uid || string(g.m.Msg) != w.msg {
			t.Fatalf("got %q from %+v; want %q from pid %d uid %d", g.m.Msg, g.cred, w.msg, w.pid, w.uid)
		}
	}
	c.none(t)
	r.Close()
	if g := c.next(t); string(g.m.Msg) != "Suppressed 1 messages from uid 65534" {
		t.Errorf("report %q", g.m.Msg)
	}
}
