package inetd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/unit"
)

// fixtures reads testdata's inetd.conf and xinetd.conf (with its
// includedir pointed at testdata) and returns the units and diags.
func fixtures(t *testing.T) ([]Unit, []unit.Diag, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/etc/xinetd.conf")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/etc/xinetd.d")
	xconf := filepath.Join(dir, "xinetd.conf")
	if err := os.WriteFile(xconf, []byte(strings.ReplaceAll(string(b), "XINETD_D", abs)), 0o644); err != nil {
		t.Fatal(err)
	}
	us, ds := Read(Config{Inetd: []string{"testdata/etc/inetd.conf"}, Xinetd: []string{xconf},
		Services: "testdata/etc/services", Etc: "testdata/etc"})
	return us, ds, abs
}

func TestReadNames(t *testing.T) {
	us, _, _ := fixtures(t)
	var got []string
	for _, u := range us {
		got = append(got, u.Name)
	}
	want := []string{
		"inetd-2000-tcp.socket", "inetd-2000-tcp@.service",
		"inetd-chargen-tcp6-::1.socket",
		"inetd-daytime-tcp-127.0.0.1.socket",
		"inetd-echo-tcp.socket", "inetd-echo-udp.socket",
		"inetd-finger-tcp46.socket", "inetd-finger-tcp46@.service",
		"inetd-ident-tcp.service", "inetd-ident-tcp.socket",
		"inetd-run-legacy-echo.sock-unix.socket", "inetd-run-legacy-echo.sock-unix@.service",
		"inetd-sink-tcp6.socket",
		"inetd-telnet-tcp.socket", "inetd-telnet-tcp6.socket", "inetd-telnet-tcp6@.service", "inetd-telnet-tcp@.service",
		"inetd-tftp-udp.service", "inetd-tftp-udp.socket",
		"xinetd-echo-stream.socket",
		"xinetd-myecho.socket", "xinetd-myecho@.service",
		"xinetd-telnet.socket", "xinetd-telnet@.service",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got units\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadDiags(t *testing.T) {
	_, ds, xd := fixtures(t)
	var got []string
	for _, d := range ds {
		sev := "error"
		if d.Severity == unit.Warning {
			sev = "warning"
		}
		got = append(got, sev+" "+strings.ReplaceAll(d.Error(), xd+"/", "D/"))
	}
	want := []string{
		`error testdata/etc/inetd.conf:47: unknown service nosuch/tcp (not in the services file), ignoring line`,
		`error testdata/etc/inetd.conf:48: unknown user "mallory", ignoring line`,
		`error testdata/etc/inetd.conf:49: unknown group "wheel", ignoring line`,
		`error testdata/etc/inetd.conf:50: 5 fields; want service, socket type, protocol, wait/nowait, user, server and its arguments, ignoring line`,
		`error testdata/etc/inetd.conf:51: socket type stream does not go with protocol udp, ignoring line`,
		`error testdata/etc/inetd.conf:52: raw sockets are not supported, ignoring line`,
		`error testdata/etc/inetd.conf:53: protocol "sctp": want tcp, udp, tcp4, udp4, tcp6, udp6, tcp46, udp46 or unix, ignoring line`,
		`error testdata/etc/inetd.conf:54: "maybe": want wait or nowait[.max], ignoring line`,
		`error testdata/etc/inetd.conf:55: "nowait.0": max must be a positive number of servers a minute, ignoring line`,
		`error testdata/etc/inetd.conf:56: server "in.telnetd" is not an absolute path, ignoring line`,
		`error testdata/etc/inetd.conf:57: Sun RPC service rstatd/1-3 (rpc/udp) is not supported: run rpcbind and the server as units, ignoring line`,
		`error testdata/etc/inetd.conf:58: no internal service "ftp" (tend has echo, discard, daytime, chargen, time), ignoring line`,
		`error testdata/etc/inetd.conf:59: listening address "myhost": not a numeric address (tend does not resolve host names), ignoring line`,
		`error D/bad:1: service nouser: missing user, ignoring`,
		`error D/bad:10: service ghost: no_access evil.example.com: not a numeric address (tend does not resolve host or network names), ignoring`,
		`error D/bad:21: service unlisted-nope: unknown service unlisted-nope/tcp (not in the services file), ignoring`,
		`error D/bad:29: service rpcthing: type RPC is not supported, ignoring`,
		`error D/echo:5: service echo: id echo-stream already defined at D/bad:38, ignoring`,
		`warning D/myecho:2: service myecho: not applied by tend: log_on_success`,
		`error testdata/etc/inetd.conf:60: inetd-echo-tcp.socket is already generated from testdata/etc/inetd.conf:21, ignoring`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got diags\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// loadAll writes the units as a generator directory and loads them with
// the unit loader, as the daemon does; any loader diag fails the test.
func loadAll(t *testing.T, us []Unit) map[string]*unit.Unit {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "generator")
	if err := WriteDir(dir, us); err != nil {
		t.Fatal(err)
	}
	l := &unit.Loader{Dirs: []string{dir}, Env: unit.SystemEnv()}
	out := map[string]*unit.Unit{}
	for _, g := range us {
		u, err := l.Load(g.Name)
		if err != nil {
			t.Fatal(err)
		}
		if u.Load != unit.Loaded || len(u.Diags) > 0 {
			t.Fatalf("%s: load state %s, diags %v\n%s", g.Name, u.Load, u.Diags, g.Text)
		}
		if !strings.Contains(g.Text, "# Generated by tend from "+g.Source+";") {
			t.Errorf("%s: the text does not name its source %s", g.Name, g.Source)
		}
		out[g.Name] = u
	}
	return out
}

func spec(t *testing.T, u *unit.Unit) *activate.Spec {
	t.Helper()
	s, diags, ok := activate.ParseSpec(u, nil)
	if !ok || len(diags) > 0 {
		t.Fatalf("%s: ok=%v diags %v", u.Name, ok, diags)
	}
	return s
}

func TestGeneratedUnitsLoad(t *testing.T) {
	us, _, _ := fixtures(t)
	units := loadAll(t, us)

	echo := spec(t, units["inetd-echo-tcp.socket"])
	if echo.Internal != "echo" || !echo.Accept || echo.Listen[0].Address.String() != "0.0.0.0:7" ||
		echo.MaxConnections != 256 || echo.TriggerLimitBurst != 256 || echo.TriggerLimitInterval.String() != "1m0s" ||
		echo.TriggerLimitHold.String() != "10m0s" {
		t.Errorf("inetd-echo-tcp.socket: got %+v", echo)
	}
	if u := units["inetd-echo-tcp.socket"]; u.SourcePath != "testdata/etc/inetd.conf" {
		t.Errorf("SourcePath: got %q", u.SourcePath)
	}
	if s := spec(t, units["inetd-echo-udp.socket"]); s.Accept || s.Internal != "echo" || s.Listen[0].Directive != "ListenDatagram" {
		t.Errorf("inetd-echo-udp.socket: got %+v", s)
	}

	tel := spec(t, units["inetd-telnet-tcp6.socket"])
	if tel.Service != "inetd-telnet-tcp6@.service" || tel.BindIPv6Only != activate.IPv6Only || tel.MaxConnections != 40 || tel.TriggerLimitBurst != 40 {
		t.Errorf("inetd-telnet-tcp6.socket: got %+v", tel)
	}
	svc := units["inetd-telnet-tcp6@.service"].Service
	cmd := svc.ExecStart[0]
	if cmd.Path != "/usr/sbin/tcpd" || !reflect.DeepEqual(cmd.Argv, []string{"/usr/sbin/in.telnetd"}) ||
		svc.Exec.User != "telnetd" || svc.Exec.Group != "tty" || svc.Exec.StandardInput != "socket" || svc.Exec.StandardOutput != "socket" {
		t.Errorf("inetd-telnet-tcp6@.service: got %+v exec %+v", cmd, svc.Exec)
	}
	ident := units["inetd-ident-tcp.service"].Service.ExecStart[0]
	if !reflect.DeepEqual(ident.Argv, []string{"identd", "-w", "-t120", "-e%d", "$HOME"}) || !ident.NoEnvExpand {
		t.Errorf("ident argv: got %q (no env expansion %v)", ident.Argv, ident.NoEnvExpand)
	}
	if s := spec(t, units["inetd-ident-tcp.socket"]); s.Accept || s.Service != "inetd-ident-tcp.service" {
		t.Errorf("inetd-ident-tcp.socket: got %+v", s)
	}
	if s := spec(t, units["inetd-run-legacy-echo.sock-unix.socket"]); s.Listen[0].Address.Path != "/run/legacy/echo.sock" {
		t.Errorf("unix socket: got %+v", s.Listen)
	}

	my := spec(t, units["xinetd-myecho.socket"])
	if my.Listen[0].Address.String() != "127.0.0.1:2007" || my.MaxConnectionsPerSource != 5 || !my.KeepAlive || !my.NoDelay ||
		my.TriggerLimitBurst != 100 || my.TriggerLimitHold.String() != "5s" {
		t.Errorf("xinetd-myecho.socket: got %+v", my)
	}
	// only_from 127.0.0.1 10.0.0.0 (defaults) + 192.168.1.0/24, no_access
	// 10.1.2.0/24 192.168.1.7: the more specific match wins, as in xinetd.
	for peer, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.2": false, "10.9.9.9": true, "10.1.2.5": false, "10.1.3.1": true,
		"192.168.1.7": false, "192.168.1.8": true, "192.168.2.1": false, "8.8.8.8": false, "::1": false,
		"::ffff:192.168.1.7": false, "::ffff:192.168.1.9": true,
	} {
		if got := activate.Allowed(netip.MustParseAddr(peer), my.IPAddressAllow, my.IPAddressDeny); got != want {
			t.Errorf("xinetd-myecho: peer %s allowed %v; want %v", peer, got, want)
		}
	}
	mys := units["xinetd-myecho@.service"].Service
	if c := mys.ExecStart[0]; c.Path != "/bin/cat" || !reflect.DeepEqual(c.Argv, []string{"cat", "-u"}) ||
		!reflect.DeepEqual(mys.Exec.Environment, []string{"GREETING=hello", "LANG=C"}) ||
		!reflect.DeepEqual(mys.Exec.PassEnvironment, []string{"PATH", "TZ"}) || mys.Exec.Nice == nil || *mys.Exec.Nice != 5 ||
		mys.Exec.Limits["NOFILE"].Soft != 512 {
		t.Errorf("xinetd-myecho@.service: got %+v %+v", c, mys.Exec)
	}
	xt := spec(t, units["xinetd-telnet.socket"])
	if xt.Listen[0].Address.String() != "[::]:23" || xt.BindIPv6Only != activate.IPv6Both || activate.FormatPrefixes(xt.IPAddressAllow) != "127.0.0.0/8 ::1" {
		t.Errorf("xinetd-telnet.socket: got %+v", xt)
	}
	if c := units["xinetd-telnet@.service"].Service.ExecStart[0]; c.Path != "/usr/sbin/tcpd" || !reflect.DeepEqual(c.Argv, []string{"/usr/sbin/in.telnetd", "-h"}) {
		t.Errorf("NAMEINARGS: got %+v", c)
	}
}

func TestWriteDirRemovesStale(t *testing.T) {
	us, _, _ := fixtures(t)
	dir := filepath.Join(t.TempDir(), "gen")
	timer := Unit{Name: "cron-x-1.timer", Text: "[Timer]\n"}
	if err := WriteDir(dir, append(us, timer, Unit{Name: "cron-x-1.service", Text: "[Service]\n"})); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "timers.target.wants", timer.Name)); err != nil || l != "../"+timer.Name {
		t.Fatalf("timer not enabled: %q %v", l, err)
	}
	keep := us[:2] // inetd-2000-tcp.socket and its template; the timer goes
	if err := WriteDir(dir, keep); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, rel)
		}
		return nil
	})
	slices.Sort(got)
	want := []string{"inetd-2000-tcp.socket", "inetd-2000-tcp@.service", "sockets.target.wants/inetd-2000-tcp.socket"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v; want %v", got, want)
	}
}
