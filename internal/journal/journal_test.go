package journal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeClock is a realtime clock tests advance by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func openTest(t testing.TB, mod func(*Options)) *Journal {
	t.Helper()
	opts := Options{Dir: t.TempDir(), BootID: "11111111-2222-3333-4444-555555555555", MaxUse: 1 << 30, KeepFree: -1}
	if mod != nil {
		mod(&opts)
	}
	j, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		j.Close()
		checkNoLeaks(t)
	})
	return j
}

// checkNoLeaks fails if a goroutine of this package outlived its journal.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "journal.(*Pipe).run") || strings.Contains(g, "journal.(*dirWatch)") || strings.Contains(g, "journal.(*Journal).syncDirty") || strings.Contains(g, "journal.(*Journal).armAgeTimer") {
			t.Errorf("goroutine leaked:\n%s", g)
		}
	}
}

// collect runs q and returns copies of the entries.
func collect(t *testing.T, q interface {
	Query(context.Context, Query, func(Entry) error) error
}, qq Query) []Entry {
	t.Helper()
	var out []Entry
	err := q.Query(context.Background(), qq, func(e Entry) error {
		e.Message = bytes.Clone(e.Message)
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func messages(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Message))
	}
	return out
}

// runChild starts sh -c script with stdout on a journal pipe and waits for
// it and for the journal to store everything it wrote.
func runChild(t *testing.T, j *Journal, src Source, script string) int {
	t.Helper()
	p, err := j.Pipe(src)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout = p.W
	cmd.Stderr = p.W
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.SetPID(cmd.Process.Pid)
	p.W.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	return cmd.Process.Pid
}

func TestPipeChildLines(t *testing.T) {
	j := openTest(t, nil)
	p, err := j.Pipe(Source{Unit: "web.service", Identifier: "web", Priority: PriInfo, Facility: 3, LevelPrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `printf 'hello\n<3>bad thing\nno newline at end'`)
	cmd.Stdout = p.W
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.W.Close()
	// The child is done writing before its parent tells the journal its
	// pid, as a quick child may be; its lines must still carry the pid.
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	p.SetPID(pid)
	<-p.Done()
	got := collect(t, j, Query{})
	want := []string{"hello", "bad thing", "no newline at end"}
	if fmt.Sprint(messages(got)) != fmt.Sprint(want) {
		t.Fatalf("got %q; want %q", messages(got), want)
	}
	for i, e := range got {
		if e.Unit != "web.service" || e.Identifier != "web" || e.BootID != j.BootID() || e.Seq != uint64(i+1) {
			t.Errorf("entry %d = %+v", i, e)
		}
		if e.PID != pid {
			t.Errorf("entry %d pid %d; want %d", i, e.PID, pid)
		}
	}
	if got[1].Priority != PriErr || got[0].Priority != PriInfo {
		t.Errorf("priorities %d %d; want %d %d", got[0].Priority, got[1].Priority, PriInfo, PriErr)
	}
}

func TestReopenReadsBack(t *testing.T) {
	j := openTest(t, nil)
	runChild(t, j, Source{Unit: "a.service"}, `for i in 1 2 3; do echo a$i; done`)
	j.Append(Entry{Unit: "a.service", Stream: StreamTend, Priority: PriNotice, Message: []byte("Started a.service")})
	dir := j.Dir()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := messages(collect(t, r, Query{}))
	if want := "[a1 a2 a3 Started a.service]"; fmt.Sprint(got) != want {
		t.Fatalf("got %q; want %s", got, want)
	}
	j2, err := Open(Options{Dir: dir, BootID: "b2", KeepFree: -1, MaxUse: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	j2.Append(Entry{Unit: "a.service", Message: []byte("after reboot")})
	all := collect(t, j2, Query{})
	if len(all) != 5 || all[4].Seq != 5 || all[4].BootID != "b2" || all[0].BootID == "b2" {
		t.Fatalf("after reopen: %+v", all)
	}
	if b := collect(t, j2, Query{Boot: "b2"}); len(b) != 1 {
		t.Fatalf("boot filter: got %d entries; want 1", len(b))
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "a.service"))
	if len(entries) < 3 {
		t.Errorf("expected segments and indexes, got %v", entries)
	}
}

func TestSequenceSurvivesFullVacuum(t *testing.T) {
	j := openTest(t, nil)
	for range 3 {
		j.Append(Entry{Unit: "a.service", Message: []byte("x")})
	}
	dir := j.Dir()
	j.Close()
	if _, err := VacuumDir(dir, 1, 0); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(Options{Dir: dir, BootID: "b", KeepFree: -1, MaxUse: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	j2.Append(Entry{Unit: "a.service", Message: []byte("y")})
	got := collect(t, j2, Query{})
	if len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("after vacuum: %+v; want one entry with seq 4", got)
	}
}

func TestSecondWriterRefused(t *testing.T) {
	j := openTest(t, nil)
	if _, err := Open(Options{Dir: j.Dir(), BootID: "b", KeepFree: -1, MaxUse: 1 << 30}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v; want in-use error", err)
	}
}

func TestBoots(t *testing.T) {
	dir := t.TempDir()
	for _, boot := range []string{"first", "second", "third"} {
		j, err := Open(Options{Dir: dir, BootID: boot, KeepFree: -1, MaxUse: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		j.Append(Entry{Unit: "a.service", Message: []byte(boot)})
		j.Append(Entry{Unit: "b.service", Message: []byte(boot)})
		j.Close()
	}
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range r.Boots() {
		ids = append(ids, b.ID)
	}
	if fmt.Sprint(ids) != "[first second third]" {
		t.Fatalf("boots %v", ids)
	}
	if got := messages(collect(t, r, Query{Boot: "second"})); fmt.Sprint(got) != "[second second]" {
		t.Errorf("boot filter: %q", got)
	}
}

func TestEscapeUnit(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web.service", "web.service"}, {"getty@tty1.service", "getty@tty1.service"}, {"", "%"},
		{"a/b.service", "a%2Fb.service"}, {"..", "%2E."}, {"50%.service", "50%25.service"}, {"sp ace", "sp%20ace"},
	}
	for _, tt := range tests {
		if got := escapeUnit(tt.in); got != tt.want {
			t.Errorf("escapeUnit(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if back, ok := unescapeUnit(escapeUnit(tt.in)); !ok || back != tt.in {
			t.Errorf("unescape(escape(%q)) = %q, %v", tt.in, back, ok)
		}
	}
}

// TestIdleJournalArmsNoTimer: the sync timer exists only while written
// data awaits its fsync.
func TestIdleJournalArmsNoTimer(t *testing.T) {
	j := openTest(t, func(o *Options) { o.SyncInterval = time.Hour })
	armed := func() bool {
		j.wmu.Lock()
		defer j.wmu.Unlock()
		return j.syncTimer != nil
	}
	if armed() {
		t.Fatal("timer armed right after Open")
	}
	j.Append(Entry{Unit: "a.service", Priority: PriInfo, Message: []byte("x")})
	if !armed() {
		t.Fatal("no timer armed although data awaits fsync")
	}
	j.syncTimer.Stop() // run the sync now instead of in an hour
	j.timerWG.Done()
	j.syncDirty()
	if armed() {
		t.Fatal("timer still armed after the sync")
	}
	j.Append(Entry{Unit: "a.service", Priority: PriCrit, Message: []byte("synced at once")})
	if armed() {
		t.Error("a crit entry is synced before Append returns; no timer needed")
	}
}

// commitLines commits msgs to unit as one pipe read's run of lines does
// (batch frames): each line newline-terminated, the last one bare (at
// the pipe's end) when bare is set.
func commitLines(t testing.TB, j *Journal, unit string, msgs []string, bare bool) {
	t.Helper()
	r := rec{rt: j.opts.Clock().UnixNano(), mono: int64(j.opts.Monotonic()), pri: PriInfo, ident: []byte("lines")}
	for i, m := range msgs {
		r.msg = append(r.msg, m...)
		end := uint32(len(r.msg))
		if bare && i == len(msgs)-1 {
			end |= endBare
		} else {
			r.msg = append(r.msg, '\n')
		}
		r.ends = append(r.ends, end)
	}
	if err := j.commit(unit, []rec{r}); err != nil {
		t.Fatal(err)
	}
}
