package daemon

import (
	"runtime/debug"

	"github.com/tendproject/tend/internal/memtrim"
	"golang.org/x/sys/unix"
)

// trimMemory gives back what boot used and idle running does not: free
// heap pages, and the pages of tend's own executable that are mapped but
// no longer touched (parsing, planning, start-up code). The kernel keeps
// the executable in its page cache, so code needed later comes back with a
// minor fault; nothing is lost, only the resident set of an idle daemon
// shrinks to what it uses. Called when the boot target is reached and
// after every daemon-reload.
func trimMemory() {
	debug.FreeOSMemory()
	memtrim.Executable(unix.MADV_PAGEOUT)
}
