package daemon

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"

	"github.com/tendproject/tend/internal/gcpace"
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

// trimJobs is how many jobs a client's request must have run for the
// daemon to trim after it, as it does after boot and daemon-reload: a
// request that started or stopped a hundred units leaves their
// transaction, jobs and state-file encoding as garbage in pages an idle
// daemon would keep resident until its heap grows back into them, and
// the full collection costs it a few milliseconds once; `tend start foo`
// is spared it.
const trimJobs = 64

// bootGCPercent is the collector's target (GOGC) while tend starts: the
// heap grows from nothing to every unit, its plan and the first
// transaction, and at the default of 100 the collector runs again at
// each doubling, a tenth of the CPU spent before the first service
// forks. Boot ends with trimMemory, which collects and returns the pages
// to the kernel: the idle daemon's memory is the same either way.
const bootGCPercent = 400

// gcPercent is the pace after boot, GOGC's default.
const gcPercent = 100

// raiseGCForBoot sets bootGCPercent, through the pacer when tend paces
// the collector (gcpace), else unless GOGC set it off or higher, and
// returns what restores the setting, safe to call more than once.
func raiseGCForBoot(pacer *gcpace.Pacer) func() {
	if pacer != nil {
		pacer.SetPercent(bootGCPercent)
		return sync.OnceFunc(func() { pacer.SetPercent(gcPercent) })
	}
	old := debug.SetGCPercent(bootGCPercent)
	if old < 0 || old >= bootGCPercent {
		debug.SetGCPercent(old)
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(func() { debug.SetGCPercent(old) }) }
}

// writeHeapProfile writes the heap profile to path, replacing it, and
// its text form with the runtime's memory statistics (how much of the
// heap's spans is live, free or returned: what PSS alone cannot tell)
// to path.txt.
func writeHeapProfile(path string) error {
	// The profile shows the heap as of the last complete collection
	// cycle but one: a second collection makes it the trim's. The heap
	// right after it is the live heap (HeapAlloc in the text counts what
	// writing the profile allocated too).
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, out := range []struct {
		path  string
		debug int
	}{{path, 0}, {path + ".txt", 1}} {
		f, err := os.Create(out.path)
		if err != nil {
			return fmt.Errorf("cannot write heap profile: %w", err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, out.debug); err != nil {
			f.Close()
			return fmt.Errorf("cannot write heap profile %s: %w", out.path, err)
		}
		if out.debug > 0 {
			fmt.Fprintf(f, "# HeapLive = %d\n", ms.HeapAlloc)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
