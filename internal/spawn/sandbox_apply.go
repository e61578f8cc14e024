package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/tendproject/tend/internal/sandbox"
	"golang.org/x/sys/unix"
)

// applyNamespaces unshares the plan's namespaces and performs its mounts
// (before chroot and the change of user, which both need privilege).
func applyNamespaces(pl *sandbox.Plan) (int, string, error) {
	if pl.Unshare == 0 {
		return 0, "", nil
	}
	flags, code, msg, err := unshare(pl)
	if err != nil {
		return code, msg, err
	}
	if pl.Loopback && flags&unix.CLONE_NEWNET != 0 {
		if err := loopbackUp(); err != nil {
			return ExitNetwork, "bring up loopback", err
		}
	}
	if flags&unix.CLONE_NEWNS == 0 {
		return 0, "", nil
	}
	// Mounts made on the host still reach the service; the service's own
	// never reach the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return ExitNamespace, "make / a slave mount", err
	}
	// Bind sources are taken before anything is mounted: a
	// TemporaryFileSystem= may hide them (/usr:ro with /usr/bin bound
	// back in).
	trees := make([]int, len(pl.Mounts))
	for i, m := range pl.Mounts {
		trees[i] = -1
		if m.Op == sandbox.OpBind {
			trees[i] = cloneTree(m)
		}
	}
	defer func() {
		for _, fd := range trees {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	for i, m := range pl.Mounts {
		if err := applyMount(pl.Root, m, trees[i]); err != nil {
			return ExitNamespace, m.String(), err
		}
	}
	// As systemd's default MountFlags=shared: the service's mounts
	// propagate among its own processes' mounts (and still not to the
	// host, which stays the master).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return ExitNamespace, "make / shared", err
	}
	return 0, "", nil
}

// nsSettings name the settings behind each namespace, for the warning
// when one is skipped.
var nsSettings = []struct {
	flag     int
	settings string
	status   int
}{
	{unix.CLONE_NEWNS, "PrivateTmp=, PrivateDevices=, Protect*=, *Paths= and the other mount settings", ExitNamespace},
	{unix.CLONE_NEWNET, "PrivateNetwork=", ExitNetwork},
	{unix.CLONE_NEWIPC, "PrivateIPC=", ExitNamespace},
	{unix.CLONE_NEWUTS, "ProtectHostname=", ExitNamespace},
}

// unshare enters the plan's namespaces one at a time and returns those
// entered. Where the kernel or a container forbids one (EPERM, EACCES,
// or not supported: a seccomp filter, no kernel support), systemd
// proceeds without it, with a warning, as systemd.exec(5) warns that
// these settings may be impossible to implement — except a mount
// namespace the unit cannot do without (Plan.NeedsMountNS) and
// PrivateNetwork= refused for other reasons than privilege.
func unshare(pl *sandbox.Plan) (int, int, string, error) {
	done := 0
	for _, ns := range nsSettings {
		if pl.Unshare&ns.flag == 0 {
			continue
		}
		err := unix.Unshare(ns.flag)
		if err == nil {
			done |= ns.flag
			continue
		}
		privilege := errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
		unsupported := errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL)
		switch {
		case ns.flag == unix.CLONE_NEWNS && pl.NeedsMountNS,
			ns.flag == unix.CLONE_NEWNET && !privilege,
			!privilege && !unsupported:
			return 0, ns.status, "unshare namespaces", err
		}
		fmt.Fprintf(os.Stderr, "tend: %s not applied: the namespace is forbidden here (unshare: %v), proceeding without it\n", ns.settings, err)
	}
	return done, 0, "", nil
}

// cloneTree detaches a copy of a bind source with open_tree(2), or
// returns -1 (source missing, or a kernel before 5.2: bound by path).
func cloneTree(m sandbox.Mount) int {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if m.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Src, uint(flags))
	if err != nil {
		return -1
	}
	return fd
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// applyMount performs one mount operation below root.
func applyMount(root string, m sandbox.Mount, tree int) error {
	dst := filepath.Join("/", root, m.Dst)
	switch m.Op {
	case sandbox.OpTmpfs:
		if err := os.MkdirAll(dst, 0o755); err != nil {
			if m.Optional {
				return nil
			}
			return err
		}
		flags, data := mountOptions(m.Data)
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		if !strings.Contains(data, "mode=") {
			data = strings.TrimPrefix(data+",mode=0755", ",")
		}
		return unix.Mount("tmpfs", dst, "tmpfs", flags|unix.MS_NOSUID|unix.MS_NODEV, data)
	case sandbox.OpBind:
		return bind(m, dst, tree)
	case sandbox.OpDevices:
		return privateDev(dst)
	case sandbox.OpProc, sandbox.OpSysfs:
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if m.FD > 0 { // made by tend: see sandbox_userns.go
			defer unix.Close(m.FD)
			return unix.MoveMount(m.FD, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}
		return unix.Mount(m.Op, dst, m.Op, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, m.Data)
	case sandbox.OpInaccessible:
		return inaccessible(m, dst)
	}
	return setAttr(m, dst)
}

// mountOptions splits mount options into flags and file-system data.
func mountOptions(opts string) (uintptr, string) {
	flagOf := map[string]uintptr{"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
		"noexec": unix.MS_NOEXEC, "noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME,
		"strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME, "sync": unix.MS_SYNCHRONOUS}
	var flags uintptr
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch f, ok := flagOf[o]; {
		case o == "" || o == "rw" || o == "suid" || o == "dev" || o == "exec" || o == "nostrictatime" || o == "async":
		case ok:
			flags |= f
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

func bind(m sandbox.Mount, dst string, tree int) error {
	var st unix.Stat_t
	var err error
	if tree >= 0 {
		err = unix.Fstat(tree, &st)
	} else {
		err = unix.Stat(m.Src, &st)
	}
	if err != nil {
		if m.Optional && errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if err := makeMountPoint(dst, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	if tree >= 0 {
		err = unix.MoveMount(tree, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH)
	} else {
		flags := uintptr(unix.MS_BIND)
		if m.Recursive {
			flags |= unix.MS_REC
		}
		err = unix.Mount(m.Src, dst, "", flags, "")
	}
	if err != nil {
		return err
	}
	if m.ReadOnly {
		return changeAttr(dst, unix.MOUNT_ATTR_RDONLY, 0, m.Recursive)
	}
	return nil
}

// makeMountPoint creates dst as a directory or an empty file. The file
// is made by mknod, not open: what appeared at dst since (a FIFO, say)
// is mounted over, never opened, so nothing waits for its other side.
func makeMountPoint(dst string, dir bool) error {
	if dir {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err := unix.Mknod(dst, unix.S_IFREG|0o644, 0)
	if err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mknod", Path: dst, Err: err}
	}
	return nil
}

// setAttr makes dst its own mount and changes its access flags.
func setAttr(m sandbox.Mount, dst string) error {
	if _, err := os.Stat(dst); err != nil {
		if m.Optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if !m.Recursive {
		// A mount of the plan's own (a tmpfs): change it alone.
		return changeAttr(dst, unix.MOUNT_ATTR_RDONLY, 0, false)
	}
	if err := unix.Mount(dst, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	switch m.Op {
	case sandbox.OpReadOnly:
		return changeAttr(dst, unix.MOUNT_ATTR_RDONLY, 0, true)
	case sandbox.OpReadWrite:
		return changeAttr(dst, 0, unix.MOUNT_ATTR_RDONLY, true)
	case sandbox.OpNoExec:
		return changeAttr(dst, unix.MOUNT_ATTR_NOEXEC, 0, true)
	case sandbox.OpExec:
		return changeAttr(dst, 0, unix.MOUNT_ATTR_NOEXEC, true)
	}
	return fmt.Errorf("unknown mount operation %q", m.Op)
}

// changeAttr sets and clears mount attributes of dst (and the mounts
// below it), with mount_setattr(2).
func changeAttr(dst string, set, clr uint64, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(unix.AT_FDCWD, dst, uint(flags), &unix.MountAttr{Attr_set: set, Attr_clr: clr})
	if errors.Is(err, unix.ENOSYS) && set == unix.MOUNT_ATTR_RDONLY {
		// Before Linux 5.12: the top mount only.
		return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return err
}

// inaccessible covers dst: a directory with an empty read-only tmpfs of
// mode 0000, anything else with /dev/null read-only.
func inaccessible(m sandbox.Mount, dst string) error {
	fi, err := os.Stat(dst)
	if err != nil {
		if m.Optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return unix.Mount("tmpfs", dst, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=000")
	}
	if err := unix.Mount("/dev/null", dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return changeAttr(dst, unix.MOUNT_ATTR_RDONLY, 0, false)
}

// devNodes are the devices of a private /dev.
var devNodes = []struct {
	name         string
	major, minor uint32
}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}

// privateDev mounts a minimal /dev: the pseudo devices, a private pts
// instance, shm and the standard links; no disks, no kmsg. The devices
// are the host's nodes bound in (taken before the new /dev hides them):
// a user namespace may not create device nodes; mknod is the fallback
// on kernels without open_tree(2).
func privateDev(dst string) error {
	trees := make([]int, len(devNodes))
	for i, n := range devNodes {
		trees[i], _ = unix.OpenTree(unix.AT_FDCWD, "/dev/"+n.name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	}
	defer func() {
		for _, fd := range trees {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return err
	}
	for i, n := range devNodes {
		if err := devNode(filepath.Join(dst, n.name), trees[i], n.major, n.minor); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dst, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dst, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", filepath.Join(dst, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	links := map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// devNode puts a device at path: the host's node (tree, from open_tree)
// or, without it, a new one.
func devNode(path string, tree int, major, minor uint32) error {
	if tree >= 0 {
		if err := makeMountPoint(path, false); err != nil {
			return err
		}
		return unix.MoveMount(tree, "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH)
	}
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor))); err != nil {
		return err
	}
	return os.Chmod(path, 0o666) // the umask applies to mknod
}

// dropBounding drops from the bounding set what the plan excludes and,
// if ambient capabilities are asked for, keeps the permitted set across
// the change of user (both need privilege, so before it).
func dropBounding(pl *sandbox.Plan, changesUser bool) (int, string, error) {
	if pl.CapBound != nil {
		for c := 0; c < 64; c++ {
			if *pl.CapBound&(1<<c) != 0 {
				continue
			}
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				if errors.Is(err, unix.EINVAL) {
					break // past the kernel's last capability
				}
				return ExitCapabilities, "drop " + sandbox.CapName(c) + " from the bounding set", err
			}
		}
	}
	if pl.Ambient != 0 && changesUser {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return ExitCapabilities, "keep capabilities", err
		}
	}
	return 0, "", nil
}

// raiseAmbient makes the plan's ambient capabilities inheritable and
// ambient, so that the program keeps them across exec as any user.
func raiseAmbient(pl *sandbox.Plan) (int, string, error) {
	if pl.Ambient == 0 {
		return 0, "", nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return ExitCapabilities, "read capabilities", err
	}
	for i := range data {
		data[i].Inheritable |= uint32(pl.Ambient >> (32 * i))
		data[i].Effective = data[i].Permitted
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return ExitCapabilities, "set inheritable capabilities", err
	}
	for c := 0; c < 64; c++ {
		if pl.Ambient&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return ExitCapabilities, "raise ambient " + sandbox.CapName(c), err
		}
	}
	return 0, "", nil
}

// lockDown sets no_new_privs and loads the seccomp programs, the last
// steps before exec. A filter needs no_new_privs unless the process
// keeps CAP_SYS_ADMIN; as systemd, tend sets it when the kernel says so.
func lockDown(pl *sandbox.Plan) (int, string, error) {
	if pl.NNP {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return ExitNoNewPrivileges, "set no_new_privs", err
		}
	}
	for _, prog := range pl.Seccomp {
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
		if errors.Is(err, unix.EACCES) {
			if err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err == nil {
				err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
			}
		}
		if err != nil {
			return ExitSeccomp, "load seccomp filter", err
		}
	}
	return 0, "", nil
}
