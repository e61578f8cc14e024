package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crashImage writes n entries, in batch frames of three and two lines
// (the two-line ones ending without a newline) and single records, and returns the bytes of the unit's segment as a
// crash would leave them (no index, never sealed), the offsets where
// each entry's frame starts and ends, and the messages.
func crashImage(t *testing.T, n int) (seg []byte, spans [][2]int64, msgs []string) {
	t.Helper()
	j := openTest(t, nil)
	var batch []string
	sizes := []int{3, 1, 2, 1}
	for i := range n {
		m := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%7))
		batch = append(batch, m)
		msgs = append(msgs, m)
		if len(batch) == sizes[0] || i == n-1 {
			if len(batch) == 1 {
				if err := j.Append(Entry{Unit: "crash.service", Priority: PriInfo, Message: []byte(m)}); err != nil {
					t.Fatal(err)
				}
			} else {
				commitLines(t, j, "crash.service", batch, len(batch) == 2)
			}
			batch, sizes = batch[:0], append(sizes[1:], sizes[0])
		}
	}
	j.wmu.Lock()
	u := j.units["crash.service"]
	s := u.segs[len(u.segs)-1]
	path := s.path
	j.wmu.Unlock()
	seg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	decodeRange(seg[s.hdrSize:], s.hdrSize, func(r *rec) bool {
		spans = append(spans, [2]int64{r.off, r.off + int64(r.size)})
		if r.inner {
			batches++
		}
		return true
	}, nil)
	if len(spans) != n {
		t.Fatalf("decoded %d records; want %d", len(spans), n)
	}
	if n > 2 && batches == 0 {
		t.Fatal("no batch frame written")
	}
	return seg, spans, msgs
}

// reopen writes img as the only segment of a journal and reads it back.
func reopen(t *testing.T, img []byte) ([]string, []Damage) {
	t.Helper()
	dir := t.TempDir()
	ud := filepath.Join(dir, "crash.service")
	os.Mkdir(ud, 0o755)
	if err := os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), img, 0o640); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	return messages(collect(t, r, Query{})), r.Damage()
}

// TestCrashTruncation cuts the segment at every byte offset, as a power
// cut can: every record complete before the cut comes back, nothing
// else, and an incomplete tail is reported.
func TestCrashTruncation(t *testing.T) {
	seg, spans, msgs := crashImage(t, 12)
	_, hn, _ := parseSegHeader(seg)
	hdr := int64(hn)
	for cut := int64(0); cut <= int64(len(seg)); cut++ {
		got, dmg := reopen(t, seg[:cut])
		complete := 0
		for complete < len(spans) && spans[complete][1] <= cut {
			complete++
		}
		if fmt.Sprint(got) != fmt.Sprint(msgs[:complete]) {
			t.Fatalf("cut at %d: got %q; want %q", cut, got, msgs[:complete])
		}
		atBoundary := cut == hdr
		for _, sp := range spans {
			atBoundary = atBoundary || sp[1] == cut
		}
		if atBoundary != (len(dmg) == 0) {
			t.Fatalf("cut at %d (boundary %v): damage %v", cut, atBoundary, dmg)
		}
	}
}

// TestCrashCorruption flips every byte of the segment in turn: exactly the
// frame holding it is lost (a record, or every line of a batch), every
// other one comes back intact, and the damage is reported.
func TestCrashCorruption(t *testing.T) {
	seg, spans, msgs := crashImage(t, 8)
	for i := range seg {
		img := bytes.Clone(seg)
		img[i] ^= 0xa5
		got, dmg := reopen(t, img)
		var want []string
		for k, sp := range spans {
			if int64(i) < sp[0] || int64(i) >= sp[1] {
				want = append(want, msgs[k])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("byte %d flipped: got %q; want %q", i, got, want)
		}
		if len(dmg) == 0 {
			t.Fatalf("byte %d flipped: no damage reported", i)
		}
	}
}

// TestOpenAfterCrash: the writer reopens a torn journal, reports the
// damage, keeps every complete entry and continues the sequence.
func TestOpenAfterCrash(t *testing.T) {
	seg, spans, msgs := crashImage(t, 5)
	dir := t.TempDir()
	ud := filepath.Join(dir, "crash.service")
	os.Mkdir(ud, 0o755)
	os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), seg[:spans[3][1]+5], 0o640)
	j, err := Open(Options{Dir: dir, BootID: "b", KeepFree: -1, MaxUse: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if d := j.Damage(); len(d) != 1 || d[0].Reason != "torn tail" || d[0].Length != 5 {
		t.Errorf("damage %v; want one torn tail of 5 bytes", d)
	}
	if err := j.Append(Entry{Unit: "crash.service", Message: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, j, Query{})
	want := append(append([]string{}, msgs[:4]...), "after")
	if fmt.Sprint(messages(got)) != fmt.Sprint(want) {
		t.Fatalf("got %q; want %q", messages(got), want)
	}
	if last := got[len(got)-1]; last.Seq != 5 {
		t.Errorf("seq after reopen %d; want 5", last.Seq)
	}
}

// TestDamageInSealedSegment: bit rot in a sealed (indexed) segment is
// skipped at query time and reported; the other entries come back.
func TestDamageInSealedSegment(t *testing.T) {
	j := openTest(t, nil)
	for i := range 5 {
		j.Append(Entry{Priority: PriInfo, Unit: "rot.service", Message: []byte(fmt.Sprintf("entry %d", i))})
	}
	dir := j.Dir()
	j.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "rot.service", "*.seg"))
	img, _ := os.ReadFile(segs[0])
	i := bytes.Index(img, []byte("entry 2"))
	img[i] ^= 0xff
	os.WriteFile(segs[0], img, 0o640)
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(messages(collect(t, r, Query{}))); got != "[entry 0 entry 1 entry 3 entry 4]" {
		t.Fatalf("got %s", got)
	}
	if d := r.Damage(); len(d) != 1 || d[0].Reason != "corrupt record" {
		t.Errorf("damage %v; want one corrupt record", d)
	}
}

// TestReadsVersion1Segments: segments of the format before batch frames
// ("TNDJSEG1", one record per entry) still read back.
func TestReadsVersion1Segments(t *testing.T) {
	img := appendSegHeader(nil, segHeader{boot: "old", unit: "crash.service", created: 1})
	copy(img, segMagicV1) // the CRC covers the length and payload, not the magic
	for i, m := range []string{"one", "two"} {
		img = appendRecord(img, &rec{seq: uint64(i + 1), rt: 1, pri: PriInfo, ident: []byte("id"), msg: []byte(m)})
	}
	got, dmg := reopen(t, img)
	if fmt.Sprint(got) != "[one two]" || len(dmg) != 0 {
		t.Fatalf("got %q, damage %v; want [one two] and none", got, dmg)
	}
	// Left unsealed by a crash of an older tend, it is not appended to
	// (batch frames would follow records of the old format): the next
	// lines start a new segment.
	dir := t.TempDir()
	ud := filepath.Join(dir, "crash.service")
	os.Mkdir(ud, 0o755)
	os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), img, 0o640)
	j, err := Open(Options{Dir: dir, BootID: "old", KeepFree: -1, MaxUse: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	commitLines(t, j, "crash.service", []string{"three", "four"}, false)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(ud, "*.seg")); len(segs) != 2 {
		t.Errorf("%d segments; want the old one and a new one", len(segs))
	}
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(messages(collect(t, r, Query{}))); got != "[one two three four]" {
		t.Errorf("read back: %s", got)
	}
}

// TestResumeAfterCrash: the segment a crashed writer left is intact, so
// the next run appends to it instead of starting a new file; the lines
// read back in order, and Close seals it. A torn tail is not appended
// to: that segment is sealed and a new one started.
func TestResumeAfterCrash(t *testing.T) {
	seg, spans, msgs := crashImage(t, 5)
	const boot = "11111111-2222-3333-4444-555555555555" // crashImage's
	for _, tc := range []struct {
		name     string
		img      []byte
		old      []string
		wantSegs int
	}{
		{"intact", seg, msgs, 1},
		{"torn tail", seg[:spans[3][1]+5], msgs[:4], 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ud := filepath.Join(dir, "crash.service")
			os.Mkdir(ud, 0o755)
			os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), tc.img, 0o640)
			open := func() *Journal {
				j, err := Open(Options{Dir: dir, BootID: boot, KeepFree: -1, MaxUse: 1 << 30})
				if err != nil {
					t.Fatal(err)
				}
				return j
			}
			j := open()
			if err := j.Append(Entry{Unit: "crash.service", Message: []byte("after")}); err != nil {
				t.Fatal(err)
			}
			// A re-exec leaves the segment to the next process, unsealed.
			if err := j.CloseForExec(); err != nil {
				t.Fatal(err)
			}
			j = open()
			if err := j.Append(Entry{Unit: "crash.service", Message: []byte("after exec")}); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(append(append([]string{}, tc.old...), "after", "after exec"))
			got := collect(t, j, Query{})
			if fmt.Sprint(messages(got)) != want {
				t.Fatalf("got %q; want %s", messages(got), want)
			}
			for i, e := range got {
				if e.Seq != uint64(i+1) {
					t.Errorf("entry %d: seq %d; want %d", i, e.Seq, i+1)
				}
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := filepath.Glob(filepath.Join(ud, "*.seg"))
			idxs, _ := filepath.Glob(filepath.Join(ud, "*.idx"))
			if len(segs) != tc.wantSegs || len(idxs) != tc.wantSegs {
				t.Errorf("%d segments, %d indexes; want %d of each", len(segs), len(idxs), tc.wantSegs)
			}
			r, err := OpenReadOnly(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(messages(collect(t, r, Query{}))); got != want {
				t.Errorf("read back after close: %s; want %s", got, want)
			}
		})
	}
}

// TestFullSegmentNotResumed: a segment at its size limit is sealed at
// Open, and the unit's next entry starts a new one.
func TestFullSegmentNotResumed(t *testing.T) {
	seg, _, _ := crashImage(t, 3)
	dir := t.TempDir()
	ud := filepath.Join(dir, "crash.service")
	os.Mkdir(ud, 0o755)
	os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), seg, 0o640)
	j, err := Open(Options{Dir: dir, BootID: "11111111-2222-3333-4444-555555555555", KeepFree: -1,
		MaxUse: 1 << 30, MaxFileSize: int64(len(seg))})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Unit: "crash.service", Message: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(ud, "*.seg")); len(segs) != 2 {
		t.Errorf("%d segments; want 2", len(segs))
	}
}

// TestResumedSegmentSealedUnwritten: a segment left by a crash and not
// written again is still sealed at Close, and by Release.
func TestResumedSegmentSealedUnwritten(t *testing.T) {
	seg, _, _ := crashImage(t, 3)
	for _, release := range []bool{false, true} {
		dir := t.TempDir()
		ud := filepath.Join(dir, "crash.service")
		os.Mkdir(ud, 0o755)
		os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), seg, 0o640)
		j, err := Open(Options{Dir: dir, BootID: "11111111-2222-3333-4444-555555555555", KeepFree: -1, MaxUse: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		if release {
			j.Release("crash.service")
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if idxs, _ := filepath.Glob(filepath.Join(ud, "*.idx")); len(idxs) != 1 {
			t.Errorf("release %v: %d indexes after close; want 1", release, len(idxs))
		}
	}
}
