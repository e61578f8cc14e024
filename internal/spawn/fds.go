package spawn

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SealInheritedFDs marks every descriptor from 3 up close-on-exec, so
// descriptors tend itself inherited without O_CLOEXEC (from a leaky
// parent shell or supervisor) never reach its children; tend can still
// use them. Everything Go opens is close-on-exec already. The daemon
// calls it once at start, before spawning anything.
func SealInheritedFDs() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11: walk the descriptor table.
	ents, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("seal inherited fds: %w (close_range: %v)", rerr, err)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
