// Package sandbox turns the privilege and sandboxing settings of
// systemd.exec(5) into what a process applies to itself before exec: a
// list of mount operations in a private mount namespace, namespaces to
// unshare, capability sets, and seccomp BPF programs. It only builds;
// the exec helper (internal/spawn) applies the result.
package sandbox

// Config is the sandboxing part of a unit's exec context, as parsed.
// The zero value asks for nothing.
type Config struct {
	NoNewPrivileges bool
	// CapabilityBoundingSet: nil keeps the bounding set.
	CapabilityBoundingSet *uint64
	AmbientCapabilities   uint64

	PrivateTmp, PrivateDevices, PrivateNetwork, PrivateIPC, PrivateUsers bool
	PrivateMounts                                                        bool
	ProtectSystem                                                        string // "", yes, full, strict
	ProtectHome                                                          string // "", yes, read-only, tmpfs
	ProtectKernelTunables, ProtectKernelModules, ProtectKernelLogs       bool
	ProtectControlGroups, ProtectClock, ProtectHostname                  bool
	ProtectProc                                                          string // "", noaccess, invisible, ptraceable, default
	ProcSubset                                                           string // "", all, pid
	MountAPIVFS                                                          *bool

	ReadWritePaths, ReadOnlyPaths, InaccessiblePaths []string // "-" prefix: optional
	ExecPaths, NoExecPaths                           []string
	BindPaths                                        []Bind
	TemporaryFileSystem                              []TmpFS

	RestrictAddressFamilies *FamilyList
	// RestrictNamespaces: nil leaves namespaces alone; else the CLONE_NEW*
	// flags still allowed.
	RestrictNamespaces      *uint64
	RestrictRealtime        bool
	RestrictSUIDSGID        bool
	LockPersonality         bool
	MemoryDenyWriteExecute  bool
	SystemCallFilter        *SyscallList
	SystemCallErrorNumber   int // 0: kill the process (systemd's default)
	SystemCallArchitectures []string
	RemoveIPC               bool // applied by the supervisor at stop (spawn.RemoveIPC)
	// RootImage is refused at start: tend mounts no disk images.
	RootImage string
	// PrivateTmpSrc are the host directories bound on /tmp and /var/tmp
	// under PrivateTmp=, shared by all of the unit's processes; tend sets
	// them at start (never parsed). Empty: a fresh tmpfs per process.
	PrivateTmpSrc [2]string
}

// Bind is one BindPaths=/BindReadOnlyPaths= entry.
type Bind struct {
	Src, Dst  string
	ReadOnly  bool
	Optional  bool // "-" prefix
	Recursive bool // default true; "norbind" clears it
}

// TmpFS is one TemporaryFileSystem= entry.
type TmpFS struct {
	Path    string
	Options string // mount options, e.g. "ro,mode=0700"
}

// FamilyList is RestrictAddressFamilies=: the address families allowed
// (Allow) or denied.
type FamilyList struct {
	Allow    bool
	Families []int
}

// SyscallList is SystemCallFilter=: system calls allowed (Allow) or
// denied, each with the errno it fails with (0: the unit's
// SystemCallErrorNumber=, ErrnoKill: kill).
type SyscallList struct {
	Allow bool
	Calls map[string]int
}

// ErrnoKill in SyscallList.Calls or SystemCallErrorNumber= kills the
// process; errno 0 in Calls means "the default action".
const ErrnoKill = -1

// Active reports whether c asks for anything.
func (c *Config) Active() bool {
	return c.NoNewPrivileges || c.CapabilityBoundingSet != nil || c.AmbientCapabilities != 0 ||
		c.NeedsMountNS() || c.PrivateNetwork || c.PrivateIPC || c.PrivateUsers || c.ProtectHostname ||
		c.NeedsSeccomp() || c.RootImage != ""
}

// NeedsMountNS reports whether the process gets its own mount namespace.
func (c *Config) NeedsMountNS() bool {
	return c.PrivateTmp || c.PrivateDevices || c.PrivateMounts || c.ProtectSystem != "" || c.ProtectHome != "" ||
		c.ProtectKernelTunables || c.ProtectKernelModules || c.ProtectKernelLogs || c.ProtectControlGroups ||
		c.ProtectProc != "" || c.ProcSubset != "" || len(c.ReadWritePaths)+len(c.ReadOnlyPaths)+len(c.InaccessiblePaths) > 0 ||
		len(c.ExecPaths)+len(c.NoExecPaths)+len(c.BindPaths)+len(c.TemporaryFileSystem) > 0 ||
		c.MountAPIVFS != nil && *c.MountAPIVFS || c.ProtectClock
}

// NeedsSeccomp reports whether any seccomp filter is asked for.
func (c *Config) NeedsSeccomp() bool {
	return c.RestrictAddressFamilies != nil || c.RestrictNamespaces != nil || c.RestrictRealtime ||
		c.RestrictSUIDSGID || c.LockPersonality || c.MemoryDenyWriteExecute || c.SystemCallFilter != nil ||
		len(c.SystemCallArchitectures) > 0 || c.ProtectClock || c.ProtectKernelModules || c.ProtectKernelLogs ||
		c.ProtectHostname || c.PrivateDevices
}
