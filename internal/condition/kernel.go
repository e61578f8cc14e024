package condition

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cmdline returns the words of the kernel command line. Inside a
// container the command line of PID 1 stands in for it, as in systemd.
func (e *evaluator) cmdline() ([]string, error) {
	if e.env.KernelCmdline != nil {
		b, err := e.env.KernelCmdline()
		if err != nil {
			return nil, err
		}
		return words(string(b)), nil
	}
	if c := e.virt().Container; c != "" && c != "none" {
		b, err := os.ReadFile(filepath.Join(e.env.Proc, "1/cmdline"))
		if err != nil {
			return nil, err
		}
		return strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 }), nil
	}
	b, err := os.ReadFile(filepath.Join(e.env.Proc, "cmdline"))
	if err != nil {
		return nil, err
	}
	return words(string(b)), nil
}

// cmdlineValue returns the value of the last key=value word for key.
func (e *evaluator) cmdlineValue(key string) (string, bool) {
	ws, err := e.cmdline()
	if err != nil {
		return "", false
	}
	val, found := "", false
	for _, w := range ws {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			val, found = v, true
		}
	}
	return val, found
}

func (e *evaluator) testKernelCommandLine(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty kernel command line condition")
	}
	ws, err := e.cmdline()
	if err != nil {
		return false, fmt.Errorf("reading kernel command line: %w", err)
	}
	exact := strings.Contains(arg, "=")
	for _, w := range ws {
		if w == arg {
			return true, nil
		}
		if !exact {
			if k, _, ok := strings.Cut(w, "="); ok && k == arg {
				return true, nil
			}
		}
	}
	return false, nil
}

// testKernelVersion checks every expression against the kernel release;
// an expression without operator is a glob.
func (e *evaluator) testKernelVersion(arg string) (bool, error) {
	rel := e.env.KernelRelease
	if rel == "" {
		var err error
		if rel, err = readTrim(filepath.Join(e.env.Proc, "sys/kernel/osrelease")); err != nil {
			return false, fmt.Errorf("reading kernel release: %w", err)
		}
	}
	ws := words(arg)
	if len(ws) == 0 {
		return false, fmt.Errorf("empty kernel version condition")
	}
	for i := 0; i < len(ws); i++ {
		// A quoted word may carry blanks around its operator (" >= 5.0"):
		// each word is stripped first, as systemd does.
		o, want := cutOp(strings.TrimSpace(ws[i]))
		if o != opNone && want == "" && i+1 < len(ws) {
			i++ // operator written apart from its operand: ">= 5.0"
			want = strings.TrimSpace(ws[i])
		}
		if want == "" {
			return false, fmt.Errorf("missing version in %q", arg)
		}
		ok, err := matchString(o, rel, want, true)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// architectures maps uname machine names to systemd's architecture names.
func architectures() map[string]string {
	return map[string]string{
		"x86_64": "x86-64", "amd64": "x86-64",
		"i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86",
		"aarch64": "arm64", "aarch64_be": "arm64-be",
		"ppc64": "ppc64", "ppc64le": "ppc64-le", "ppc": "ppc", "ppcle": "ppc-le",
		"s390x": "s390x", "s390": "s390", "riscv64": "riscv64", "riscv32": "riscv32",
		"loongarch64": "loongarch64", "mips": "mips", "mipsel": "mips-le",
		"mips64": "mips64", "mips64el": "mips64-le", "alpha": "alpha", "ia64": "ia64",
		"parisc": "parisc", "parisc64": "parisc64", "sparc": "sparc", "sparc64": "sparc64",
		"m68k": "m68k", "sh": "sh", "sh64": "sh64", "arc": "arc", "arceb": "arc-be",
	}
}

// architecture returns the running machine's architecture as systemd
// names it ("arm" covers every 32-bit little-endian ARM).
func architecture() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	m := unix.ByteSliceToString(u.Machine[:])
	if a, ok := architectures()[m]; ok {
		return a
	}
	if strings.HasPrefix(m, "arm") {
		if strings.HasSuffix(m, "b") {
			return "arm-be"
		}
		return "arm"
	}
	return m
}

func (e *evaluator) testArchitecture(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty architecture")
	}
	have := architecture()
	return arg == "native" || arg == have, nil
}

// capabilities lists capability names by number (capabilities(7)).
func capabilities() []string {
	return []string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid",
		"kill", "setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
		"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module",
		"sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot",
		"sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
		"audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
		"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore"}
}

// testCapability checks the capability bounding set in Proc/self/status.
func (e *evaluator) testCapability(arg string) (bool, error) {
	name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(arg), "CAP_"))
	bit := -1
	for i, c := range capabilities() {
		if c == name {
			bit = i
		}
	}
	if bit < 0 {
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > 63 {
			return false, fmt.Errorf("unknown capability %q", arg)
		}
		bit = n
	}
	b, err := os.ReadFile(filepath.Join(e.env.Proc, "self/status"))
	if err != nil {
		return false, fmt.Errorf("reading capability bounding set: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			set, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("bad CapBnd %q", v)
			}
			return set&(1<<bit) != 0, nil
		}
	}
	return false, fmt.Errorf("no CapBnd in %s/self/status", e.env.Proc)
}

// testSecurity detects security frameworks through sysfs; unknown or
// undetectable ones do not hold.
func (e *evaluator) testSecurity(arg string) (bool, error) {
	sys := func(p string) string { return filepath.Join(e.env.Sys, p) }
	switch arg {
	case "selinux":
		return exists(sys("fs/selinux/enforce")), nil
	case "apparmor":
		v, _ := readTrim(sys("module/apparmor/parameters/enabled"))
		return v == "Y", nil
	case "tomoyo":
		return exists(sys("kernel/security/tomoyo")), nil
	case "ima":
		return exists(sys("kernel/security/ima")), nil
	case "smack":
		return exists(sys("fs/smackfs")), nil
	case "audit":
		return auditAvailable(), nil
	case "uefi-secureboot":
		b, err := os.ReadFile(sys("firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"))
		return err == nil && len(b) == 5 && b[4] == 1, nil
	case "tpm2":
		ents, _ := os.ReadDir(sys("class/tpmrm"))
		return len(ents) > 0, nil
	}
	return false, nil
}

// auditAvailable reports whether the kernel offers the audit netlink
// protocol, which is how systemd decides.
func auditAvailable() bool {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// testFirmware handles uefi, device-tree, device-tree-compatible(x) and
// smbios-field(field op value).
func (e *evaluator) testFirmware(arg string) (bool, error) {
	switch {
	case arg == "uefi":
		return exists(filepath.Join(e.env.Sys, "firmware/efi")), nil
	case arg == "device-tree":
		return exists(filepath.Join(e.env.Sys, "firmware/devicetree")), nil
	case strings.HasPrefix(arg, "device-tree-compatible(") && strings.HasSuffix(arg, ")"):
		want := strings.TrimSuffix(strings.TrimPrefix(arg, "device-tree-compatible("), ")")
		b, err := os.ReadFile(filepath.Join(e.env.Proc, "device-tree/compatible"))
		if err != nil {
			return false, nil
		}
		return bytes.Contains(append(append([]byte{0}, b...), 0), []byte("\x00"+want+"\x00")), nil
	case strings.HasPrefix(arg, "smbios-field(") && strings.HasSuffix(arg, ")"):
		expr := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(arg, "smbios-field("), ")"))
		i := strings.IndexAny(expr, "=!<>$")
		if i <= 0 {
			return false, fmt.Errorf("bad smbios-field expression %q", expr)
		}
		field := strings.TrimSpace(expr[:i])
		if strings.Contains(field, "/") {
			return false, fmt.Errorf("bad smbios field %q", field)
		}
		o, want := cutOp(expr[i:])
		have, err := readTrim(filepath.Join(e.env.Sys, "class/dmi/id", field))
		if err != nil {
			return false, nil
		}
		return matchString(o, have, want, false)
	}
	return false, fmt.Errorf("unknown firmware %q", arg)
}

func (e *evaluator) testCPUFeature(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty CPU feature")
	}
	if !knownCPUFeature(arg) {
		return false, nil // systemd assumes features it does not know are absent
	}
	flag := arg // systemd's names, which are cpuinfo's except for two
	switch arg {
	case "pclmul":
		flag = "pclmulqdq"
	case "fma3":
		flag = "fma"
	}
	b, err := os.ReadFile(filepath.Join(e.env.Proc, "cpuinfo"))
	if err != nil {
		return false, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				if f == flag {
					return true, nil
				}
			}
			return false, nil
		}
	}
	return false, nil
}

// knownCPUFeature reports whether systemd's ConditionCPUFeature= knows
// the feature (the CPUID leaves 1, 7, 0x80000001 and 0x80000007).
func knownCPUFeature(name string) bool {
	for _, f := range strings.Fields(`fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca
		cmov pat pse36 clflush mmx fxsr sse sse2 ht pni pclmul monitor ssse3 fma3 cx16 sse4_1
		sse4_2 movbe popcnt aes xsave osxsave avx f16c rdrand bmi1 avx2 bmi2 rdseed adx sha_ni
		syscall rdtscp lm lahf_lm abm constant_tsc`) {
		if f == name {
			return true
		}
	}
	return false
}
