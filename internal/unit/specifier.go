package unit

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Env holds the values specifiers resolve to. The daemon fills it once
// (see SystemEnv and UserEnv plus the host facts it reads) and passes it
// to the Loader; nothing here reads the host on its own.
type Env struct {
	Hostname       string // %H; %l is its first label
	PrettyHostname string // %q
	MachineID      string // %m
	BootID         string // %b
	Arch           string // %a, systemd's architecture name ("x86-64")
	KernelRelease  string // %v
	OSID           string // %o, ID= of os-release
	OSVersionID    string // %w
	OSBuildID      string // %B
	OSVariantID    string // %W
	OSImageID      string // %M
	OSImageVersion string // %A

	RuntimeDir string // %t: /run or $XDG_RUNTIME_DIR
	StateDir   string // %S: /var/lib or $XDG_STATE_HOME
	CacheDir   string // %C: /var/cache or $XDG_CACHE_HOME
	LogsDir    string // %L: /var/log or $XDG_STATE_HOME/log
	ConfigDir  string // %E: /etc or $XDG_CONFIG_HOME
	TempDir    string // %T: /tmp or $TMPDIR
	VarTempDir string // %V: /var/tmp or $TMPDIR
	CredsDir   string // %d base; the unit name is appended

	UserName  string // %u
	UID       int    // %U
	GroupName string // %g
	GID       int    // %G
	Home      string // %h
	Shell     string // %s
}

// SystemEnv returns the directory values of the system manager running
// as root; host facts (hostname, ids, os-release) are left empty.
func SystemEnv() Env {
	return Env{
		RuntimeDir: "/run", StateDir: "/var/lib", CacheDir: "/var/cache",
		LogsDir: "/var/log", ConfigDir: "/etc", TempDir: "/tmp", VarTempDir: "/var/tmp",
		CredsDir: "/run/credentials", UserName: "root", GroupName: "root",
		Home: "/root", Shell: "/bin/sh",
	}
}

// UserEnv returns the directory values of a per-user manager from the
// user's home and the XDG variables in getenv (which may return "").
func UserEnv(home string, getenv func(string) string) Env {
	or := func(key, def string) string {
		if v := getenv(key); filepath.IsAbs(v) {
			return v
		}
		return def
	}
	state := or("XDG_STATE_HOME", filepath.Join(home, ".local/state"))
	tmp := or("TMPDIR", "/tmp")
	runtime := or("XDG_RUNTIME_DIR", "")
	return Env{
		RuntimeDir: runtime, StateDir: state,
		CacheDir: or("XDG_CACHE_HOME", filepath.Join(home, ".cache")),
		LogsDir:  filepath.Join(state, "log"), ConfigDir: or("XDG_CONFIG_HOME", filepath.Join(home, ".config")),
		TempDir: tmp, VarTempDir: or("TMPDIR", "/var/tmp"), CredsDir: filepath.Join(runtime, "credentials"),
		Home: home,
	}
}

// ReadOSRelease fills the os-release fields of e from the contents of an
// os-release file (KEY=value lines, optionally quoted).
func (e *Env) ReadOSRelease(data string) {
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `'"`)
		}
		switch k {
		case "ID":
			e.OSID = v
		case "VERSION_ID":
			e.OSVersionID = v
		case "BUILD_ID":
			e.OSBuildID = v
		case "VARIANT_ID":
			e.OSVariantID = v
		case "IMAGE_ID":
			e.OSImageID = v
		case "IMAGE_VERSION":
			e.OSImageVersion = v
		}
	}
}

// systemdArch maps Go's GOARCH to systemd's architecture names (%a).
var systemdArch = map[string]string{
	"amd64": "x86-64", "386": "x86", "arm64": "arm64", "arm": "arm", "ppc64le": "ppc64-le",
	"ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "loong64": "loongarch64",
	"mips64le": "mips64-le", "mipsle": "mips-le",
}

// specCtx is what one unit contributes to specifier expansion.
type specCtx struct {
	env      *Env
	name     string // canonical unit name
	fragment string // fragment path, for %y and %Y
}

// Expand resolves the %-specifiers of systemd.unit(5) in s for the unit
// called name, whose fragment is at fragment (may be ""). An unknown
// specifier or a lone trailing '%' is an error.
func (e *Env) Expand(s, name, fragment string) (string, error) {
	return specCtx{env: e, name: name, fragment: fragment}.expand(s)
}

func (c specCtx) expand(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("trailing '%%' in %q", s)
		}
		i++
		v, err := c.value(s[i])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func (c specCtx) value(spec byte) (string, error) {
	e := c.env
	prefix, inst, kind := SplitName(c.name)
	unesc := func(s string) string {
		if u, err := Unescape(s); err == nil {
			return u
		}
		return s
	}
	switch spec {
	case '%':
		return "%", nil
	case 'n':
		return c.name, nil
	case 'N':
		return strings.TrimSuffix(c.name, "."+string(kind)), nil
	case 'p':
		return prefix, nil
	case 'P':
		return unesc(prefix), nil
	case 'i':
		return inst, nil
	case 'I':
		return unesc(inst), nil
	case 'j', 'J':
		last := prefix
		if k := strings.LastIndexByte(prefix, '-'); k >= 0 {
			last = prefix[k+1:]
		}
		if spec == 'J' {
			return unesc(last), nil
		}
		return last, nil
	case 'f':
		if inst != "" {
			return "/" + strings.TrimPrefix(unesc(inst), "/"), nil
		}
		return "/" + strings.TrimPrefix(unesc(prefix), "/"), nil
	case 'y':
		return c.fragment, nil
	case 'Y':
		if c.fragment == "" {
			return "", nil
		}
		return filepath.Dir(c.fragment), nil
	case 'd':
		return filepath.Join(e.CredsDir, c.name), nil
	case 'H':
		return e.Hostname, nil
	case 'l':
		h, _, _ := strings.Cut(e.Hostname, ".")
		return h, nil
	case 'U':
		return strconv.Itoa(e.UID), nil
	case 'G':
		return strconv.Itoa(e.GID), nil
	}
	strs := map[byte]string{
		'q': e.PrettyHostname, 'm': e.MachineID, 'b': e.BootID, 'a': e.Arch, 'v': e.KernelRelease,
		'o': e.OSID, 'w': e.OSVersionID, 'B': e.OSBuildID, 'W': e.OSVariantID, 'M': e.OSImageID,
		'A': e.OSImageVersion, 't': e.RuntimeDir, 'S': e.StateDir, 'C': e.CacheDir,
		'L': e.LogsDir, 'E': e.ConfigDir, 'T': e.TempDir, 'V': e.VarTempDir,
		'u': e.UserName, 'g': e.GroupName, 'h': e.Home, 's': e.Shell,
	}
	if v, ok := strs[spec]; ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown specifier %%%c", spec)
}

// FillHost reads the host facts (hostname, machine and boot id, kernel
// release, os-release) from the file system rooted at root, normally "/",
// and sets Arch from the running binary. Missing files leave their
// fields empty.
func (e *Env) FillHost(root string) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	e.Hostname = read("proc/sys/kernel/hostname")
	e.MachineID = read("etc/machine-id")
	e.BootID = strings.ReplaceAll(read("proc/sys/kernel/random/boot_id"), "-", "")
	e.KernelRelease = read("proc/sys/kernel/osrelease")
	rel := read("etc/os-release")
	if rel == "" {
		rel = read("usr/lib/os-release")
	}
	e.ReadOSRelease(rel)
	e.Arch = systemdArch[runtime.GOARCH]
	if e.Arch == "" {
		e.Arch = runtime.GOARCH
	}
}
