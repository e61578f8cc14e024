package supervise

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/procfs"
)

// TestStartTimeFromSpawnBracket: the start times saved for new main
// processes are the kernel's (/proc/PID/stat), though the manager's own
// /proc is an empty directory here: they come from the clock read around
// each spawn. A start whose bracket crossed a tick falls back to /proc
// (0 here). How many brackets cross a tick depends on the machine's load
// (a spawn preempted for a time slice crosses one), so the test restarts
// the units whose start time is unknown until a bracket has given one
// (the event it awaits), and checks that no saved start time is ever
// wrong. The hit rate is a speed figure, not this test's business.
func TestStartTimeFromSpawnBracket(t *testing.T) {
	const n, rounds = 8, 50
	files := map[string]string{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("s%d.service", i)
		files[name] = "[Service]\nExecStart=/bin/sleep 1000\n"
		names = append(names, name)
	}
	h := newHarness(t, files)
	ctx := context.Background()
	if err := h.m.do(ctx, func() {
		h.m.opts.StateFile = filepath.Join(h.dir, "state.json")
		h.m.opts.Proc = t.TempDir() // no process in it: procStart reads nothing
		h.m.proc = nil
	}); err != nil {
		t.Fatal(err)
	}
	real := procfs.New("/proc").NewReader()
	kind, known := plan.Start, 0
	for round := 0; round < rounds && known == 0; round++ {
		h.job(kind, names...)
		kind = plan.Restart
		var saved SavedState
		if err := h.m.do(ctx, func() { saved = h.m.saveAll() }); err != nil {
			t.Fatal(err)
		}
		if len(saved.Units) < n {
			t.Errorf("saved %d units; want %d", len(saved.Units), n)
		}
		for _, name := range names {
			if bracketed(t, h, real, name) {
				known++
			}
		}
	}
	if known == 0 {
		t.Errorf("no start time known without /proc after %d rounds of %d starts", rounds, n)
	}
}

// bracketed reports whether name's main process has a start time saved
// from the spawn's clock bracket; it fails the test if that time is not
// the kernel's.
func bracketed(t *testing.T, h *harness, real *procfs.Reader, name string) bool {
	t.Helper()
	svc := svcOf(t, h.m, name)
	var pid int
	var ticks uint64
	h.m.do(context.Background(), func() { pid, ticks = svc.mainPID, svc.mainStart.of(svc.mainPID) })
	st, err := real.Stat(pid)
	if err != nil {
		t.Fatalf("%s: main process %d: %v", name, pid, err)
	}
	switch ticks {
	case st.StartTime:
		return true
	case 0: // the bracket crossed a tick
	default:
		t.Errorf("%s: saved start time %d; the kernel's is %d", name, ticks, st.StartTime)
	}
	return false
}
