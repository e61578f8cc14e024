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
	info, err := pidfdInfo(pidfd)
	if err != nil {
		return "", false
	}
	if info.Mask&unix.PIDFD_INFO_CGROUPID == 0 || info.Cgroupid == 0 {
		return "", false
	}
	return m.unitOfCgroupID(info.Cgroupid)
}

// pidfdInfo asks for the cgroup id of pidfd's process, or of its exit.
// The kernel can answer ESRCH when the process is reaped during the call
// (it checks the pid last): asked again, it gives the exit's, which it
// kept before the reap. A sender reaped by its parent just as tend reads
// its datagram, as a shell does its logger(1), is then still found.
func pidfdInfo(pidfd int) (info unix.PidfdInfo, err error) {
	for range 3 {
		info = unix.PidfdInfo{Mask: unix.PIDFD_INFO_CGROUPID | unix.PIDFD_INFO_EXIT}
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), unix.PIDFD_GET_INFO, uintptr(unsafe.Pointer(&info)))
		if errno == 0 {
			return info, nil
		}
		if err = errno; errno != unix.ESRCH {
			break
		}
	}
	return info, err
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
	return m.gone.unit(id)
}

// noteID records the group's cgroup id while its directory still exists,
// so that a message a process sent just before its unit's group was
// removed is still attributed (gone).
func (g *Group) noteID() {
	if g.fd < 0 {
		return
	}
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	if g.cgid != 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(g.fd, &st) == nil {
		g.cgid = st.Ino
	}
}

// goneGroups remembers the ids of the most recently removed groups; the
// kernel never reuses a cgroup id, so an old entry cannot misattribute.
type goneGroups struct {
	units map[uint64]string
	order []uint64
}

// maxGone bounds goneGroups: enough for every unit of a large system to
// stop at once while its last messages are still queued.
const maxGone = 4096

func (g *goneGroups) add(id uint64, unit string) {
	if id == 0 {
		return
	}
	if g.units == nil {
		g.units = map[uint64]string{}
	}
	if len(g.order) >= maxGone {
		delete(g.units, g.order[0])
		g.order = g.order[1:]
	}
	g.units[id] = unit
	g.order = append(g.order, id)
}

func (g *goneGroups) unit(id uint64) (string, bool) {
	u, ok := g.units[id]
	return u, ok
}
