package journal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLongLineSplitAndMarked(t *testing.T) {
	j := openTest(t, nil)
	const size = 10 << 20
	runChild(t, j, Source{Unit: "big.service"}, fmt.Sprintf(`head -c %d /dev/zero | tr '\0' a; echo; echo after`, size))
	got := collect(t, j, Query{})
	lineMax := j.opts.LineMax
	wantParts := (size + lineMax - 1) / lineMax
	if len(got) != wantParts+1 {
		t.Fatalf("got %d entries; want %d parts and one more line", len(got), wantParts)
	}
	var joined []byte
	for i, e := range got[:wantParts] {
		if e.Partial != (i < wantParts-1) {
			t.Errorf("part %d: Partial=%v", i, e.Partial)
		}
		if len(e.Message) > lineMax {
			t.Errorf("part %d has %d bytes > LineMax %d", i, len(e.Message), lineMax)
		}
		joined = append(joined, e.Message...)
	}
	if !bytes.Equal(joined, bytes.Repeat([]byte("a"), size)) {
		t.Errorf("parts do not join to the original line (%d bytes)", len(joined))
	}
	if last := got[wantParts]; string(last.Message) != "after" || last.Partial {
		t.Errorf("line after the long one: %+v", last)
	}
}

func TestBinaryAndNULPreserved(t *testing.T) {
	j := openTest(t, nil)
	runChild(t, j, Source{Unit: "bin.service"}, `printf 'a\000b\n\377\376\001garbage\n\n'`)
	got := collect(t, j, Query{})
	want := [][]byte{[]byte("a\x00b"), []byte("\xff\xfe\x01garbage"), {}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Message, want[i]) {
			t.Errorf("entry %d = %q; want %q", i, got[i].Message, want[i])
		}
	}
}

func TestStderrAndGrandchildHoldingPipe(t *testing.T) {
	j := openTest(t, nil)
	p, err := j.Pipe(Source{Unit: "g.service", Stream: StreamStderr})
	if err != nil {
		t.Fatal(err)
	}
	// The child exits at once; its grandchild keeps the pipe and writes
	// after a signal from us, so the reader must outlive the child.
	fifo := t.TempDir() + "/go"
	unix.Mkfifo(fifo, 0o600)
	pr, pw, _ := os.Pipe()
	attr := &os.ProcAttr{Files: []*os.File{nil, pw, p.W}}
	proc, err := os.StartProcess("/bin/sh", []string{"sh", "-c", `echo child >&2; (read x < ` + fifo + `; echo grandchild >&2) & echo $! ; exit 0`}, attr)
	if err != nil {
		t.Fatal(err)
	}
	p.SetPID(proc.Pid)
	p.W.Close()
	pw.Close()
	var gpid int
	fmt.Fscan(pr, &gpid)
	if _, err := proc.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		t.Fatal("reader stopped while the grandchild still holds the pipe")
	default:
	}
	os.WriteFile(fifo, []byte("go\n"), 0) // releases the grandchild
	<-p.Done()
	got := collect(t, j, Query{})
	if fmt.Sprint(messages(got)) != "[child grandchild]" || got[0].Stream != StreamStderr {
		t.Fatalf("got %q (stream %v)", messages(got), got[0].Stream)
	}
}

// TestBackpressure: while the store is stalled the producer blocks on a
// full pipe; once it resumes every line arrives.
func TestBackpressure(t *testing.T) {
	stall := make(chan struct{})
	j := openTest(t, nil)
	var stalled bool
	j.beforeWrite = func() {
		if !stalled {
			stalled = true
			<-stall
		}
	}
	p, err := j.Pipe(Source{Unit: "fast.service", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	capacity, _ := unix.FcntlInt(p.W.Fd(), unix.F_GETPIPE_SZ, 0)
	// A duplicate to watch the pipe's fill level while the producer owns
	// (and at the end closes) p.W; closed before the store resumes.
	probe, err := unix.Dup(int(p.W.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	data := lineBlock(40000) // ~4 MiB, far beyond pipe and read buffer
	wrote := make(chan error)
	go func() {
		_, err := p.W.Write(data)
		p.W.Close()
		wrote <- err
	}()
	// The kernel has no event for "pipe full"; poll until it is.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, _ := unix.IoctlGetInt(probe, unix.TIOCINQ)
		if n >= capacity {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipe never filled (%d of %d bytes)", n, capacity)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-wrote:
		t.Fatal("producer finished although the store is stalled")
	default:
	}
	unix.Close(probe)
	close(stall)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	got := collect(t, j, Query{})
	if len(got) != 40000 {
		t.Fatalf("stored %d lines; want 40000", len(got))
	}
	if !bytes.Equal(append(got[39999].Message, '\n'), data[len(data)-len(got[39999].Message)-1:]) {
		t.Errorf("last line %q", got[39999].Message)
	}
}

func TestRateLimitCountsSuppressed(t *testing.T) {
	var mono time.Duration
	j := openTest(t, func(o *Options) {
		o.RateLimitBurst, o.RateLimitInterval = 5, time.Hour
		o.Monotonic = func() time.Duration { mono += time.Second; return mono }
	})
	runChild(t, j, Source{Unit: "chatty.service"}, `i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); done`)
	got := messages(collect(t, j, Query{}))
	if len(got) != 6 || got[5] != "Suppressed 15 messages from chatty.service" || got[4] != "line 4" {
		t.Fatalf("got %q", got)
	}
}

func TestLevelPrefix(t *testing.T) {
	tests := []struct {
		in       string
		val, len int
	}{
		{"<3>x", 3, 3}, {"<7>", 7, 3}, {"<30>x", 30, 4}, {"<191>x", 191, 5}, {"<192>x", 0, 0},
		{"<>x", 0, 0}, {"<a>x", 0, 0}, {"3>x", 0, 0}, {"<3", 0, 0}, {"<1234>", 0, 0}, {"", 0, 0},
	}
	for _, tt := range tests {
		if v, n := levelPrefix([]byte(tt.in)); v != tt.val || n != tt.len {
			t.Errorf("levelPrefix(%q) = %d, %d; want %d, %d", tt.in, v, n, tt.val, tt.len)
		}
	}
}

func TestPipeAfterClose(t *testing.T) {
	j := openTest(t, nil)
	p, err := j.Pipe(Source{Unit: "x.service"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close() // the reader must stop although the write end is still open
	<-p.Done()
	p.W.Close()
	if _, err := j.Pipe(Source{Unit: "x.service"}); err == nil {
		t.Error("Pipe on a closed journal succeeded")
	}
	if err := j.Append(Entry{Message: []byte("x")}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Append on closed journal: %v", err)
	}
}

func TestHugeIdentifierTruncated(t *testing.T) {
	j := openTest(t, nil)
	long := strings.Repeat("i", 5000)
	runChild(t, j, Source{Unit: "id.service", Identifier: long}, `echo from pipe`)
	j.Append(Entry{Unit: "id.service", Identifier: long, Message: []byte("appended")})
	got := collect(t, j, Query{})
	if len(got) != 2 {
		t.Fatalf("got %d entries; want 2", len(got))
	}
	for _, e := range got {
		if e.Identifier != long[:maxIdentLen] {
			t.Errorf("%q: identifier of %d bytes; want %d", e.Message, len(e.Identifier), maxIdentLen)
		}
	}
}

// TestCloseStoresWhatPipesHold: lines a unit wrote just before the
// journal closes, which the reader had not read yet (here: a pipe not
// yet polled, its pid never set), are stored by Close, not dropped.
func TestCloseStoresWhatPipesHold(t *testing.T) {
	j := openTest(t, nil)
	p, err := j.Pipe(Source{Unit: "last.service"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.W.Write([]byte("one\ntwo\nthree")); err != nil {
		t.Fatal(err)
	}
	p.W.Close()
	dir := j.Dir()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	r, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(messages(collect(t, r, Query{}))); got != "[one two three]" {
		t.Fatalf("got %s; want [one two three]", got)
	}
}

// TestPipeRunsReadBack: a read's lines — short, empty, and long ones cut
// at LineMax — are stored as runs of batch frames (several per read past
// 64 KiB of text; the journal is hardly larger than the text) and come
// back as one entry each, in order, numbered one after the other, with
// their partial flags; with SyslogLevelPrefix=, a "<N>" line is a record
// of its own with priority N between runs.
func TestPipeRunsReadBack(t *testing.T) {
	for _, prefix := range []bool{false, true} {
		t.Run(fmt.Sprintf("prefix=%v", prefix), func(t *testing.T) {
			j := openTest(t, func(o *Options) { o.LineMax = 1000 })
			var in bytes.Buffer
			var want []string
			for i := range 3000 {
				switch {
				case i%500 == 7:
					in.WriteString("\n")
					want = append(want, "")
				case i%700 == 3:
					long := strings.Repeat(fmt.Sprint(i%10), 2500)
					in.WriteString(long + "\n")
					want = append(want, long[:1000]+"+", long[1000:2000]+"+", long[2000:])
				case i%300 == 5:
					l := fmt.Sprintf("<3>error %d", i)
					in.WriteString(l + "\n")
					if prefix {
						l = "error " + fmt.Sprint(i) + " (3)"
					}
					want = append(want, l)
				default:
					l := fmt.Sprintf("line %05d %s", i, strings.Repeat("x", 80))
					in.WriteString(l + "\n")
					want = append(want, l)
				}
			}
			p, err := j.Pipe(Source{Unit: "runs.service", PID: os.Getpid(), Priority: PriInfo, LevelPrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.W.Write(in.Bytes()); err != nil {
				t.Fatal(err)
			}
			p.W.Close()
			<-p.Done()
			got := collect(t, j, Query{})
			var msgs []string
			for i, e := range got {
				m := string(e.Message)
				if e.Partial {
					m += "+"
				}
				if e.Priority != PriInfo {
					m += fmt.Sprintf(" (%d)", e.Priority)
				}
				msgs = append(msgs, m)
				if i > 0 && e.Seq != got[i-1].Seq+1 {
					t.Fatalf("entry %d: seq %d after %d", i, e.Seq, got[i-1].Seq)
				}
			}
			if !slices.Equal(msgs, want) {
				t.Fatalf("got %d entries, want %d; first difference at %d", len(msgs), len(want), firstDiff(msgs, want))
			}
			j.wmu.Lock()
			size := segBytes(j.units["runs.service"].segs[0])
			j.wmu.Unlock()
			if size > int64(in.Len())*11/10 {
				t.Errorf("segment holds %d bytes for %d bytes of lines: not batch frames", size, in.Len())
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestDropLines: the entries a spool's replay skips (committed before a
// crash) come off the front of runs of lines, cut ones included.
func TestDropLines(t *testing.T) {
	msg := []byte("ab\ncdefg\nh")
	run := func() []rec {
		// "ab", "cde" cut at LineMax 3, "fg", "h" (unterminated, at EOF)
		return []rec{{msg: []byte("single")}, {msg: msg, ends: []uint32{2, 6 | endCut, 8, 10}}}
	}
	lines := func(recs []rec) []string {
		var out []string
		for _, r := range recs {
			if r.ends == nil {
				out = append(out, string(r.msg))
				continue
			}
			var from uint32
			for i := range r.ends {
				var l []byte
				l, _, from = r.runLine(i, from)
				out = append(out, string(l))
			}
		}
		return out
	}
	for k, want := range []string{"[single ab cde fg h]", "[ab cde fg h]", "[cde fg h]", "[fg h]", "[h]", "[]"} {
		if got := fmt.Sprint(lines(dropLines(run(), k))); got != want {
			t.Errorf("drop %d: got %s; want %s", k, got, want)
		}
	}
}

// TestPipeNextWriter gives a pipe a second writer, as a service restarted
// with the same pipes: the lines read after SetPID carry the new pid, and
// the spool names it for a manager that would take the pipe back.
func TestPipeNextWriter(t *testing.T) {
	j := openTest(t, func(o *Options) { o.SpoolDir = t.TempDir(); o.Holder = nopHolder{} })
	p, err := j.Pipe(Source{Unit: "r.service", Stream: StreamStdout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan Entry, 4)
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(ctx, Query{}, func(e Entry) error { seen <- e; return nil })
	}()
	defer func() { cancel(); <-done }()
	next := func() Entry {
		t.Helper()
		select {
		case e := <-seen:
			return e
		case <-time.After(15 * time.Second):
			t.Fatal("no entry")
		}
		return Entry{}
	}
	for _, w := range []struct {
		pid  int
		line string
	}{{100, "first"}, {200, "second"}} {
		p.SetPID(w.pid)
		if _, err := p.W.WriteString(w.line + "\n"); err != nil {
			t.Fatal(err)
		}
		if e := next(); string(e.Message) != w.line || e.PID != w.pid {
			t.Fatalf("got %q from pid %d; want %q from pid %d", e.Message, e.PID, w.line, w.pid)
		}
	}
	b, err := os.ReadFile(j.spoolPath(p.ino))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := decodeSpoolHeader(b); err != nil || h.pid != 200 {
		t.Fatalf("spool header %+v (%v); want pid 200", h, err)
	}
	p.W.Close()
	<-p.Done()
}

// recHolder records the names it is given to hold.
type recHolder struct {
	mu   sync.Mutex
	held []string
}

func (h *recHolder) Hold(name string, _ int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, name)
}

func (h *recHolder) Release(string) {}

// TestPipeQuietNoSpool: a pipe that ends without a byte written (a
// quiet service's stderr) gets no spool, whose making would hold the
// pipe reader up waiting for the fd holder; the pipe written to does.
func TestPipeQuietNoSpool(t *testing.T) {
	h := &recHolder{}
	spools := t.TempDir()
	j := openTest(t, func(o *Options) { o.SpoolDir = spools; o.Holder = h })
	var ps [2]*Pipe
	for i, s := range []Stream{StreamStdout, StreamStderr} {
		p, err := j.Pipe(Source{Unit: "q.service", Stream: s})
		if err != nil {
			t.Fatal(err)
		}
		p.SetPID(100)
		ps[i] = p
	}
	if _, err := ps[0].W.WriteString("spoken\n"); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		p.W.Close()
		<-p.Done()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	want := []string{spoolHeldName(ps[0].ino)}
	var got []string
	for _, n := range h.held {
		if strings.HasPrefix(n, spoolHeldPrefix) {
			got = append(got, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("spools held %v; want %v (the written pipe's only)", got, want)
	}
	if ents, _ := os.ReadDir(spools); len(ents) > 0 {
		t.Errorf("%d spool files left after the pipes ended", len(ents))
	}
	if got := messages(collect(t, j, Query{})); !slices.Equal(got, []string{"spoken"}) {
		t.Errorf("stored %q; want the written pipe's line", got)
	}
}

// TestPipeRotationSealedBySealer: the segments a pipe fills are sealed
// (fsynced, indexed) by the sealer, not by the pipe reader, and every
// line is in them, in order, across the rotations.
func TestPipeRotationSealedBySealer(t *testing.T) {
	j := openTest(t, func(o *Options) { o.MaxFileSize = 256 << 10 })
	p, err := j.Pipe(Source{Unit: "rot.service", PID: os.Getpid(), Priority: PriInfo})
	if err != nil {
		t.Fatal(err)
	}
	const lines = 20000 // 2 MB: 8 segments
	go func() {
		defer p.W.Close()
		w := bufio.NewWriterSize(p.W, 64<<10)
		for i := range lines {
			fmt.Fprintf(w, "%08d %s\n", i, strings.Repeat("y", 90))
		}
		w.Flush()
	}()
	<-p.Done()
	j.sealWG.Wait() // the sealer ends once its queue is empty
	j.wmu.Lock()
	segs := slices.Clone(j.units["rot.service"].segs)
	j.wmu.Unlock()
	if len(segs) < 4 {
		t.Fatalf("%d segments for 2 MB with MaxFileSize 256 KiB", len(segs))
	}
	for _, s := range segs[:len(segs)-1] {
		if !s.sealed {
			t.Errorf("%s: full segment not sealed", s.path)
		}
		if _, err := os.Stat(indexPath(s.path)); err != nil {
			t.Errorf("full segment without index: %v", err)
		}
	}
	got := collect(t, j, Query{})
	if len(got) != lines {
		t.Fatalf("%d entries, want %d", len(got), lines)
	}
	for i, e := range got {
		if want := fmt.Sprintf("%08d ", i); !strings.HasPrefix(string(e.Message), want) {
			t.Fatalf("entry %d: %.20q", i, e.Message)
		}
	}
}
