package journal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openUnder lists this process's descriptors open on files under dir.
func openUnder(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		link := filepath.Join("/proc/self/fd", e.Name())
		l, err := os.Readlink(link)
		if err != nil || !strings.HasPrefix(l, dir+"/") {
			continue
		}
		// Only the writer's: a follower or query may hold the same
		// segment open for reading meanwhile. The link's mode bits
		// carry the descriptor's access mode.
		if fi, err := os.Lstat(link); err == nil && fi.Mode().Perm()&0o200 != 0 {
			out = append(out, l)
		}
	}
	return out
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
