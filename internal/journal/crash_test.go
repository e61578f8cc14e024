package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crashImage writes n entries and returns the bytes of the unit's segment
// as a crash would leave them (no index, never sealed), the offsets where
// each record ends, and the messages.
func crashImage(t *testing.T, n int) (seg []byte, ends []int64, msgs []string) {
	t.Helper()
	j := openTest(t, nil)
	for i := range n {
		m := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%7))
		if err := j.Append(Entry{Unit: "crash.service", Priority: PriInfo, Message: []byte(m)}); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
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
	decodeRange(seg[s.hdrSize:], s.hdrSize, func(r *rec) bool {
		ends = append(ends, r.off+int64(r.size))
		return true
	}, nil)
	if len(ends) != n {
		t.Fatalf("decoded %d records; want %d", len(ends), n)
	}
	return seg, ends, msgs
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
	seg, ends, msgs := crashImage(t, 12)
	_, hn, _ := parseSegHeader(seg)
	hdr := int64(hn)
	for cut := int64(0); cut <= int64(len(seg)); cut++ {
		got, dmg := reopen(t, seg[:cut])
		complete := 0
		for complete < len(ends) && ends[complete] <= cut {
			complete++
		}
		if fmt.Sprint(got) != fmt.Sprint(msgs[:complete]) {
			t.Fatalf("cut at %d: got %q; want %q", cut, got, msgs[:complete])
		}
		atBoundary := cut == hdr
		for _, e := range ends {
			atBoundary = atBoundary || e == cut
		}
		if atBoundary != (len(dmg) == 0) {
			t.Fatalf("cut at %d (boundary %v): damage %v", cut, atBoundary, dmg)
		}
	}
}

// TestCrashCorruption flips every byte of the segment in turn: exactly the
// record holding it is lost, every other one comes back intact, and the
// damage is reported.
func TestCrashCorruption(t *testing.T) {
	seg, ends, msgs := crashImage(t, 8)
	_, hn, _ := parseSegHeader(seg)
	for i := range seg {
		img := bytes.Clone(seg)
		img[i] ^= 0xa5
		got, dmg := reopen(t, img)
		var want []string
		for k, e := range ends {
			start := int64(hn)
			if k > 0 {
				start = ends[k-1]
			}
			if int64(i) < start || int64(i) >= e {
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
	seg, ends, msgs := crashImage(t, 5)
	dir := t.TempDir()
	ud := filepath.Join(dir, "crash.service")
	os.Mkdir(ud, 0o755)
	os.WriteFile(filepath.Join(ud, "0000000000000001-0000000000000001.seg"), seg[:ends[3]+5], 0o640)
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

// TestResumeAfterCrash: the segment a crashed writer left is intact, so
// the next run appends to it instead of starting a new file; the lines
// read back in order, and Close seals it. A torn tail is not appended
// to: that segment is sealed and a new one started.
func TestResumeAfterCrash(t *testing.T) {
	seg, ends, msgs := crashImage(t, 5)
	const boot = "11111111-2222-3333-4444-555555555555" // crashImage's
	for _, tc := range []struct {
		name     string
		img      []byte
		old      []string
		wantSegs int
	}{
		{"intact", seg, msgs, 1},
		{"torn tail", seg[:ends[3]+5], msgs[:4], 2},
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
