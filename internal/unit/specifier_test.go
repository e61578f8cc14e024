package unit

import (
	"strings"
	"testing"
)

func testEnv() Env {
	e := SystemEnv()
	e.Hostname, e.PrettyHostname = "box.example.com", "Box"
	e.MachineID, e.BootID = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	e.Arch, e.KernelRelease = "x86-64", "6.1.0"
	e.ReadOSRelease("ID=debian\nVERSION_ID=\"12\"\nBUILD_ID=b1\nVARIANT_ID='v'\nIMAGE_ID=img\nIMAGE_VERSION=9\n")
	e.UID, e.GID = 0, 0
	return e
}

func TestExpand(t *testing.T) {
	env := testEnv()
	const frag = "/etc/tend/units/foo-bar@.service"
	name := `foo-bar@a\x2db-c.service`
	tests := map[string]string{
		"%n": name, "%N": `foo-bar@a\x2db-c`, "%p": "foo-bar", "%P": "foo/bar",
		"%i": `a\x2db-c`, "%I": "a-b/c", "%j": "bar", "%J": "bar", "%f": "/a-b/c",
		"%y": frag, "%Y": "/etc/tend/units", "%d": `/run/credentials/` + name,
		"%H": "box.example.com", "%l": "box", "%q": "Box", "%m": env.MachineID, "%b": env.BootID,
		"%a": "x86-64", "%v": "6.1.0", "%o": "debian", "%w": "12", "%B": "b1", "%W": "v", "%M": "img", "%A": "9",
		"%t": "/run", "%S": "/var/lib", "%C": "/var/cache", "%L": "/var/log", "%E": "/etc", "%T": "/tmp", "%V": "/var/tmp",
		"%u": "root", "%U": "0", "%g": "root", "%G": "0", "%h": "/root", "%s": "/bin/sh",
		"100%%": "100%", "a %i b %% %p": `a a\x2db-c b % foo-bar`, "no specifiers": "no specifiers",
	}
	for in, want := range tests {
		got, err := env.Expand(in, name, frag)
		if err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"%", "abc%", "%z", "%!"} {
		if _, err := env.Expand(in, name, frag); err == nil {
			t.Errorf("Expand(%q) succeeded", in)
		}
	}
	if got, _ := env.Expand("%f", "dev-sda1.mount", ""); got != "/dev/sda1" {
		t.Errorf("%%f without instance = %q", got)
	}
}

func TestUserEnv(t *testing.T) {
	vars := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_CONFIG_HOME": "relative/ignored"}
	e := UserEnv("/home/u", func(k string) string { return vars[k] })
	if e.RuntimeDir != "/run/user/1000" || e.ConfigDir != "/home/u/.config" || e.StateDir != "/home/u/.local/state" ||
		e.LogsDir != "/home/u/.local/state/log" || e.CacheDir != "/home/u/.cache" {
		t.Errorf("UserEnv = %+v", e)
	}
	dirs := UserDirs("/home/u", func(k string) string { return vars[k] })
	if dirs[0] != "/home/u/.config/tend/units" || !strings.HasSuffix(dirs[len(dirs)-1], "/usr/lib/systemd/user") {
		t.Errorf("UserDirs = %q", dirs)
	}
	sys := SystemDirs()
	if sys[0] != TendConfigDir || sys[1] != TendRuntimeDir {
		t.Errorf("SystemDirs = %q", sys)
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("%n %i %%", "a@b.service")
	f.Fuzz(func(t *testing.T, in, name string) {
		env := testEnv()
		out, err := env.Expand(in, name, "/x/y")
		if err == nil && !strings.Contains(in, "%") && out != in {
			t.Fatalf("Expand changed %q without specifiers to %q", in, out)
		}
	})
}

func TestFillHost(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/proc/sys/kernel/hostname", "h1\n")
	write(t, root+"/etc/machine-id", "abc\n")
	write(t, root+"/proc/sys/kernel/random/boot_id", "12-34\n")
	write(t, root+"/usr/lib/os-release", "ID=test\n")
	var e Env
	e.FillHost(root)
	if e.Hostname != "h1" || e.MachineID != "abc" || e.BootID != "1234" || e.OSID != "test" || e.Arch == "" {
		t.Errorf("FillHost = %+v", e)
	}
}
