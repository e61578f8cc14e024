package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPerUnitFairness: a chatty unit over the global limit loses its own
// oldest segments; a quiet unit keeps all of its history.
func TestPerUnitFairness(t *testing.T) {
	j := openTest(t, func(o *Options) {
		o.MaxFileSize, o.MaxUse, o.PerUnitMaxUse = 8<<10, 64<<10, 1<<30
	})
	for i := range 5 {
		j.Append(Entry{Priority: PriInfo, Unit: "quiet.service", Message: []byte(fmt.Sprintf("quiet %d", i))})
	}
	// Seal the quiet unit's segment so it is eligible for removal.
	j.wmu.Lock()
	j.units["quiet.service"].sealLocked()
	j.wmu.Unlock()
	line := strings.Repeat("x", 200)
	for i := range 2000 {
		j.Append(Entry{Priority: PriInfo, Unit: "chatty.service", Message: []byte(fmt.Sprintf("%d %s", i, line))})
	}
	if got := messages(collect(t, j, Query{Units: []string{"quiet"}})); len(got) != 5 {
		t.Fatalf("quiet unit lost history: %q", got)
	}
	chatty := collect(t, j, Query{Units: []string{"chatty"}})
	if len(chatty) == 2000 || len(chatty) == 0 {
		t.Fatalf("chatty unit kept %d of 2000 lines; want its oldest dropped", len(chatty))
	}
	if !strings.HasPrefix(string(chatty[len(chatty)-1].Message), "1999 ") {
		t.Errorf("newest chatty line missing: %q", chatty[len(chatty)-1].Message)
	}
	use, _ := j.DiskUsage()
	if use > 64<<10+8<<10+2*(8<<10) {
		t.Errorf("disk usage %d far above MaxUse", use)
	}
}

func TestPerUnitLimit(t *testing.T) {
	j := openTest(t, func(o *Options) { o.MaxFileSize, o.PerUnitMaxUse = 4<<10, 16<<10 })
	for i := range 1000 {
		j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte(fmt.Sprintf("%04d %s", i, strings.Repeat("y", 100)))})
	}
	var n int64
	j.wmu.Lock()
	for _, s := range j.units["a.service"].segs {
		n += segBytes(s)
	}
	j.wmu.Unlock()
	if n > 16<<10+4<<10+512 {
		t.Errorf("unit uses %d bytes; limit 16 KiB plus one segment", n)
	}
}

func TestMaxAgeAndVacuum(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	j := openTest(t, func(o *Options) { o.MaxFileSize = 2 << 10; o.Clock = clk.now; o.MaxAge = 24 * time.Hour })
	for i := range 100 {
		j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte(fmt.Sprintf("old %d %s", i, strings.Repeat("z", 60)))})
	}
	clk.t = clk.t.Add(48 * time.Hour)
	for i := range 100 {
		j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte(fmt.Sprintf("new %d %s", i, strings.Repeat("z", 60)))})
	}
	for _, e := range collect(t, j, Query{}) {
		if strings.HasPrefix(string(e.Message), "old") && e.Realtime.Before(clk.t.Add(-24*time.Hour)) {
			// Only the segment that was active across the jump may remain.
			if e.Seq < 90 {
				t.Fatalf("entry %d older than MaxAge survived", e.Seq)
			}
		}
	}
	before, _ := j.DiskUsage()
	freed, err := j.Vacuum(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := j.DiskUsage()
	if freed == 0 || after != before-freed {
		t.Errorf("vacuum freed %d: usage %d -> %d", freed, before, after)
	}
	if got := collect(t, j, Query{}); len(got) == 0 || !strings.HasPrefix(string(got[len(got)-1].Message), "new 99") {
		t.Errorf("vacuum removed the active segment")
	}
}

func TestVacuumDirRefusesLiveJournal(t *testing.T) {
	j := openTest(t, nil)
	if _, err := VacuumDir(j.Dir(), 1, 0); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("VacuumDir on a live journal: %v", err)
	}
	dir := j.Dir()
	j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte("x")})
	j.Close()
	if _, err := VacuumDir(dir, 1, 0); err != nil {
		t.Fatal(err)
	}
}

// TestDiskFull fills a small tmpfs: writes fail with a clear error, the
// journal keeps working without trying a write per line, and once space
// is back it says exactly how many lines were lost.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v)", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	filler := filepath.Join(dir, "filler")
	os.WriteFile(filler, make([]byte, 200<<10), 0o600)
	j, err := Open(Options{Dir: filepath.Join(dir, "j"), BootID: "b", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var failed int
	var firstErr error
	for i := range 1000 {
		if err := j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte(fmt.Sprintf("%d %s", i, strings.Repeat("d", 200)))}); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if failed == 0 || !strings.Contains(firstErr.Error(), syscall.ENOSPC.Error()) {
		t.Fatalf("%d appends failed, first error %v; want no-space errors", failed, firstErr)
	}
	os.Remove(filler)
	// The retry timer writes the report once there is room.
	want := fmt.Sprintf("journal: %d log lines were lost: ", failed)
	waitFor(t, j, func(got []string) bool { return len(got) > 0 && strings.HasPrefix(got[len(got)-1], want) })
	if err := j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte("space again")}); err != nil {
		t.Fatal(err)
	}
	got := messages(collect(t, j, Query{}))
	if got[len(got)-1] != "space again" || !strings.Contains(got[len(got)-2], "no space left on device") {
		t.Fatalf("last entries %q; want the report with its cause, then the new line", got[len(got)-2:])
	}
	if len(got) != 1000-failed+2 {
		t.Errorf("%d entries; want %d stored + 2", len(got), 1000-failed)
	}
}

// waitFor waits, commit by commit, until ok holds for the journal's
// messages (at most 20 s).
func waitFor(t *testing.T, j *Journal, ok func([]string) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		ch := j.changed()
		if got := messages(collect(t, j, Query{})); ok(got) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out; last entries: %q", tail(messages(collect(t, j, Query{})), 3))
		}
	}
}

func tail(s []string, n int) []string { return s[max(len(s)-n, 0):] }

// TestAgeTimer: with MaxAge, one timer is armed to the oldest sealed
// segment's expiry; when it fires (run here directly) that segment goes.
func TestAgeTimer(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	j := openTest(t, func(o *Options) { o.MaxFileSize = 1 << 10; o.Clock = clk.now; o.MaxAge = time.Hour })
	armed := func() bool {
		j.wmu.Lock()
		defer j.wmu.Unlock()
		return j.ageTimer != nil
	}
	j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte("first")})
	if armed() {
		t.Fatal("age timer armed without sealed segments")
	}
	for i := range 30 {
		j.Append(Entry{Priority: PriInfo, Unit: "a.service", Message: []byte(fmt.Sprintf("%d %s", i, strings.Repeat("o", 100)))})
	}
	if !armed() {
		t.Fatal("no age timer although sealed segments exist")
	}
	clk.t = clk.t.Add(2 * time.Hour)
	j.enforceRetention() // what the timer does when it fires
	if got := messages(collect(t, j, Query{})); len(got) > 0 && got[0] == "first" {
		t.Errorf("expired segment kept: %q", got[0])
	}
}
