package cgroup

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UnitOfPIDFD returns the unit whose group holds the process of pidfd,
// or held it when it exited: the kernel keeps an exited task's cgroup id
// with its pidfd (PIDFD_GET_INFO, Linux 6.15 for reaped tasks), so a
// process that sent something and died at once, such as logger(1), is
// still found after /proc forgot it. Only v2 groups (or the unified
// hierarchy of a hybrid system) have the ids; a process in a sub-group
// of a unit's group is not found this way.
func (m *Manager) UnitOfPIDFD(pidfd int) (string, bool) {
	if m.mode != ModeV2 || pidfd <= 0 {
		return "", false
	}
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_CGROUPID | unix.PIDFD_INFO_EXIT}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), unix.PIDFD_GET_INFO, uintptr(unsafe.Pointer(&info))); errno != 0 {
		return "", false
	}
	if info.Mask&unix.PIDFD_INFO_CGROUPID == 0 || info.Cgroupid == 0 {
		return "", false
	}
	return m.unitOfCgroupID(info.Cgroupid)
}

// unitOfCgroupID finds the group whose directory has inode id (cgroup2
// gives a cgroup's id as its directory's inode number).
func (m *Manager) unitOfCgroupID(id uint64) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for unit, g := range m.groups {
		if g.cgid == 0 && g.dir != "" {
			if fi, err := os.Stat(g.dir); err == nil {
				g.cgid = fi.Sys().(*syscall.Stat_t).Ino
			}
		}
		if g.cgid == id {
			return unit, true
		}
	}
	return "", false
}
