package sandbox

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Plan is what the exec helper applies, in this order: unshare the
// namespaces, perform the mounts (inside Root when set), drop the
// bounding set, change user keeping the ambient capabilities, set
// no_new_privs, load the seccomp programs, exec.
type Plan struct {
	Unshare  int  // CLONE_NEW* flags
	Loopback bool // bring lo up in the new network namespace
	Root     string
	Mounts   []Mount
	CapBound *uint64
	Ambient  uint64
	NNP      bool
	Seccomp  []Program
}

// Mount operation kinds.
const (
	OpTmpfs        = "tmpfs"        // fresh tmpfs at Dst with Data options
	OpBind         = "bind"         // Src on Dst; ReadOnly remounts it read-only
	OpDevices      = "devices"      // a minimal /dev at Dst (PrivateDevices=)
	OpProc         = "proc"         // a new proc at Dst with Data options
	OpSysfs        = "sysfs"        // a new sysfs at Dst
	OpReadOnly     = "ro"           // Dst and below read-only
	OpReadWrite    = "rw"           // Dst and below writable again
	OpNoExec       = "noexec"       // Dst and below not executable
	OpExec         = "exec"         // Dst and below executable again
	OpInaccessible = "inaccessible" // Dst unreachable
)

// Mount is one mount operation; paths are inside the root.
type Mount struct {
	Op        string
	Src, Dst  string
	Data      string
	ReadOnly  bool
	Optional  bool // skip when the path does not exist
	Recursive bool
}

// Build makes the plan for c. root is RootDirectory= ("" for none),
// writable the directories tend created for the unit (StateDirectory=
// and the like), which ProtectSystem=strict keeps writable.
func Build(c *Config, root string, writable []string) (*Plan, error) {
	p := &Plan{Root: root, CapBound: c.CapabilityBoundingSet, Ambient: c.AmbientCapabilities, NNP: c.NoNewPrivileges}
	if c.NeedsMountNS() {
		p.Unshare |= unix.CLONE_NEWNS
		p.Mounts = mounts(c, writable)
	}
	if c.PrivateNetwork {
		p.Unshare |= unix.CLONE_NEWNET
		p.Loopback = true
	}
	if c.PrivateIPC {
		p.Unshare |= unix.CLONE_NEWIPC
	}
	if c.ProtectHostname {
		p.Unshare |= unix.CLONE_NEWUTS
	}
	drop := uint64(0)
	if c.PrivateDevices {
		drop |= 1<<capMknod | 1<<capSysRawio
	}
	if c.ProtectKernelModules {
		drop |= 1 << capSysModule
	}
	if c.ProtectKernelLogs {
		drop |= 1 << capSyslog
	}
	if c.ProtectClock {
		drop |= 1<<capSysTime | 1<<capWakeAlarm
	}
	if drop != 0 {
		b := AllCaps
		if p.CapBound != nil {
			b = *p.CapBound
		}
		b &^= drop
		p.CapBound = &b
	}
	if c.NeedsSeccomp() {
		progs, err := Seccomp(c)
		if err != nil {
			return nil, err
		}
		p.Seccomp = progs
	}
	return p, nil
}

// mounts lists the mount operations: new file systems and binds first,
// shallowest first (a bind may land inside a new tmpfs), then access
// changes shallowest first (a deeper ReadWritePaths= wins over a
// shallower read-only tree), then what is made inaccessible.
func mounts(c *Config, writable []string) []Mount {
	var fs, access, hide []Mount
	opt := func(p string) (string, bool) {
		if rest, ok := strings.CutPrefix(p, "-"); ok {
			return rest, true
		}
		return strings.TrimPrefix(p, "+"), false
	}
	add := func(list *[]Mount, op string, paths []string, optional bool) {
		for _, raw := range paths {
			p, o := opt(raw)
			*list = append(*list, Mount{Op: op, Dst: filepath.Clean(p), Optional: o || optional, Recursive: true})
		}
	}
	if c.MountAPIVFS != nil && *c.MountAPIVFS {
		fs = append(fs, Mount{Op: OpProc, Dst: "/proc"}, Mount{Op: OpSysfs, Dst: "/sys"},
			Mount{Op: OpBind, Src: "/dev", Dst: "/dev", Recursive: true})
	}
	if c.PrivateTmp {
		fs = append(fs, Mount{Op: OpTmpfs, Dst: "/tmp", Data: "mode=1777"}, Mount{Op: OpTmpfs, Dst: "/var/tmp", Data: "mode=1777"})
	}
	if c.PrivateDevices {
		fs = append(fs, Mount{Op: OpDevices, Dst: "/dev"})
	}
	if c.ProtectProc != "" && c.ProtectProc != "default" || c.ProcSubset == "pid" {
		var o []string
		if c.ProtectProc != "" && c.ProtectProc != "default" {
			o = append(o, "hidepid="+c.ProtectProc)
		}
		if c.ProcSubset == "pid" {
			o = append(o, "subset=pid")
		}
		fs = append(fs, Mount{Op: OpProc, Dst: "/proc", Data: strings.Join(o, ",")})
	}
	for _, t := range c.TemporaryFileSystem {
		// A read-only tmpfs is made read-only after the binds that may
		// land in it.
		var o []string
		ro := false
		for _, w := range strings.Split(t.Options, ",") {
			if w == "ro" {
				ro = true
			} else if w != "" {
				o = append(o, w)
			}
		}
		fs = append(fs, Mount{Op: OpTmpfs, Dst: filepath.Clean(t.Path), Data: strings.Join(o, ",")})
		if ro {
			access = append(access, Mount{Op: OpReadOnly, Dst: filepath.Clean(t.Path)})
		}
	}
	for _, b := range c.BindPaths {
		fs = append(fs, Mount{Op: OpBind, Src: b.Src, Dst: filepath.Clean(b.Dst), ReadOnly: b.ReadOnly, Optional: b.Optional, Recursive: b.Recursive})
	}
	switch c.ProtectSystem {
	case "yes", "full":
		add(&access, OpReadOnly, []string{"/usr", "-/boot", "-/efi"}, false)
		if c.ProtectSystem == "full" {
			add(&access, OpReadOnly, []string{"/etc"}, false)
		}
	case "strict":
		add(&access, OpReadOnly, []string{"/"}, false)
		add(&access, OpReadWrite, []string{"-/dev", "-/proc", "-/sys"}, false)
		if c.PrivateTmp {
			add(&access, OpReadWrite, []string{"/tmp", "/var/tmp"}, false)
		}
		add(&access, OpReadWrite, writable, true)
	}
	homes := []string{"-/home", "-/root", "-/run/user"}
	switch c.ProtectHome {
	case "yes":
		add(&hide, OpInaccessible, homes, false)
	case "read-only":
		add(&access, OpReadOnly, homes, false)
	case "tmpfs":
		for _, h := range homes {
			fs = append(fs, Mount{Op: OpTmpfs, Dst: strings.TrimPrefix(h, "-"), Data: "mode=0755", ReadOnly: true, Optional: true})
		}
	}
	if c.ProtectKernelTunables {
		add(&access, OpReadOnly, []string{"-/proc/sys", "-/proc/sysrq-trigger", "-/proc/latency_stats", "-/proc/mtrr",
			"-/proc/apm", "-/proc/acpi", "-/proc/timer_stats", "-/proc/asound", "-/proc/bus", "-/proc/fs", "-/proc/irq", "-/sys"}, false)
		add(&hide, OpInaccessible, []string{"-/proc/kallsyms", "-/proc/kcore"}, false)
	}
	if c.ProtectKernelModules {
		add(&hide, OpInaccessible, []string{"-/usr/lib/modules", "-/lib/modules"}, false)
	}
	if c.ProtectKernelLogs {
		add(&hide, OpInaccessible, []string{"-/proc/kmsg", "-/dev/kmsg"}, false)
	}
	if c.ProtectControlGroups {
		add(&access, OpReadOnly, []string{"-/sys/fs/cgroup"}, false)
	}
	add(&access, OpReadOnly, c.ReadOnlyPaths, false)
	add(&access, OpReadWrite, c.ReadWritePaths, false)
	add(&access, OpNoExec, c.NoExecPaths, false)
	add(&access, OpExec, c.ExecPaths, false)
	add(&hide, OpInaccessible, c.InaccessiblePaths, false)
	byDepth := func(l []Mount) {
		sort.SliceStable(l, func(i, j int) bool { return depth(l[i].Dst) < depth(l[j].Dst) })
	}
	byDepth(fs)
	byDepth(access)
	return append(append(fs, access...), hide...)
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// String describes a mount for error messages.
func (m Mount) String() string {
	if m.Src != "" {
		return fmt.Sprintf("%s %s on %s", m.Op, m.Src, m.Dst)
	}
	return fmt.Sprintf("%s %s", m.Op, m.Dst)
}
