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
	// UserNS (PrivateUsers=): the helper is forked into a new user
	// namespace mapping only root and the unit's user and groups;
	// Unshare then happens inside it.
	UserNS   bool
	Unshare  int  // CLONE_NEW* flags
	Loopback bool // bring lo up in the new network namespace
	Root     string
	// NeedsMountNS: the mounts change what the program sees beyond
	// hiding or protecting (binds elsewhere, TemporaryFileSystem=,
	// RootDirectory=, DynamicUser=), so a kernel or container that
	// forbids a mount namespace fails the start instead of the sandbox
	// being skipped.
	NeedsMountNS bool
	Mounts       []Mount
	CapBound     *uint64
	Ambient      uint64
	NNP          bool
	Seccomp      []Program
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
	// FD is, for a proc or sysfs mount in a user namespace (where the
	// kernel refuses new ones), the helper's descriptor of a detached
	// mount tend made before the fork; 0 otherwise.
	FD int
}

// Build makes the plan for c. root is RootDirectory= ("" for none),
// writable the directories tend created for the unit (StateDirectory=
// and the like), which ProtectSystem=strict keeps writable.
func Build(c *Config, root string, writable []string) (*Plan, error) {
	p := &Plan{Root: root, CapBound: c.CapabilityBoundingSet, Ambient: c.AmbientCapabilities, NNP: c.NoNewPrivileges,
		UserNS: c.PrivateUsers}
	if c.NeedsMountNS() {
		p.Unshare |= unix.CLONE_NEWNS
		p.Mounts = mounts(c, writable)
		p.NeedsMountNS = root != "" || len(c.TemporaryFileSystem) > 0
		for _, b := range c.BindPaths {
			if filepath.Clean(b.Src) != filepath.Clean(b.Dst) {
				p.NeedsMountNS = true
			}
		}
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

// mountList collects the operations in three groups, applied in this
// order: new file systems and binds, shallowest first (a bind may land
// inside a new tmpfs); access changes, shallowest first (a deeper
// ReadWritePaths= wins over a shallower read-only tree); what is made
// inaccessible.
type mountList struct{ fs, access, hide []Mount }

// mounts lists the mount operations c asks for.
func mounts(c *Config, writable []string) []Mount {
	l := &mountList{}
	l.fileSystems(c)
	l.system(c, writable)
	l.kernel(c)
	l.add(&l.access, OpReadOnly, c.ReadOnlyPaths)
	l.add(&l.access, OpReadWrite, c.ReadWritePaths)
	l.add(&l.access, OpNoExec, c.NoExecPaths)
	l.add(&l.access, OpExec, c.ExecPaths)
	l.add(&l.hide, OpInaccessible, c.InaccessiblePaths)
	byDepth := func(ms []Mount) {
		sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Dst) < depth(ms[j].Dst) })
	}
	byDepth(l.fs)
	byDepth(l.access)
	return append(append(l.fs, l.access...), l.hide...)
}

// add appends an operation on each path; a "-" prefix makes a missing
// path no error.
func (l *mountList) add(list *[]Mount, op string, paths []string) {
	for _, raw := range paths {
		p, optional := strings.CutPrefix(raw, "-")
		p = strings.TrimPrefix(p, "+")
		*list = append(*list, Mount{Op: op, Dst: filepath.Clean(p), Optional: optional, Recursive: true})
	}
}

// fileSystems: API file systems, private /tmp and /dev, a new /proc,
// TemporaryFileSystem= and the binds.
func (l *mountList) fileSystems(c *Config) {
	if c.MountAPIVFS != nil && *c.MountAPIVFS {
		l.fs = append(l.fs, Mount{Op: OpProc, Dst: "/proc"}, Mount{Op: OpSysfs, Dst: "/sys"},
			Mount{Op: OpBind, Src: "/dev", Dst: "/dev", Recursive: true})
	}
	if c.PrivateTmp && c.PrivateTmpSrc[0] != "" {
		l.fs = append(l.fs, Mount{Op: OpBind, Src: c.PrivateTmpSrc[0], Dst: "/tmp"},
			Mount{Op: OpBind, Src: c.PrivateTmpSrc[1], Dst: "/var/tmp"})
	} else if c.PrivateTmp {
		l.fs = append(l.fs, Mount{Op: OpTmpfs, Dst: "/tmp", Data: "mode=1777"}, Mount{Op: OpTmpfs, Dst: "/var/tmp", Data: "mode=1777"})
	}
	if c.PrivateDevices {
		l.fs = append(l.fs, Mount{Op: OpDevices, Dst: "/dev"})
	}
	var proc []string
	if c.ProtectProc != "" && c.ProtectProc != "default" {
		proc = append(proc, "hidepid="+c.ProtectProc)
	}
	if c.ProcSubset == "pid" {
		proc = append(proc, "subset=pid")
	}
	if len(proc) > 0 {
		l.fs = append(l.fs, Mount{Op: OpProc, Dst: "/proc", Data: strings.Join(proc, ",")})
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
		l.fs = append(l.fs, Mount{Op: OpTmpfs, Dst: filepath.Clean(t.Path), Data: strings.Join(o, ",")})
		if ro {
			l.access = append(l.access, Mount{Op: OpReadOnly, Dst: filepath.Clean(t.Path)})
		}
	}
	for _, b := range c.BindPaths {
		l.fs = append(l.fs, Mount{Op: OpBind, Src: b.Src, Dst: filepath.Clean(b.Dst), ReadOnly: b.ReadOnly,
			Optional: b.Optional, Recursive: b.Recursive})
	}
}

// system: ProtectSystem= and ProtectHome=. Under strict, the API file
// systems, a private /tmp and the unit's own directories stay writable.
func (l *mountList) system(c *Config, writable []string) {
	switch c.ProtectSystem {
	case "yes", "full":
		l.add(&l.access, OpReadOnly, []string{"/usr", "-/boot", "-/efi"})
		if c.ProtectSystem == "full" {
			l.add(&l.access, OpReadOnly, []string{"/etc"})
		}
	case "strict":
		l.add(&l.access, OpReadOnly, []string{"/"})
		l.add(&l.access, OpReadWrite, []string{"-/dev", "-/proc", "-/sys"})
		if c.PrivateTmp {
			l.add(&l.access, OpReadWrite, []string{"/tmp", "/var/tmp"})
		}
		for _, w := range writable {
			l.add(&l.access, OpReadWrite, []string{"-" + w})
		}
	}
	homes := []string{"-/home", "-/root", "-/run/user"}
	switch c.ProtectHome {
	case "yes":
		l.add(&l.hide, OpInaccessible, homes)
	case "read-only":
		l.add(&l.access, OpReadOnly, homes)
	case "tmpfs":
		for _, h := range homes {
			l.fs = append(l.fs, Mount{Op: OpTmpfs, Dst: strings.TrimPrefix(h, "-"), Data: "mode=0755", ReadOnly: true, Optional: true})
		}
	}
}

// kernel: ProtectKernelTunables=, ProtectKernelModules=,
// ProtectKernelLogs=, ProtectControlGroups=.
func (l *mountList) kernel(c *Config) {
	if c.ProtectKernelTunables {
		l.add(&l.access, OpReadOnly, []string{"-/proc/sys", "-/proc/sysrq-trigger", "-/proc/latency_stats", "-/proc/mtrr",
			"-/proc/apm", "-/proc/acpi", "-/proc/timer_stats", "-/proc/asound", "-/proc/bus", "-/proc/fs", "-/proc/irq", "-/sys"})
		l.add(&l.hide, OpInaccessible, []string{"-/proc/kallsyms", "-/proc/kcore"})
	}
	if c.ProtectKernelModules {
		l.add(&l.hide, OpInaccessible, []string{"-/usr/lib/modules", "-/lib/modules"})
	}
	if c.ProtectKernelLogs {
		l.add(&l.hide, OpInaccessible, []string{"-/proc/kmsg", "-/dev/kmsg"})
	}
	if c.ProtectControlGroups {
		l.add(&l.access, OpReadOnly, []string{"-/sys/fs/cgroup"})
	}
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
