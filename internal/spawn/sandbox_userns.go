package spawn

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/tendproject/tend/internal/sandbox"
	"golang.org/x/sys/unix"
)

// PrivateUsers=: Go's runtime is multi-threaded, and only a
// single-threaded process may unshare a user namespace, so the helper is
// forked into one (as systemd's own, it maps root and the unit's user
// and groups to themselves, every other id to the overflow id). Inside
// it the helper is root of its namespaces with all their capabilities:
// mounts, unsharing, capabilities and seccomp work as without it. What
// the kernel refuses there, a new proc or sysfs instance (their pid and
// network namespaces belong to the host), tend makes before the fork as
// detached mounts (fsopen/fsmount) that the helper only moves into
// place.

// userNSFiles makes the detached mounts the plan's proc and sysfs
// operations need in a user namespace; they become the helper's
// descriptors from first on.
func (p *plan) userNSFiles(first int) ([]*os.File, error) {
	sb := p.sandbox
	if sb == nil || !sb.UserNS {
		return nil, nil
	}
	var files []*os.File
	for i := range sb.Mounts {
		m := &sb.Mounts[i]
		if m.Op != sandbox.OpProc && m.Op != sandbox.OpSysfs {
			continue
		}
		fd, err := detachedMount(m.Op, m.Data)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, setupErr(ExitNamespace, p.path, fmt.Errorf("%s for PrivateUsers=: %w", m, err))
		}
		m.FD = first + len(files)
		files = append(files, os.NewFile(uintptr(fd), m.Op))
	}
	return files, nil
}

// detachedMount makes a new mount of fstype with options, not attached
// anywhere yet.
func detachedMount(fstype, options string) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	for _, o := range strings.Split(options, ",") {
		switch k, v, ok := strings.Cut(o, "="); {
		case o == "":
		case ok:
			err = unix.FsconfigSetString(fs, k, v)
		default:
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return -1, fmt.Errorf("option %s: %w", o, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}

// userNSAttr forks the helper into the new user namespace.
func (p *plan) userNSAttr(sys *syscall.SysProcAttr) {
	if p.sandbox == nil || !p.sandbox.UserNS {
		return
	}
	uids, gids := []int{0}, []int{0}
	if c := p.cred; c != nil {
		uids = append(uids, int(c.Uid))
		gids = append(gids, int(c.Gid))
		for _, g := range c.Groups {
			gids = append(gids, int(g))
		}
	}
	sys.Cloneflags |= unix.CLONE_NEWUSER
	sys.UidMappings, sys.GidMappings = identity(uids), identity(gids)
	sys.GidMappingsEnableSetgroups = true
}

// identity maps each id to itself.
func identity(ids []int) []syscall.SysProcIDMap {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	m := make([]syscall.SysProcIDMap, len(ids))
	for i, id := range ids {
		m[i] = syscall.SysProcIDMap{ContainerID: id, HostID: id, Size: 1}
	}
	return m
}
