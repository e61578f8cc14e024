package cgroup

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestUnitOfPIDFDAfterExit finds the unit of a process through its pidfd
// after the process exited and was reaped, when /proc no longer knows it.
func TestUnitOfPIDFDAfterExit(t *testing.T) {
	m := newManager(t, ModeV2)
	g, err := m.Group("pidfd.service")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: g.fd}
	var pidfd int = -1
	cmd.SysProcAttr.PidFD = &pidfd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if pidfd < 0 {
		cmd.Wait()
		t.Skip("no pidfd from clone")
	}
	defer unix.Close(pidfd)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.UnitOf(cmd.Process.Pid); ok {
		t.Fatalf("test setup: /proc still knows reaped pid %d", cmd.Process.Pid)
	}
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), unix.PIDFD_GET_INFO, uintptr(unsafe.Pointer(&info))); e != 0 {
		t.Skipf("kernel keeps no exit information with pidfds: %v", e)
	}
	if name, ok := m.UnitOfPIDFD(pidfd); !ok || name != "pidfd.service" {
		t.Fatalf("UnitOfPIDFD after exit = %q, %v; want pidfd.service", name, ok)
	}
	// A oneshot's last message may be read after its unit stopped and
	// the group is gone: the id still names the unit.
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if name, ok := m.UnitOfPIDFD(pidfd); !ok || name != "pidfd.service" {
		t.Fatalf("UnitOfPIDFD after the group was removed = %q, %v; want pidfd.service", name, ok)
	}
}

func TestGoneGroupsBounded(t *testing.T) {
	var g goneGroups
	for id := uint64(1); id <= maxGone+10; id++ {
		g.add(id, fmt.Sprintf("u%d.service", id))
	}
	if _, ok := g.unit(5); ok {
		t.Errorf("the oldest ids are still remembered beyond %d", maxGone)
	}
	if u, ok := g.unit(maxGone + 10); !ok || u != fmt.Sprintf("u%d.service", maxGone+10) {
		t.Errorf("newest id: %q, %v", u, ok)
	}
	if len(g.units) != maxGone || len(g.order) != maxGone {
		t.Errorf("holds %d/%d entries; want %d", len(g.units), len(g.order), maxGone)
	}
}
