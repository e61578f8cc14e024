package supervise

import (
	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/spawn"
)

// A saved process's start time (clock ticks after boot, as field 22 of
// /proc/PID/stat gives it) tells it from a later process with the same
// pid when a manager takes the state back. Reading it from /proc costs
// an open, a read and a close of a file the kernel renders afresh, once
// per new main process: 20-40 ms of the loop's CPU at the bring-up of a
// thousand services. The kernel takes that time (CLOCK_BOOTTIME, in
// tend's time namespace as tend reads both) during the clone, so a
// clock read before the spawn and one after it bracket it: when both
// fall in the same tick, that tick is the start time. Only when a tick
// boundary fell in between is /proc read, when the state is saved.

// ticksPerSecond is USER_HZ, the unit of /proc/PID/stat's start time
// (100 on every architecture tend runs on).
const ticksPerSecond = 100

// bootTicks is CLOCK_BOOTTIME in /proc's start-time ticks.
func bootTicks() (uint64, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0, false
	}
	return uint64(ts.Sec)*ticksPerSecond + uint64(ts.Nsec)/(1e9/ticksPerSecond), true
}

// startProcess is spawn.Start with the exit routed to the loop; it
// notes the new process's start time when the clock bracket gives it
// (note takes it from there).
func (m *Manager) startProcess(spec spawn.Spec) (int, error) {
	before, ok := bootTicks()
	pid, err := spawn.Start(m.opts.Reaper, spec, func(e reaper.Exit) { m.box.put(evExit{exit: e}) })
	if err != nil || !ok || m.opts.StateFile == "" {
		return pid, err // without a state file, no start time is ever noted
	}
	if after, ok := bootTicks(); ok && after == before {
		if m.forkTicks == nil {
			m.forkTicks = map[int]uint64{}
		}
		m.forkTicks[pid] = before
	}
	return pid, err
}

// forgetForkTicks drops the start times startProcess noted once the
// state was saved: every process started since was noted then, if it
// still mattered.
func (m *Manager) forgetForkTicks() {
	if len(m.forkTicks) > 0 {
		m.forkTicks = nil
	}
}
