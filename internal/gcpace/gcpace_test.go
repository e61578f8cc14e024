package gcpace

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestPacerFollowsLiveHeap: with the pacer on, GOGC is off, and after a
// collection the memory limit leaves the live heap room to double;
// Stop puts GOGC and the limit back.
func TestPacerFollowsLiveHeap(t *testing.T) {
	paced := make(chan uint64, 1)
	p := start(100, paced)
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GC percent with the pacer on = %d; want -1 (off)", got)
	}
	const live = 64 << 20
	keep := make([]byte, live)
	for i := range keep {
		keep[i] = 1
	}
	l := collectUntil(paced, func(l uint64) bool { return l >= 2*live })
	if l < 2*live {
		t.Errorf("limit after a collection with %d MiB live = %d MiB; want at least %d MiB", live>>20, l>>20, 2*live>>20)
	}
	if got := debug.SetMemoryLimit(-1); got < 2*live {
		t.Errorf("memory limit = %d MiB; want at least %d MiB", got>>20, 2*live>>20)
	}
	runtime.KeepAlive(keep)
	keep = nil
	if l2 := collectUntil(paced, func(l2 uint64) bool { return l2 < l-live }); l2 >= l-live {
		t.Errorf("limit after the %d MiB went = %d MiB; want it lower by about as much than %d MiB", live>>20, l2>>20, l>>20)
	}
	p.Stop()
	drain(paced) // limits set before Stop; none can be sent after it
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after Stop = %d; want 100 back", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit after Stop = %d; want none", got)
	}
	runtime.GC()
	select {
	case <-paced:
		t.Error("the pacer set a limit after Stop")
	default:
	}
}

// collectUntil runs collections until the pacer reports a limit that
// meets want, or a few have run: a collection the runtime started on
// its own may have left its limit in the channel, so the first value
// read need not be the one of the collection just asked for.
func collectUntil(paced <-chan uint64, want func(uint64) bool) uint64 {
	var l uint64
	for range 5 {
		runtime.GC()
		if l = <-paced; want(l) {
			break
		}
	}
	return l
}

func drain(c <-chan uint64) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func TestStartLeavesOperatorSettings(t *testing.T) {
	t.Setenv("GOGC", "50")
	if p := Start(100); p != nil {
		p.Stop()
		t.Fatal("Start took over though GOGC is set")
	}
}

// TestSetPercentRaisesLimit: a higher percentage gives the heap more
// room at once (boot's pace), and going back lowers it again.
func TestSetPercentRaisesLimit(t *testing.T) {
	p := start(100, nil)
	defer p.Stop()
	const live = 64 << 20
	keep := make([]byte, live)
	for i := range keep {
		keep[i] = 1
	}
	runtime.GC()
	l100 := int64(p.limit())
	p.SetPercent(400)
	l400 := debug.SetMemoryLimit(-1)
	if l400 < l100+2*live {
		t.Errorf("limit at 400 %% = %d MiB; want at least %d MiB more than at 100 %% (%d MiB)", l400>>20, 2*live>>20, l100>>20)
	}
	p.SetPercent(100)
	if l := debug.SetMemoryLimit(-1); l >= l400 {
		t.Errorf("limit back at 100 %% = %d MiB; want below %d MiB", l>>20, l400>>20)
	}
	runtime.KeepAlive(keep)
}
