package journal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openUnder lists this process's descriptors open for writing on
// segments under dir (not the sealer's index files, written meanwhile).
func openUnder(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		// Only the writer's: a follower, a query or the sealer may hold
		// the same segment open for reading meanwhile. fdinfo's flags
		// carry the descriptor's access mode; its inode number, checked
		// against the link's target, proves both describe one file (the
		// sealer closes and opens descriptors as this runs).
		flags, ino, ok := fdInfo(filepath.Join("/proc/self/fdinfo", e.Name()))
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if !ok || err != nil || !strings.HasPrefix(l, dir+"/") || !strings.HasSuffix(l, ".seg") || flags&3 == 0 {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(l, &st) == nil && st.Ino == ino {
			out = append(out, l)
		}
	}
	return out
}

// fdInfo reads a descriptor's open flags and inode number from its
// fdinfo file.
func fdInfo(path string) (flags, ino uint64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "flags":
			flags, err = strconv.ParseUint(strings.TrimSpace(v), 8, 64)
		case "ino":
			ino, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		default:
			continue
		}
		if err != nil {
			return 0, 0, false
		}
		n++
	}
	return flags, ino, n == 2
}

func TestReleaseClosesSegment(t *testing.T) {
	j := openTest(t, nil)
	const unit = "foo@1-127.0.0.1:80-127.0.0.1:4242.service"
	udir := filepath.Join(j.Dir(), escapeUnit(unit))
	add := func(msg string) {
		t.Helper()
		if err := j.Append(Entry{Unit: unit, Message: []byte(msg)}); err != nil {
			t.Fatal(err)
		}
	}
	// A follower started before the release sees every entry after it.
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(ctx, Query{Units: []string{unit}}, func(e Entry) error {
			followed <- string(e.Message)
			return nil
		})
	}()
	defer cancel()
	add("one")
	add("two")
	if open := openUnder(t, udir); len(open) != 1 {
		t.Fatalf("before Release: open under the unit's directory: %q; want its segment", open)
	}
	j.Release(unit)
	if open := openUnder(t, udir); len(open) != 0 {
		t.Fatalf("after Release: still open: %q", open)
	}
	if got := messages(collect(t, j, Query{Units: []string{unit}})); fmt.Sprint(got) != "[one two]" {
		t.Fatalf("query after Release: %q", got)
	}

	// A late line reopens the unit; the release of a unit whose pipe is
	// still read waits for the pipe's end, and keeps its lines.
	add("three")
	p, err := j.Pipe(Source{Unit: unit})
	if err != nil {
		t.Fatal(err)
	}
	j.Release(unit)
	cmd := exec.Command("/bin/sh", "-c", "echo four; echo five")
	cmd.Stdout = p.W
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.SetPID(cmd.Process.Pid)
	p.W.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if open := openUnder(t, udir); len(open) != 0 {
		t.Fatalf("after the pipe's end: still open: %q", open)
	}
	add("six")
	want := "[one two three four five six]"
	all := collect(t, j, Query{Units: []string{unit}})
	if got := messages(all); fmt.Sprint(got) != want {
		t.Fatalf("query: %q; want %s", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("sequence not increasing: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}

	var seen []string
	for len(seen) < len(all) {
		select {
		case m := <-followed:
			seen = append(seen, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("follow saw only %q", seen)
		}
	}
	if fmt.Sprint(seen) != want {
		t.Errorf("follow saw %q; want %s", seen, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow: %v", err)
	}

	// Released segments are sealed like rotated ones: a reopen finds
	// every entry and no damage.
	dir := j.Dir()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the sealer: every segment has its index.
	segs, _ := filepath.Glob(filepath.Join(udir, "*.seg"))
	for _, s := range segs {
		if _, err := os.Stat(indexPath(s)); err != nil {
			t.Errorf("segment %s not sealed at Close: %v", filepath.Base(s), err)
		}
	}
	if len(segs) < 2 {
		t.Errorf("%d segments; want one per release at least", len(segs))
	}
	j2, err := Open(Options{Dir: dir, BootID: "b2", KeepFree: -1, MaxUse: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if d := j2.Damage(); len(d) != 0 {
		t.Errorf("damage after reopen: %+v", d)
	}
	if got := messages(collect(t, j2, Query{Units: []string{unit}})); fmt.Sprint(got) != want {
		t.Fatalf("after reopen: %q; want %s", got, want)
	}
}
