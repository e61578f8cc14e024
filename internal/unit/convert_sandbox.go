package unit

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/sandbox"
	"golang.org/x/sys/unix"
)

// sandboxEntry handles the privilege and sandboxing settings of
// systemd.exec(5) that tend applies.
func (c *converter) sandboxEntry(e Entry) bool {
	x := &c.rareSettings().sandbox
	if dst := sandboxBool(x, e.Key); dst != nil {
		c.boolean(e, dst)
		return true
	}
	switch e.Key {
	case "MountAPIVFS":
		var b bool
		if b0, err := ParseBool(e.Value); err != nil {
			c.bad(e, err)
		} else {
			b = b0
			x.MountAPIVFS = &b
		}
	case "ProtectSystem":
		c.choice(e, &x.ProtectSystem, "full", "strict")
	case "ProtectHome":
		c.choice(e, &x.ProtectHome, "read-only", "tmpfs")
	case "ProtectProc":
		c.oneOf(e, []string{"noaccess", "invisible", "ptraceable", "default"}, &x.ProtectProc)
	case "ProcSubset":
		c.oneOf(e, []string{"all", "pid"}, &x.ProcSubset)
	case "CapabilityBoundingSet", "AmbientCapabilities":
		c.capabilities(e, x)
	case "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths",
		"ReadWriteDirectories", "ReadOnlyDirectories", "InaccessibleDirectories":
		c.pathList(e, x)
	case "BindPaths", "BindReadOnlyPaths":
		c.bindPaths(e, x)
	case "TemporaryFileSystem":
		c.tmpfs(e, x)
	case "RestrictAddressFamilies":
		c.families(e, x)
	case "RestrictNamespaces":
		c.restrictNamespaces(e, x)
	case "SystemCallFilter":
		c.syscallFilter(e, x)
	case "SystemCallErrorNumber":
		if n, err := parseErrnoAction(e.Value); err != nil {
			c.bad(e, err)
		} else {
			x.SystemCallErrorNumber = n
		}
	case "RootImage":
		if v, ok := c.expand(e); ok {
			x.RootImage = v
		}
	case "SystemCallArchitectures":
		if e.Value == "" {
			x.SystemCallArchitectures = nil
		}
		for _, a := range strings.Fields(e.Value) {
			if a == "native" || a == nativeArch[runtime.GOARCH] {
				x.SystemCallArchitectures = append(x.SystemCallArchitectures, "native")
				continue
			}
			c.diag(e, Warning, "%s=: %s: tend allows only the native architecture's calls when this is set, not others", e.Key, a)
		}
	default:
		return false
	}
	return true
}

// nativeArch is systemd's name of the architecture tend runs on.
var nativeArch = map[string]string{"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm",
	"riscv64": "riscv64", "ppc64le": "ppc64-le", "s390x": "s390x", "loong64": "loongarch64"}

// sandboxBool is the boolean setting key names in x, or nil. A switch,
// not a map literal: this runs for every [Service] line, and a map
// would be built (and thrown away) each time.
func sandboxBool(x *sandbox.Config, key string) *bool {
	switch key {
	case "NoNewPrivileges":
		return &x.NoNewPrivileges
	case "PrivateTmp":
		return &x.PrivateTmp
	case "PrivateDevices":
		return &x.PrivateDevices
	case "PrivateNetwork":
		return &x.PrivateNetwork
	case "PrivateIPC":
		return &x.PrivateIPC
	case "PrivateMounts":
		return &x.PrivateMounts
	case "ProtectKernelTunables":
		return &x.ProtectKernelTunables
	case "ProtectKernelModules":
		return &x.ProtectKernelModules
	case "ProtectKernelLogs":
		return &x.ProtectKernelLogs
	case "ProtectControlGroups":
		return &x.ProtectControlGroups
	case "ProtectClock":
		return &x.ProtectClock
	case "ProtectHostname":
		return &x.ProtectHostname
	case "RestrictRealtime":
		return &x.RestrictRealtime
	case "RestrictSUIDSGID":
		return &x.RestrictSUIDSGID
	case "LockPersonality":
		return &x.LockPersonality
	case "MemoryDenyWriteExecute":
		return &x.MemoryDenyWriteExecute
	case "RemoveIPC":
		return &x.RemoveIPC
	case "PrivateUsers":
		return &x.PrivateUsers
	}
	return nil
}

// choice parses a boolean that may also be one of the extra values
// ("yes" → "yes", "no" → "").
func (c *converter) choice(e Entry, dst *string, extra ...string) {
	for _, v := range extra {
		if e.Value == v {
			*dst = v
			return
		}
	}
	b, err := ParseBool(e.Value)
	if err != nil {
		c.bad(e, err)
		return
	}
	*dst = map[bool]string{true: "yes", false: ""}[b]
}

// capabilities merges a capability list: lines add to the set, a "~"
// line removes from it (from all capabilities if it is the first), an
// empty line empties it.
func (c *converter) capabilities(e Entry, x *sandbox.Config) {
	set, inv, err := sandbox.ParseCaps(e.Value)
	if err != nil {
		c.bad(e, err)
		return
	}
	if e.Key == "AmbientCapabilities" {
		switch {
		case strings.TrimSpace(e.Value) == "":
			x.AmbientCapabilities = 0
		case inv:
			x.AmbientCapabilities &^= set
		default:
			x.AmbientCapabilities |= set
		}
		return
	}
	cur := x.CapabilityBoundingSet
	var v uint64
	switch {
	case strings.TrimSpace(e.Value) == "":
		v = 0
	case inv && cur == nil:
		v = sandbox.AllCaps &^ set
	case inv:
		v = *cur &^ set
	case cur == nil:
		v = set
	default:
		v = *cur | set
	}
	x.CapabilityBoundingSet = &v
}

func (c *converter) pathList(e Entry, x *sandbox.Config) {
	dst := map[string]*[]string{"ReadWritePaths": &x.ReadWritePaths, "ReadOnlyPaths": &x.ReadOnlyPaths,
		"InaccessiblePaths": &x.InaccessiblePaths, "ExecPaths": &x.ExecPaths, "NoExecPaths": &x.NoExecPaths,
		"ReadWriteDirectories": &x.ReadWritePaths, "ReadOnlyDirectories": &x.ReadOnlyPaths,
		"InaccessibleDirectories": &x.InaccessiblePaths}[e.Key]
	words, ok := c.words(e)
	if !ok {
		return
	}
	if len(words) == 0 {
		*dst = nil
	}
	for _, w := range words {
		p := strings.TrimLeft(w, "-+")
		if !filepath.IsAbs(p) {
			c.bad(e, fmt.Errorf("path %q is not absolute", p))
			continue
		}
		*dst = append(*dst, w)
	}
}

// bindPaths parses "[-]SRC[:DST[:OPTIONS]]" words.
func (c *converter) bindPaths(e Entry, x *sandbox.Config) {
	words, ok := c.words(e)
	if !ok {
		return
	}
	if len(words) == 0 {
		x.BindPaths = nil
	}
	for _, w := range words {
		b := sandbox.Bind{ReadOnly: e.Key == "BindReadOnlyPaths", Recursive: true}
		if rest, ok := strings.CutPrefix(w, "-"); ok {
			w, b.Optional = rest, true
		}
		parts := strings.SplitN(w, ":", 3)
		b.Src, b.Dst = parts[0], parts[0]
		if len(parts) > 1 && parts[1] != "" {
			b.Dst = parts[1]
		}
		if len(parts) > 2 {
			switch parts[2] {
			case "rbind":
			case "norbind":
				b.Recursive = false
			default:
				c.bad(e, fmt.Errorf("unknown bind option %q", parts[2]))
				continue
			}
		}
		if !filepath.IsAbs(b.Src) || !filepath.IsAbs(b.Dst) {
			c.bad(e, fmt.Errorf("%q: paths must be absolute", w))
			continue
		}
		x.BindPaths = append(x.BindPaths, b)
	}
}

func (c *converter) tmpfs(e Entry, x *sandbox.Config) {
	words, ok := c.words(e)
	if !ok {
		return
	}
	if len(words) == 0 {
		x.TemporaryFileSystem = nil
	}
	for _, w := range words {
		path, opts, _ := strings.Cut(w, ":")
		if !filepath.IsAbs(path) {
			c.bad(e, fmt.Errorf("path %q is not absolute", path))
			continue
		}
		x.TemporaryFileSystem = append(x.TemporaryFileSystem, sandbox.TmpFS{Path: path, Options: opts})
	}
}

// addressFamilies names the families RestrictAddressFamilies= accepts.
var addressFamilies = map[string]int{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_UNIX, "AF_INET": unix.AF_INET, "AF_INET6": unix.AF_INET6,
	"AF_NETLINK": unix.AF_NETLINK, "AF_PACKET": unix.AF_PACKET, "AF_BLUETOOTH": unix.AF_BLUETOOTH,
	"AF_CAN": unix.AF_CAN, "AF_ALG": unix.AF_ALG, "AF_VSOCK": unix.AF_VSOCK, "AF_XDP": unix.AF_XDP,
	"AF_KEY": unix.AF_KEY, "AF_BRIDGE": unix.AF_BRIDGE, "AF_APPLETALK": unix.AF_APPLETALK, "AF_AX25": unix.AF_AX25,
	"AF_IPX": unix.AF_IPX, "AF_X25": unix.AF_X25, "AF_TIPC": unix.AF_TIPC, "AF_RDS": unix.AF_RDS,
	"AF_SMC": unix.AF_SMC, "AF_QIPCRTR": unix.AF_QIPCRTR, "AF_IB": unix.AF_IB, "AF_MPLS": unix.AF_MPLS,
	"AF_NFC": unix.AF_NFC, "AF_PPPOX": unix.AF_PPPOX, "AF_LLC": unix.AF_LLC, "AF_IRDA": unix.AF_IRDA,
	"AF_ISDN": unix.AF_ISDN, "AF_PHONET": unix.AF_PHONET, "AF_IEEE802154": unix.AF_IEEE802154,
	"AF_CAIF": unix.AF_CAIF, "AF_KCM": unix.AF_KCM, "AF_DECnet": unix.AF_DECnet, "AF_ATMPVC": unix.AF_ATMPVC,
	"AF_ATMSVC": unix.AF_ATMSVC, "AF_ROSE": unix.AF_ROSE, "AF_NETROM": unix.AF_NETROM, "AF_SECURITY": unix.AF_SECURITY,
	"AF_WANPIPE": unix.AF_WANPIPE, "AF_IUCV": unix.AF_IUCV, "AF_RXRPC": unix.AF_RXRPC, "AF_SNA": unix.AF_SNA,
	"AF_ECONET": unix.AF_ECONET, "AF_MCTP": unix.AF_MCTP,
}

// families merges RestrictAddressFamilies=: the first line sets allow or
// deny ("~"), lines of the same kind add, of the other kind remove;
// "none" allows none; an empty value resets.
func (c *converter) families(e Entry, x *sandbox.Config) {
	v := strings.TrimSpace(e.Value)
	if v == "" {
		x.RestrictAddressFamilies = nil
		return
	}
	if v == "none" {
		x.RestrictAddressFamilies = &sandbox.FamilyList{Allow: true}
		return
	}
	inv := strings.HasPrefix(v, "~")
	var fams []int
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		f, ok := addressFamilies[w]
		if !ok {
			c.bad(e, fmt.Errorf("unknown address family %q", w))
			return
		}
		fams = append(fams, f)
	}
	cur := x.RestrictAddressFamilies
	if cur == nil {
		x.RestrictAddressFamilies = &sandbox.FamilyList{Allow: !inv, Families: fams}
		return
	}
	if cur.Allow != inv {
		cur.Families = append(cur.Families, fams...)
		return
	}
	for _, f := range fams {
		for i := 0; i < len(cur.Families); i++ {
			if cur.Families[i] == f {
				cur.Families = append(cur.Families[:i], cur.Families[i+1:]...)
				i--
			}
		}
	}
}

var namespaceNames = map[string]uint64{
	"cgroup": unix.CLONE_NEWCGROUP, "ipc": unix.CLONE_NEWIPC, "net": unix.CLONE_NEWNET, "mnt": unix.CLONE_NEWNS,
	"pid": unix.CLONE_NEWPID, "user": unix.CLONE_NEWUSER, "uts": unix.CLONE_NEWUTS,
}

const allNamespaces = unix.CLONE_NEWCGROUP | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWNS |
	unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWUTS

// restrictNamespaces merges RestrictNamespaces=: yes allows none, no
// all; a list adds the types it names to those allowed, a "~" list
// takes them away.
func (c *converter) restrictNamespaces(e Entry, x *sandbox.Config) {
	v := strings.TrimSpace(e.Value)
	if b, err := ParseBool(v); err == nil || v == "" {
		allowed := uint64(0)
		if !b {
			allowed = allNamespaces
		}
		x.RestrictNamespaces = &allowed
		if v == "" {
			x.RestrictNamespaces = nil
		}
		return
	}
	inv := strings.HasPrefix(v, "~")
	var flags uint64
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		f, ok := namespaceNames[w]
		if !ok {
			c.bad(e, fmt.Errorf("unknown namespace type %q", w))
			return
		}
		flags |= f
	}
	cur := uint64(0)
	if inv {
		cur = allNamespaces
	}
	if x.RestrictNamespaces != nil {
		cur = *x.RestrictNamespaces
	}
	if inv {
		cur &^= flags
	} else {
		cur |= flags
	}
	x.RestrictNamespaces = &cur
}

// syscallFilter merges SystemCallFilter=: the first line sets an allow
// list (which always includes @default) or a deny list ("~"); lines of
// the same kind add, of the other kind take away. NAME:ERRNO fails the
// call with that errno. Names this kernel lacks are ignored, as
// systemd does.
func (c *converter) syscallFilter(e Entry, x *sandbox.Config) {
	v := strings.TrimSpace(e.Value)
	if v == "" {
		x.SystemCallFilter = nil
		return
	}
	inv := strings.HasPrefix(v, "~")
	f := x.SystemCallFilter
	if f == nil {
		f = &sandbox.SyscallList{Allow: !inv, Calls: map[string]int{}}
		if f.Allow {
			def, _ := sandbox.ExpandSyscalls("@default")
			for _, n := range def {
				f.Calls[n] = 0
			}
		}
	}
	for _, w := range strings.Fields(strings.TrimPrefix(v, "~")) {
		name, errStr, hasErr := strings.Cut(w, ":")
		errno := 0
		if hasErr {
			n, err := parseErrnoAction(errStr)
			if err != nil {
				c.bad(e, err)
				return
			}
			errno = n
		}
		calls, err := sandbox.ExpandSyscalls(name)
		if err != nil {
			c.bad(e, err)
			continue
		}
		for _, n := range calls {
			switch {
			case f.Allow == !inv: // same kind: add
				f.Calls[n] = errno
			case f.Allow && hasErr: // allow list, "~name:errno": fail it with errno
				f.Calls[n] = errno
			default:
				delete(f.Calls, n)
			}
		}
	}
	x.SystemCallFilter = f
}

// parseErrnoAction parses an errno name or number, or "kill".
func parseErrnoAction(s string) (int, error) {
	if s == "kill" {
		return sandbox.ErrnoKill, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 4095 {
			return 0, fmt.Errorf("errno %d out of range", n)
		}
		return n, nil
	}
	for n := 1; n < 256; n++ {
		if unix.ErrnoName(unix.Errno(n)) == s {
			return n, nil
		}
	}
	return 0, errors.New("unknown errno " + strconv.Quote(s))
}
