package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
)

// A panic in one of the daemon's goroutines must not take the services
// down (docs/design.md, "Crash and re-exec"). The API server recovers
// its handlers itself (internal/api): one request fails, tend goes on.
// Anywhere else — the manager loop, the reaper, the servers — the
// state a goroutine owned may be half changed, so tend does not carry
// on with it: it execs its binary in place, as after a crash, but
// without one. The new process image has the same pid (the services
// stay its children), takes back the units from the state file written
// after the last complete event batch, and its pipes and listeners from
// the fd holder, exactly as a `tend run` after kill -9 does.

// panicEnv counts the panics that led to a restart in place, so a
// panic at every start does not loop for ever.
const panicEnv = "TEND_PANIC_RESTARTS"

// maxPanicRestarts bounds the restarts in place of one tend.
const maxPanicRestarts = 5

// guard is deferred at the top of every goroutine the daemon owns: a
// panic there is logged with its stack and ends in a restart in place.
func (d *daemon) guard(name string) {
	v := recover()
	if v == nil {
		return
	}
	d.log.Error("panic; restarting tend in place, the services keep running", "goroutine", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	err := d.restartInPlace()
	// Still here: die as a crash would. The services run on and the fd
	// holder keeps their pipes for the next start.
	panic(fmt.Sprintf("%v (restart in place failed: %v)", v, err))
}

// onPanic is the hook of the parts that recover their goroutines'
// panics themselves (the journal's pipe reader).
func (d *daemon) onPanic(name string, v any) {
	defer d.guard(name)
	panic(v)
}

// restartInPlace execs tend's binary with its own arguments; it returns
// only on failure.
func (d *daemon) restartInPlace() error {
	if d.shuttingDown.Load() {
		// A new tend would take the units back and run them on: the
		// stop asked for would be undone.
		return errors.New("tend was shutting down")
	}
	n := d.panics + 1
	if n > maxPanicRestarts {
		return fmt.Errorf("%d restarts in place already", d.panics)
	}
	env := append(os.Environ(), fmt.Sprintf("%s=%d", panicEnv, n))
	var errs []error
	for _, path := range []string{d.exe, "/proc/self/exe"} {
		if path != "" {
			errs = append(errs, syscall.Exec(path, os.Args, env))
		}
	}
	return errors.Join(errs...)
}

// panicRestarts takes the count of restarts in place from the
// environment, where no service sees it.
func panicRestarts() int {
	n := 0
	if v, ok := os.LookupEnv(panicEnv); ok {
		_, _ = fmt.Sscan(v, &n)
		os.Unsetenv(panicEnv)
	}
	return n
}

// injectPanic is the test hook behind `tend run --debug-panic-hook`:
// a panic in the manager loop ("loop") or in the API handler that asked
// ("api"). Without the flag the route does not exist.
func (d *daemon) injectPanic(ctx context.Context, where string) error {
	switch where {
	case "loop":
		return d.mgr.InjectPanic(ctx)
	case "api":
		panic("injected panic in an API handler (--debug-panic-hook)")
	}
	return fmt.Errorf("panic where? %q (loop or api)", where)
}
