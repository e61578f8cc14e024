package activate

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

// loadUnit writes text as dir/name and loads it through the unit loader,
// as the daemon does.
func loadUnit(t *testing.T, name, text string) *unit.Unit {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &unit.Loader{Dirs: []string{dir}, Env: unit.SystemEnv()}
	u, err := l.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestParseSpecDefaults(t *testing.T) {
	u := loadUnit(t, "web.socket", "[Socket]\nListenStream=8080\n")
	s, diags, ok := ParseSpec(u, nil)
	if !ok || len(diags) != 0 {
		t.Fatalf("got ok=%v diags %v; want a clean load", ok, diags)
	}
	want := &Spec{
		Listen:       []Listener{{Directive: "ListenStream", Address: s.Listen[0].Address, File: u.Path, Line: 2}},
		BindIPv6Only: IPv6Default, Backlog: 4096, SocketMode: 0o666, DirectoryMode: 0o755,
		FileDescriptorName: "web.socket", Service: "web.service",
		MaxConnections: 64, MaxConnectionsPerSource: 64,
		TriggerLimitInterval: 2 * time.Second, TriggerLimitBurst: 20,
		Timeout: 90 * time.Second,
	}
	want.Exec = s.Exec // systemd.exec(5)'s defaults: TestParseSpecExec
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if got := s.Listen[0].Address.String(); got != "[::]:8080" {
		t.Fatalf("address: got %s; want [::]:8080", got)
	}
}

func TestParseSpecSettings(t *testing.T) {
	u := loadUnit(t, "echo.socket", `[Socket]
ListenStream=127.0.0.1:7
ListenSequentialPacket=@echo-%n
Accept=yes
BindIPv6Only=ipv6-only
Backlog=16
BindToDevice=lo
SocketUser=nobody
SocketGroup=nogroup
SocketMode=0600
DirectoryMode=0700
ReusePort=yes
FreeBind=true
Transparent=1
KeepAlive=on
NoDelay=yes
PassCredentials=yes
RemoveOnStop=yes
ReceiveBuffer=1M
SendBuffer=4096
Symlinks=/run/a /run/b
FileDescriptorName=echo
MaxConnections=10
MaxConnectionsPerSource=2
TriggerLimitIntervalSec=1min
TriggerLimitBurst=5
IPAddressAllow=localhost 10.0.0.0/8
IPAddressDeny=any
ExecStartPre=/bin/true pre
X-Tend-TriggerLimitHoldSec=10min
X-Tend-StdioOnly=yes
`)
	s, diags, ok := ParseSpec(u, &unit.Env{})
	if !ok || len(diags) != 0 {
		t.Fatalf("got ok=%v diags %v", ok, diags)
	}
	var listen []string
	for _, l := range s.Listen {
		listen = append(listen, l.Directive+"="+l.Address.String())
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", strings.Join(listen, " "), "ListenStream=127.0.0.1:7 ListenSequentialPacket=@echo-echo.socket"},
		{"accept", s.Accept, true},
		{"v6only", s.BindIPv6Only, IPv6Only},
		{"backlog", s.Backlog, 16},
		{"device", s.BindToDevice, "lo"},
		{"owner", s.SocketUser + ":" + s.SocketGroup, "nobody:nogroup"},
		{"modes", [2]uint32{s.SocketMode, s.DirectoryMode}, [2]uint32{0o600, 0o700}},
		{"flags", [7]bool{s.ReusePort, s.FreeBind, s.Transparent, s.KeepAlive, s.NoDelay, s.PassCredentials, s.RemoveOnStop}, [7]bool{true, true, true, true, true, true, true}},
		{"buffers", [2]uint64{s.ReceiveBuffer, s.SendBuffer}, [2]uint64{1 << 20, 4096}},
		{"symlinks", s.Symlinks, []string{"/run/a", "/run/b"}},
		{"fdname", s.FileDescriptorName, "echo"},
		{"service", s.Service, "echo@.service"},
		{"maxconn", [2]int{s.MaxConnections, s.MaxConnectionsPerSource}, [2]int{10, 2}},
		{"trigger", [2]any{s.TriggerLimitInterval, s.TriggerLimitBurst}, [2]any{time.Minute, 5}},
		{"hold", s.TriggerLimitHold, 10 * time.Minute},
		{"stdio only", s.StdioOnly, true},
		{"allow", FormatPrefixes(s.IPAddressAllow), "127.0.0.0/8 ::1 10.0.0.0/8"},
		{"deny", FormatPrefixes(s.IPAddressDeny), "0.0.0.0/0 ::/0"},
		{"pre", s.ExecStartPre[0].Argv, []string{"/bin/true", "pre"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseSpecBad(t *testing.T) {
	tests := []struct {
		name, text string
		ok         bool
		diags      []string // substrings, in order
	}{
		{"no listener", "[Socket]\nAccept=no\n", false, []string{"Unit has no Listen setting"}},
		{"bad address kept others", "[Socket]\nListenStream=localhost:7\nListenStream=7\n", true,
			[]string{":2: ListenStream=localhost:7: address \"localhost:7\": \"localhost\" is not an IPv4 address"}},
		{"vsock", "[Socket]\nListenStream=vsock:2:7\n", false, []string{"AF_VSOCK addresses are not supported", "no Listen setting"}},
		{"reset", "[Socket]\nListenStream=7\nListenStream=\n", false, []string{"no Listen setting"}},
		{"accept datagram", "[Socket]\nListenDatagram=7\nAccept=yes\n", false, []string{"sockets are non-accepting"}},
		{"accept with service", "[Socket]\nListenStream=7\nAccept=yes\nService=x.service\n", false, []string{"Explicit service"}},
		{"bad values", "[Socket]\nListenStream=7\nBacklog=-1\nSocketMode=999\nMaxConnections=0\nBindIPv6Only=maybe\nService=x.socket\nX-Tend-Internal=telnet\n", true,
			[]string{"Backlog=-1", "SocketMode=999", "MaxConnections=0", "BindIPv6Only=maybe", "Service=x.socket", "X-Tend-Internal=telnet"}},
		{"unsupported", "[Socket]\nListenStream=7\nIPTOS=low-delay\nUser=nobody\nKillMode=mixed\nDynamicUser=yes\nPrivateTmp=yes\nCPUWeight=50\n", true,
			[]string{"not supported by tend, ignored: IPTOS, KillMode, DynamicUser, CPUWeight"}}, // PrivateTmp= applies to ExecStartPre= &c.
		{"bad user", "[Socket]\nListenStream=7\nUser=-x\n", false, []string{"User=-x"}},
		{"bad exec values", "[Socket]\nListenStream=7\nUMask=9\nTimeoutSec=soon\nNice=99\n", true, []string{"UMask=9", "TimeoutSec=soon", "Nice=99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := loadUnit(t, "t.socket", tt.text)
			_, diags, ok := ParseSpec(u, nil)
			if ok != tt.ok || len(diags) != len(tt.diags) {
				t.Fatalf("got ok=%v diags %v; want ok=%v and %d diags", ok, diags, tt.ok, len(tt.diags))
			}
			for i, d := range diags {
				if !strings.Contains(d.Error(), tt.diags[i]) {
					t.Errorf("diag %d: got %q; want it to contain %q", i, d.Error(), tt.diags[i])
				}
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	allow, _ := ParsePrefixes("localhost 192.168.1.0/24")
	deny, _ := ParsePrefixes("any")
	onlyDeny, _ := ParsePrefixes("10.0.0.1")
	tests := []struct {
		peer        string
		allow, deny []netip.Prefix
		want        bool
	}{
		{"127.0.0.1", allow, deny, true},
		{"::1", allow, deny, true},
		{"::ffff:127.0.0.1", allow, deny, true},
		{"192.168.1.77", allow, deny, true},
		{"192.168.2.1", allow, deny, false},
		{"2001:db8::1", allow, deny, false},
		{"10.0.0.1", nil, onlyDeny, false},
		{"10.0.0.2", nil, onlyDeny, true},
		{"10.0.0.2", nil, nil, true},
	}
	for _, tt := range tests {
		if got := Allowed(netip.MustParseAddr(tt.peer), tt.allow, tt.deny); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.peer, got, tt.want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("10.0.0.0/33 accepted")
	}
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"any", "10.0.0.0/8 ::1", "localhost link-local", "1.2.3.4/40"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ParsePrefixes(in)
		if err != nil {
			return
		}
		back, err := ParsePrefixes(FormatPrefixes(ps))
		if err != nil || !reflect.DeepEqual(back, ps) {
			t.Fatalf("%q: %v formats as %q, parses back to %v, %v", in, ps, FormatPrefixes(ps), back, err)
		}
	})
}

// TestParseSpecExec: the systemd.exec(5) settings and TimeoutSec= of a
// [Socket] section are typed for its control processes.
func TestParseSpecExec(t *testing.T) {
	tests := []struct {
		name, text string
		check      func(s *Spec) string
	}{
		{"no commands, no settings kept", "User=nobody\n", func(s *Spec) string {
			if s.Exec != nil {
				return fmt.Sprintf("Exec = %+v; want nil when there is nothing to run", s.Exec)
			}
			return ""
		}},
		{"defaults", "ExecStartPost=/bin/true\n", func(s *Spec) string {
			if s.Exec.User != "" || s.Exec.UMask != 0o022 || s.Timeout != unit.DefaultTimeout {
				return fmt.Sprintf("User=%q UMask=%o Timeout=%v; want root, 022, 90s", s.Exec.User, s.Exec.UMask, s.Timeout)
			}
			return ""
		}},
		{"settings", "User=nobody\nGroup=nogroup\nEnvironment=A=1 \"B=two words\"\nWorkingDirectory=/tmp\nUMask=0077\nStandardOutput=null\nTimeoutSec=5s\nExecStartPre=/bin/echo %n\n", func(s *Spec) string {
			e := s.Exec
			if e.User != "nobody" || e.Group != "nogroup" || strings.Join(e.Environment, ",") != "A=1,B=two words" ||
				e.WorkingDirectory != "/tmp" || e.UMask != 0o077 || e.StandardOutput != "null" || s.Timeout != 5*time.Second {
				return fmt.Sprintf("got %+v, Timeout %v", e, s.Timeout)
			}
			if argv := s.ExecStartPre[0].Argv; len(argv) != 2 || argv[1] != "t.socket" {
				return fmt.Sprintf("ExecStartPre argv %q; want the %%n specifier resolved", argv)
			}
			return ""
		}},
		{"timeout zero is infinity", "TimeoutSec=0\n", func(s *Spec) string {
			if s.Timeout != unit.Infinity {
				return fmt.Sprintf("Timeout %v; want infinity", s.Timeout)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := loadUnit(t, "t.socket", "[Socket]\nListenStream=7\n"+tt.text)
			spec, diags, ok := ParseSpec(u, nil)
			if !ok || len(diags) > 0 {
				t.Fatalf("ParseSpec: ok=%v %v", ok, diags)
			}
			if msg := tt.check(spec); msg != "" {
				t.Error(msg)
			}
		})
	}
}
