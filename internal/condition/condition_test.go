package condition

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

func TestEvalLogic(t *testing.T) {
	env := fixtureEnv(t, map[string]string{"root/yes": "1"})
	tests := []struct {
		name   string
		conds  []unit.Condition
		ok     bool
		assert bool
		failed int // index of the failed condition, -1 when ok
		reason string
	}{
		{"no conditions", nil, true, false, -1, ""},
		{"plain holds", []unit.Condition{cond("PathExists", "/yes")}, true, false, -1, ""},
		{"plain fails", []unit.Condition{cond("PathExists", "/yes"), cond("PathExists", "/no")}, false, false, 1,
			"ConditionPathExists=/no was not met"},
		{"negated", []unit.Condition{cond("PathExists", "!/no")}, true, false, -1, ""},
		{"negated fails", []unit.Condition{cond("PathExists", "!/yes")}, false, false, 0,
			"ConditionPathExists=!/yes was not met"},
		{"one trigger suffices", []unit.Condition{cond("PathExists", "|/no"), cond("PathExists", "|/yes")}, true, false, -1, ""},
		{"no trigger holds", []unit.Condition{cond("PathExists", "|/no"), cond("PathExists", "|!/yes")}, false, false, 0,
			"none of the triggering conditions were met"},
		{"triggers and plain: plain must hold", []unit.Condition{cond("PathExists", "|/yes"), cond("PathExists", "/no")}, false, false, 1,
			"ConditionPathExists=/no was not met"},
		{"assert fails after conditions hold", []unit.Condition{assert("PathExists", "/no"), cond("PathExists", "/yes")}, false, true, 0,
			"AssertPathExists=/no was not met"},
		{"conditions are checked before asserts", []unit.Condition{assert("PathExists", "/no"), cond("PathExists", "/no")}, false, false, 1,
			"ConditionPathExists=/no was not met"},
		{"triggers of asserts are their own group", []unit.Condition{cond("PathExists", "|/yes"), assert("PathExists", "|/no")}, false, true, 1,
			"none of the triggering assertions were met"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Eval(tc.conds, env)
			if r.Err != nil {
				t.Fatalf("error: %v", r.Err)
			}
			if r.OK != tc.ok || r.Assert != tc.assert || r.Reason != tc.reason {
				t.Errorf("got OK=%v Assert=%v Reason=%q; want %v %v %q", r.OK, r.Assert, r.Reason, tc.ok, tc.assert, tc.reason)
			}
			switch {
			case tc.failed < 0 && r.Failed != nil:
				t.Errorf("Failed = %+v; want nil", r.Failed)
			case tc.failed >= 0 && r.Failed != &tc.conds[tc.failed]:
				t.Errorf("Failed = %+v; want %+v", r.Failed, tc.conds[tc.failed])
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	env := fixtureEnv(t, nil)
	for _, c := range []unit.Condition{
		cond("NoSuchThing", "x"),
		cond("PathExists", "relative/path"),
		cond("CPUs", ">=many"),
		cond("FirstBoot", "maybe"),
		assert("Capability", "CAP_NOT_A_CAP"),
	} {
		r := Eval([]unit.Condition{c}, env)
		if r.OK || r.Err == nil || r.Failed == nil || r.Assert != c.Assert || !strings.Contains(r.Reason, Describe(c)) {
			t.Errorf("%s: got %+v; want an error result", Describe(c), r)
		}
	}
	if r := Eval([]unit.Condition{cond("Bogus", "")}, env); !errors.Is(r.Err, ErrUnknown) {
		t.Errorf("unknown kind: err %v; want ErrUnknown", r.Err)
	}
}

func TestPathConditions(t *testing.T) {
	env := fixtureEnv(t, map[string]string{
		"root/etc/file":         "content",
		"root/etc/empty":        "",
		"root/etc/link":         "-> file",
		"root/etc/dangling":     "-> nowhere",
		"root/bin/tool":         "x:#!/bin/sh\n",
		"root/bin/exe-dir/a":    "x:",
		"root/d/empty/.keep":    "",
		"root/d/backup/x.conf~": "",
		"root/d/full/x.conf":    "",
		"root/d/globs/a-1.conf": "",
		"root/d/globs/b-2.conf": "",
	})
	tests := []struct {
		kind, arg string
		want      bool
	}{
		{"PathExists", "/etc/file", true},
		{"PathExists", "/etc/nope", false},
		{"PathExists", "/etc/dangling", false},
		{"PathExistsGlob", "/d/globs/*-2.conf", true},
		{"PathExistsGlob", "/d/globs/*-3.conf", false},
		{"PathIsDirectory", "/d/empty", true},
		{"PathIsDirectory", "/etc/file", false},
		{"PathIsSymbolicLink", "/etc/link", true},
		{"PathIsSymbolicLink", "/etc/dangling", true},
		{"PathIsSymbolicLink", "/etc/file", false},
		{"DirectoryNotEmpty", "/d/full", true},
		{"DirectoryNotEmpty", "/d/empty", false},
		{"DirectoryNotEmpty", "/d/backup", false},
		{"DirectoryNotEmpty", "/etc/file", false},
		{"FileNotEmpty", "/etc/file", true},
		{"FileNotEmpty", "/etc/link", true},
		{"FileNotEmpty", "/etc/empty", false},
		{"FileNotEmpty", "/d/full", false},
		{"FileIsExecutable", "/bin/tool", true},
		{"FileIsExecutable", "/etc/file", false},
		{"FileIsExecutable", "/bin/exe-dir", false},
		{"PathIsReadWrite", "/etc/file", true},
		{"PathIsReadWrite", "/etc/nope", false},
		{"PathIsMountPoint", "/etc", false},
		{"PathIsEncrypted", "/etc/file", false},
	}
	for _, tc := range tests {
		check(t, env, tc.kind, tc.arg, tc.want)
	}
}

// TestPathHostMounts checks mount-related conditions against the host's
// real mount table.
func TestPathHostMounts(t *testing.T) {
	env := Env{}
	check(t, env, "PathIsMountPoint", "/proc", true)
	check(t, env, "PathIsMountPoint", "/", true)
	check(t, env, "PathIsMountPoint", "/proc/self", false)
	dir := t.TempDir()
	check(t, env, "PathIsMountPoint", dir, false)
	check(t, env, "PathIsReadWrite", dir, true)
	// A read-only mount, if the host has one, must fail PathIsReadWrite.
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && strings.HasPrefix(f[5], "ro") && !strings.Contains(f[4], `\`) {
			if _, err := os.Stat(f[4]); err == nil {
				check(t, env, "PathIsReadWrite", f[4], false)
				check(t, env, "PathIsMountPoint", f[4], true)
				return
			}
		}
	}
	t.Log("no read-only mount on this host; read-only case not exercised")
}

func TestIdentityConditions(t *testing.T) {
	env := fixtureEnv(t, map[string]string{
		"root/etc/passwd":          "root:x:0:0:root:/root:/bin/sh\nweb:x:1001:1001::/home/web:/bin/sh\n",
		"root/etc/group":           "root:x:0:\nadm:x:4:web\nweb:x:1001:\n",
		"root/etc/machine-id":      "0123456789abcdef0123456789abcdef\n",
		"proc/sys/kernel/hostname": "build-07\n",
		"creds/token":              "secret",
	})
	env.UID, env.GID, env.Groups = 1001, 1001, []int{4}
	env.Environ = []string{"MODE=prod", "EMPTY="}
	env.CredentialsDir = filepath.Join(filepath.Dir(env.Root), "creds")
	tests := []struct {
		kind, arg string
		want      bool
	}{
		{"User", "1001", true},
		{"User", "0", false},
		{"User", "web", true},
		{"User", "root", false},
		{"User", "nobody-here", false},
		{"User", "@system", false},
		{"Group", "web", true},
		{"Group", "adm", true},
		{"Group", "4", true},
		{"Group", "root", false},
		{"Host", "build-*", true},
		{"Host", "BUILD-07", true},
		{"Host", "web-*", false},
		{"Host", "0123456789ABCDEF0123456789ABCDEF", true},
		{"Host", "01234567-89ab-cdef-0123-456789abcdef", true},
		{"Host", "ffffffffffffffffffffffffffffffff", false},
		{"Environment", "MODE", true},
		{"Environment", "MODE=prod", true},
		{"Environment", "MODE=dev", false},
		{"Environment", "EMPTY", true},
		{"Environment", "MOD", false},
		{"Credential", "token", true},
		{"Credential", "other", false},
	}
	for _, tc := range tests {
		check(t, env, tc.kind, tc.arg, tc.want)
	}
	root := env
	root.UID, root.GID = 0, 0
	check(t, root, "User", "@system", true)
	check(t, root, "User", "root", true)
}

func TestKernelConditions(t *testing.T) {
	env := fixtureEnv(t, map[string]string{
		"proc/cmdline":                           "BOOT_IMAGE=/vmlinuz quiet root=/dev/sda1 \"arg=with space\" systemd.condition-first-boot=yes\n",
		"proc/sys/kernel/osrelease":              "6.1.0-18-amd64\n",
		"proc/self/status":                       "Name:\tx\nCapBnd:\t0000000000200001\n",
		"proc/cpuinfo":                           "processor\t: 0\nflags\t\t: fpu sse2 pclmulqdq fma avx2 avx512f\n",
		"sys/module/apparmor/parameters/enabled": "Y\n",
		"sys/firmware/efi/<x>":                   "",
		"sys/class/dmi/id/sys_vendor":            "QEMU\n",
		"sys/class/dmi/id/bios_version":          "1.16.2\n",
		"root/etc/os-release":                    "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME='Debian GNU/Linux 12'\n",
	})
	tests := []struct {
		kind, arg string
		want      bool
	}{
		{"KernelCommandLine", "quiet", true},
		{"KernelCommandLine", "root", true},
		{"KernelCommandLine", "root=/dev/sda1", true},
		{"KernelCommandLine", "root=/dev/sdb1", false},
		{"KernelCommandLine", "arg=with space", true},
		{"KernelCommandLine", "splash", false},
		{"KernelVersion", "6.1.*", true},
		{"KernelVersion", ">=6.1", true},
		{"KernelVersion", "<6", false},
		{"KernelVersion", ">= 5.10 <6.2", true},
		{"KernelVersion", "=6.1.0-18-amd64", true},
		{"KernelVersion", "=6.1", false},
		{"KernelVersion", "==6.1.0-18-amd64", true},
		{"KernelVersion", "<>6.1.0", true},
		{"KernelVersion", "!$=5.*", true},
		{"KernelVersion", `" >= 5.10 "`, true},
		{"KernelVersion", `" < 5.10"`, false},
		{"Architecture", "native", true},
		{"Architecture", "sparc64", false},
		{"Capability", "CAP_CHOWN", true},
		{"Capability", "CAP_SYS_ADMIN", true},
		{"Capability", "CAP_KILL", false},
		{"Security", "apparmor", true},
		{"Security", "selinux", false},
		{"Security", "something-new", false},
		{"Firmware", "uefi", true},
		{"Firmware", "device-tree", false},
		{"Firmware", "smbios-field(sys_vendor = QEMU)", true},
		{"Firmware", "smbios-field(sys_vendor $= Q*)", true},
		{"Firmware", "smbios-field(bios_version >= 1.16)", true},
		{"Firmware", "smbios-field(bios_version < 1.16)", false},
		{"CPUFeature", "sse2", true},
		{"CPUFeature", "pclmul", true},
		{"CPUFeature", "fma3", true},
		{"CPUFeature", "avx512f", false},
		{"CPUFeature", "avx", false},
		{"OSRelease", "ID=debian", true},
		{"OSRelease", "ID!=fedora", true},
		{"OSRelease", "VERSION_ID>=11", true},
		{"OSRelease", "VERSION_ID<12", false},
		{"OSRelease", "PRETTY_NAME$=Debian*", true},
		{"OSRelease", "ID=debian VERSION_ID=11", false},
		{"OSRelease", "MISSING=", true},
		{"FirstBoot", "yes", true},
		{"NeedsUpdate", "/etc", false},
	}
	for _, tc := range tests {
		check(t, env, tc.kind, tc.arg, tc.want)
	}
	arch := map[string]string{"amd64": "x86-64", "arm64": "arm64", "386": "x86", "riscv64": "riscv64"}[runtime.GOARCH]
	if arch != "" {
		check(t, env, "Architecture", arch, true)
	}
	env.KernelCmdline = func() ([]byte, error) { return []byte("systemd.condition-needs-update=1"), nil }
	check(t, env, "NeedsUpdate", "/etc", true)
	check(t, env, "FirstBoot", "yes", false)
}

func TestResourceConditions(t *testing.T) {
	files := map[string]string{
		"proc/meminfo":                        "MemTotal:        2048000 kB\nMemFree: 1 kB\n",
		"proc/self/cgroup":                    "0::/tend.slice\n",
		"sys/fs/cgroup/tend.slice/memory.max": "1073741824\n",
		"sys/fs/cgroup/cgroup.controllers":    "cpuset cpu io memory pids\n",
		"proc/pressure/memory":                "some avg10=1.00 avg60=2.00 avg300=30.00 total=1\nfull avg10=0.50 avg60=1.00 avg300=5.00 total=1\n",
		"proc/pressure/cpu":                   "some avg10=50.00 avg60=20.00 avg300=10.00 total=1\n",
		"sys/class/power_supply/AC/type":      "Mains\n",
		"sys/class/power_supply/AC/online":    "0\n",
		"sys/class/power_supply/BAT0/type":    "Battery\n",
	}
	env := fixtureEnv(t, files)
	env.CPUs = 4
	tests := []struct {
		kind, arg string
		want      bool
	}{
		{"CPUs", "4", true},
		{"CPUs", ">=2", true},
		{"CPUs", "<4", false},
		{"CPUs", "<>4", false},
		{"CPUs", "==4", true},
		{"Memory", ">=1G", true},
		{"Memory", ">1G", false}, // the cgroup limit is lower than MemTotal
		{"Memory", "1073741824", true},
		{"Memory", "<512M", false},
		{"ControlGroupController", "v2", true},
		{"ControlGroupController", "v1", false},
		{"ControlGroupController", "cpu memory", true},
		{"ControlGroupController", "cpu hugetlb-unknown", true},
		{"ControlGroupController", "devices", false},
		{"MemoryPressure", "10%", true},        // full avg300 = 5
		{"MemoryPressure", "0.5%/1min", false}, // full avg60 = 1
		{"CPUPressure", "20%/10sec", false},    // no full line: some avg10 = 50
		{"CPUPressure", "system.slice:20%", true},
		{"IOPressure", "1%", true}, // no PSI data: holds
		{"ACPower", "true", false},
		{"ACPower", "false", true},
	}
	for _, tc := range tests {
		check(t, env, tc.kind, tc.arg, tc.want)
	}
	// Without limit or PSI values the host fallback must still answer.
	unknownAC := fixtureEnv(t, map[string]string{"proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t3\t1\t1\nmemory\t4\t1\t0\n"})
	check(t, unknownAC, "ACPower", "true", true)
	check(t, unknownAC, "ACPower", "false", false)
	check(t, unknownAC, "ControlGroupController", "v1", true)
	check(t, unknownAC, "ControlGroupController", "cpu", true)
	check(t, unknownAC, "ControlGroupController", "memory", false)
	for _, bad := range []string{"MemoryPressure=abc", "MemoryPressure=10%/2min", "Memory=>=lots", "CPUs=$=3"} {
		k, v, _ := strings.Cut(bad, "=")
		if r := Eval([]unit.Condition{cond(k, v)}, env); r.Err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestHostResources(t *testing.T) {
	// The host values must satisfy trivially true comparisons.
	env := Env{}
	check(t, env, "CPUs", ">=1", true)
	check(t, env, "Memory", ">=1M", true)
	check(t, env, "Architecture", "native", true)
}

func TestVirtualization(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  Virt
	}{
		{"bare", map[string]string{"proc/cpuinfo": "flags : fpu\n"}, Virt{VM: "none", Container: "none"}},
		{"docker", map[string]string{"root/.dockerenv": ""}, Virt{VM: "none", Container: "docker"}},
		{"podman", map[string]string{"root/run/.containerenv": ""}, Virt{VM: "none", Container: "podman"}},
		{"nspawn env", map[string]string{"proc/1/environ": "PATH=/bin\x00container=systemd-nspawn\x00"}, Virt{VM: "none", Container: "systemd-nspawn"}},
		{"unknown manager", map[string]string{"root/run/systemd/container": "mybox\n"}, Virt{VM: "none", Container: "container-other"}},
		{"wsl", map[string]string{"proc/sys/kernel/osrelease": "5.15.0-microsoft-WSL2\n"}, Virt{VM: "none", Container: "wsl"}},
		{"kvm by dmi", map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n", "sys/class/dmi/id/product_name": "KVM Virtual Machine\n"}, Virt{VM: "kvm", Container: "none"}},
		{"vmware by dmi", map[string]string{"sys/class/dmi/id/sys_vendor": "VMware, Inc.\n"}, Virt{VM: "vmware", Container: "none"}},
		{"hypervisor flag", map[string]string{"proc/cpuinfo": "flags : fpu hypervisor sse\n"}, Virt{VM: "vm-other", Container: "none"}},
		{"xen", map[string]string{"sys/hypervisor/type": "xen\n"}, Virt{VM: "xen", Container: "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := fixtureEnv(t, tc.files)
			if got := Detect(env.Root, env.Proc, env.Sys); got != tc.want {
				t.Errorf("Detect = %+v; want %+v", got, tc.want)
			}
		})
	}
	env := Env{Virtualization: func() Virt { return Virt{VM: "kvm", Container: "docker"} }}
	for arg, want := range map[string]bool{"yes": true, "no": false, "vm": false, "container": true,
		"docker": true, "kvm": false, "podman": false} {
		check(t, env, "Virtualization", arg, want)
	}
	env.Virtualization = func() Virt { return Virt{VM: "kvm", Container: "none"} }
	for arg, want := range map[string]bool{"yes": true, "vm": true, "container": false, "kvm": true, "qemu": false} {
		check(t, env, "Virtualization", arg, want)
	}
	env.Virtualization = func() Virt { return Virt{VM: "none", Container: "none"} }
	for arg, want := range map[string]bool{"yes": false, "no": true, "vm": false, "container": false, "kvm": false} {
		check(t, env, "Virtualization", arg, want)
	}
}

// TestDetectMatchesHost compares Detect with systemd-detect-virt, which
// reads the same evidence, where the tool is installed.
func TestDetectMatchesHost(t *testing.T) {
	tool, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		t.Skip("systemd-detect-virt not installed")
	}
	ask := func(flag string) string {
		out, _ := exec.Command(tool, flag).Output() // exits 1 when "none"
		return strings.TrimSpace(string(out))
	}
	got := Detect("", "", "")
	if want := ask("--vm"); got.VM != want {
		t.Errorf("VM = %q; systemd-detect-virt --vm says %q", got.VM, want)
	}
	if want := ask("--container"); got.Container != want {
		t.Errorf("Container = %q; systemd-detect-virt --container says %q", got.Container, want)
	}
	if want := ask(""); got.Innermost() != want && want != "" {
		t.Errorf("Innermost = %q; systemd-detect-virt says %q", got.Innermost(), want)
	}
}
