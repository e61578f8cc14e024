package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// segFiles lists the segment files of unit's directory under dir.
func segFiles(t *testing.T, dir, unit string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, escapeUnit(unit), "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// Prepare makes the directory and segment the first entry then only
// writes to; entries of other units in between keep their order, and a
// prepared unit that never logs leaves a journal that reopens cleanly.
func TestPrepareMakesFirstSegment(t *testing.T) {
	j := openTest(t, nil)
	dir := j.Dir()
	j.Prepare("p.service")
	j.Prepare("silent.service")
	made := segFiles(t, dir, "p.service")
	if len(made) != 1 {
		t.Fatalf("after Prepare: segments %v; want one", made)
	}
	j.Append(Entry{Unit: "a.service", Message: []byte("a1")})
	j.Append(Entry{Unit: "p.service", Message: []byte("p1")})
	j.Append(Entry{Unit: "a.service", Message: []byte("a2")})
	if got := segFiles(t, dir, "p.service"); fmt.Sprint(got) != fmt.Sprint(made) {
		t.Fatalf("first entry made another segment: %v; prepared %v", got, made)
	}
	fi, err := os.Stat(made[0])
	if err != nil || fi.Size() <= 0 {
		t.Fatalf("prepared segment: %v, %v", fi, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := messages(collect(t, r, Query{})); fmt.Sprint(got) != "[a1 p1 a2]" {
		t.Fatalf("read back %q; want [a1 p1 a2]", got)
	}
}

// A Prepare after the unit's first entry leaves its segment alone.
func TestPrepareAfterEntryKeepsSegment(t *testing.T) {
	j := openTest(t, nil)
	j.Append(Entry{Unit: "a.service", Message: []byte("a1")})
	before := segFiles(t, j.Dir(), "a.service")
	j.Prepare("a.service")
	j.Append(Entry{Unit: "a.service", Message: []byte("a2")})
	if after := segFiles(t, j.Dir(), "a.service"); len(before) != 1 || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("segments %v, then %v; want one and the same", before, after)
	}
	if got := messages(collect(t, j, Query{})); fmt.Sprint(got) != "[a1 a2]" {
		t.Fatalf("got %q", got)
	}
}
