package unit

import (
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/sandbox"
	"golang.org/x/sys/unix"
)

// TestSandboxSettings: the privilege and sandboxing settings are typed,
// merged across lines as systemd.exec(5) says, and no longer reported
// as unsupported.
func TestSandboxSettings(t *testing.T) {
	caps := func(names ...string) uint64 {
		v, _, err := sandbox.ParseCaps(strings.Join(names, " "))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, text string
		check      func(c *sandbox.Config) bool
	}{
		{"bounding merge", "CapabilityBoundingSet=CAP_FOWNER\nCapabilityBoundingSet=CAP_KILL CAP_CHOWN",
			func(c *sandbox.Config) bool {
				return *c.CapabilityBoundingSet == caps("CAP_FOWNER", "CAP_KILL", "CAP_CHOWN")
			}},
		{"bounding reset", "CapabilityBoundingSet=CAP_FOWNER\nCapabilityBoundingSet=",
			func(c *sandbox.Config) bool { return *c.CapabilityBoundingSet == 0 }},
		{"bounding invert", "CapabilityBoundingSet=~CAP_CHOWN",
			func(c *sandbox.Config) bool { return *c.CapabilityBoundingSet == sandbox.AllCaps&^caps("CAP_CHOWN") }},
		{"ambient", "AmbientCapabilities=CAP_CHOWN\nAmbientCapabilities=cap_net_raw",
			func(c *sandbox.Config) bool { return c.AmbientCapabilities == caps("CAP_CHOWN", "CAP_NET_RAW") }},
		{"protect system", "ProtectSystem=strict\nProtectHome=yes",
			func(c *sandbox.Config) bool { return c.ProtectSystem == "strict" && c.ProtectHome == "yes" }},
		{"protect system bool", "ProtectSystem=true\nProtectHome=false",
			func(c *sandbox.Config) bool { return c.ProtectSystem == "yes" && c.ProtectHome == "" }},
		{"paths", "ReadWritePaths=-/var/lib/x /srv\nReadWritePaths=/opt\nInaccessiblePaths=/sys",
			func(c *sandbox.Config) bool {
				return strings.Join(c.ReadWritePaths, " ") == "-/var/lib/x /srv /opt" && c.InaccessiblePaths[0] == "/sys"
			}},
		{"binds", "BindPaths=/a:/b /c\nBindReadOnlyPaths=-/d:/e:norbind",
			func(c *sandbox.Config) bool {
				b := c.BindPaths
				return len(b) == 3 && b[0] == sandbox.Bind{Src: "/a", Dst: "/b", Recursive: true} && b[1].Dst == "/c" &&
					b[2] == sandbox.Bind{Src: "/d", Dst: "/e", ReadOnly: true, Optional: true}
			}},
		{"tmpfs", "TemporaryFileSystem=/var:ro,mode=0700 /run",
			func(c *sandbox.Config) bool {
				return len(c.TemporaryFileSystem) == 2 && c.TemporaryFileSystem[0].Options == "ro,mode=0700"
			}},
		{"families", "RestrictAddressFamilies=AF_INET AF_UNIX\nRestrictAddressFamilies=~AF_INET",
			func(c *sandbox.Config) bool {
				f := c.RestrictAddressFamilies
				return f.Allow && len(f.Families) == 1 && f.Families[0] == unix.AF_UNIX
			}},
		{"namespaces and", "RestrictNamespaces=mnt pid\nRestrictNamespaces=~mnt",
			func(c *sandbox.Config) bool { return *c.RestrictNamespaces == unix.CLONE_NEWPID }},
		{"namespaces yes", "RestrictNamespaces=yes",
			func(c *sandbox.Config) bool { return *c.RestrictNamespaces == 0 }},
		{"syscall allow list", "SystemCallFilter=read write\nSystemCallFilter=~write",
			func(c *sandbox.Config) bool {
				f := c.SystemCallFilter
				_, w := f.Calls["write"]
				_, e := f.Calls["execve"] // @default joins an allow list
				return f.Allow && !w && e
			}},
		{"syscall errno", "SystemCallFilter=~uname:EILSEQ @clock\nSystemCallErrorNumber=EACCES",
			func(c *sandbox.Config) bool {
				f := c.SystemCallFilter
				return !f.Allow && f.Calls["uname"] == int(unix.EILSEQ) && f.Calls["settimeofday"] == 0 &&
					c.SystemCallErrorNumber == int(unix.EACCES)
			}},
		{"syscall kill", "SystemCallFilter=~uname:kill\nSystemCallErrorNumber=kill",
			func(c *sandbox.Config) bool {
				return c.SystemCallFilter.Calls["uname"] == sandbox.ErrnoKill && c.SystemCallErrorNumber == sandbox.ErrnoKill
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := loadText(t, "s.service", "[Service]\nExecStart=/bin/true\n"+tc.text+"\n")
			if len(u.Unsupported) > 0 || diagText(u) != "" {
				t.Errorf("unsupported %v, diags:\n%s", u.Unsupported, diagText(u))
			}
			if !tc.check(u.Service.Exec.SandboxSettings()) {
				t.Errorf("typed as %+v", u.Service.Exec.SandboxSettings())
			}
		})
	}
}

// TestSandboxBadValues: a bad value is reported at its line and dropped.
func TestSandboxBadValues(t *testing.T) {
	for _, text := range []string{
		"CapabilityBoundingSet=CAP_NOPE", "ProtectSystem=sometimes", "ReadOnlyPaths=relative/path",
		"RestrictAddressFamilies=AF_NOPE", "RestrictNamespaces=nope", "SystemCallFilter=@no-such-group",
		"SystemCallErrorNumber=ENOPE", "BindPaths=/a:/b:sideways", "ProtectProc=maybe",
	} {
		u := loadText(t, "s.service", "[Service]\nExecStart=/bin/true\n"+text+"\n")
		if d := diagText(u); !strings.Contains(d, "s.service:3: ") {
			t.Errorf("%s: no diagnostic at line 3, got:\n%s", text, d)
		}
		// An allow list keeps what else it names (@default), as in systemd.
		if u.Service.Exec.SandboxSettings().Active() && !strings.HasPrefix(text, "SystemCallFilter=") {
			t.Errorf("%s: kept: %+v", text, u.Service.Exec.Sandbox)
		}
	}
}

func FuzzSandboxSettings(f *testing.F) {
	for _, s := range []string{"CapabilityBoundingSet=~CAP_CHOWN", "SystemCallFilter=~uname:EILSEQ @mount",
		"BindPaths=-/a:/b:norbind", "RestrictNamespaces=~mnt net", "TemporaryFileSystem=/var:ro,mode=0700",
		"RestrictAddressFamilies=none", "ProtectHome=tmpfs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\r") {
			return
		}
		u := &Unit{Name: "f.service", Kind: KindService, Service: newUnit("f.service").Service}
		env := testEnv()
		c := &converter{u: u, spec: specCtx{env: &env, name: u.Name}, warnedSections: map[string]bool{}}
		key, val, _ := strings.Cut(line, "=")
		c.entry(Entry{Section: "Service", Key: key, Value: val, File: "f.service", Line: 1})
		sb := u.Service.Exec.SandboxSettings()
		for _, b := range sb.BindPaths {
			if !strings.HasPrefix(b.Src, "/") || !strings.HasPrefix(b.Dst, "/") {
				t.Fatalf("relative bind %+v from %q", b, line)
			}
		}
		if sb.Active() {
			if _, err := sandbox.Build(sb, "", nil); err != nil && !strings.Contains(err.Error(), "seccomp") {
				t.Fatalf("plan for %q: %v", line, err)
			}
		}
	})
}

// TestSyscallArchitectures: native (or its name) is enforced; another
// architecture is warned about by name, never silently dropped.
func TestSyscallArchitectures(t *testing.T) {
	u := loadText(t, "s.service", "[Service]\nExecStart=/bin/true\nSystemCallArchitectures=native mips\n")
	if got := u.Service.Exec.SandboxSettings().SystemCallArchitectures; len(got) != 1 || got[0] != "native" {
		t.Errorf("typed %v; want [native]", got)
	}
	if d := diagText(u); !strings.Contains(d, "s.service:3: ") || !strings.Contains(d, "mips") {
		t.Errorf("no warning naming mips at line 3:\n%s", d)
	}
}
