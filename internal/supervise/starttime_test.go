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
// (0 here), so all but a few must be known, and none may be wrong.
func TestStartTimeFromSpawnBracket(t *testing.T) {
	const n = 8
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
	h.job(plan.Start, names...)
	real := procfs.New("/proc").NewReader()
	var saved SavedState
	if err := h.m.do(ctx, func() { saved = h.m.saveAll() }); err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, name := range names {
		svc := svcOf(t, h.m, name)
		var pid int
		var ticks uint64
		h.m.do(ctx, func() { pid, ticks = svc.mainPID, svc.mainStart.of(svc.mainPID) })
		st, err := real.Stat(pid)
		if err != nil {
			t.Fatalf("%s: main process %d: %v", name, pid, err)
		}
		switch ticks {
		case st.StartTime:
			known++
		case 0: // the bracket crossed a tick
		default:
			t.Errorf("%s: saved start time %d; the kernel's is %d", name, ticks, st.StartTime)
		}
	}
	if len(saved.Units) < n {
		t.Errorf("saved %d units; want %d", len(saved.Units), n)
	}
	if known < n/2 {
		t.Errorf("%d of %d start times known without /proc; want most", known, n)
	}
}
