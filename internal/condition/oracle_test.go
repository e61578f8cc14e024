package condition

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// TestHostOracle evaluates conditions about this machine both here and
// with systemd-analyze condition, where that is installed: the two must
// agree. The conditions are chosen so their answers do not change while
// the test runs.
func TestHostOracle(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	host, _ := os.Hostname()
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	conds := []string{
		"Virtualization=yes", "Virtualization=vm", "Virtualization=container", "Virtualization=docker",
		"Virtualization=kvm", "Virtualization=private-users",
		"PathIsReadWrite=/", "PathIsReadWrite=/proc/sys", "PathIsMountPoint=/proc",
		"PathIsMountPoint=/proc/sys/fs/binfmt_misc", "PathIsMountPoint=/sys/fs/cgroup", "PathIsMountPoint=/etc",
		"PathIsEncrypted=/", "DirectoryNotEmpty=/etc", "DirectoryNotEmpty=/sys/fs/pstore",
		"FileIsExecutable=/bin/sh", "FileNotEmpty=/etc/os-release", "PathExistsGlob=/etc/*.conf",
		"Security=audit", "Security=apparmor", "Security=selinux", "Security=tpm2", "Security=uefi-secureboot",
		"ControlGroupController=v1", "ControlGroupController=v2", "ControlGroupController=memory",
		"ControlGroupController=cpu io pids", "Capability=CAP_SYS_ADMIN", "Capability=CAP_MAC_ADMIN",
		"KernelVersion=>=3.0", "KernelVersion=<3.0", "KernelVersion=" + strings.TrimSpace(string(rel)),
		"KernelCommandLine=quiet", "KernelCommandLine=console",
		"CPUs=>=1", "CPUs=>64", "Memory=>=64M", "Memory=>16T",
		"ACPower=true", "ACPower=false", "Firmware=uefi", "Firmware=device-tree",
		"CPUFeature=sse2", "CPUFeature=avx2", "CPUFeature=avx512f", "CPUFeature=fma3", "CPUFeature=pclmul",
		"OSRelease=ID=debian", "OSRelease=VERSION_ID>=11", "Architecture=x86-64", "Architecture=arm64",
		"Host=" + host, "Host=not-" + host, "User=root", "User=@system", "Group=root",
		"Environment=PATH", "Environment=NO_SUCH_VARIABLE_HERE", "MemoryPressure=100%",
	}
	env := ProcessEnv()
	for _, c := range conds {
		kind, arg, _ := strings.Cut(c, "=")
		out, err := exec.Command(tool, "condition", "Condition"+c).CombinedOutput()
		if strings.Contains(string(out), "Cannot parse") || strings.Contains(string(out), "Unknown") {
			t.Logf("%s: not understood by this systemd-analyze", c)
			continue
		}
		want := err == nil
		r := Eval([]unit.Condition{{Kind: kind, Arg: arg}}, env)
		if r.Err != nil {
			t.Errorf("Condition%s: error %v", c, r.Err)
			continue
		}
		if r.OK != want {
			t.Errorf("Condition%s = %v; systemd-analyze says %v", c, r.OK, want)
		}
	}
}
