package journal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// spoolEnv makes the test binary, re-executed, a journal that reads the
// pipe it inherits as descriptor 3 through a spool, until killed or the
// pipe ends.
const spoolEnv = "TEND_JOURNAL_TEST_SPOOL"

// nopHolder stands for the fd holder: the test process keeps the pipe.
type nopHolder struct{}

func (nopHolder) Hold(string, int) {}
func (nopHolder) Release(string)   {}

func spoolHelper(dir string) int {
	j, err := Open(Options{Dir: filepath.Join(dir, "journal"), SpoolDir: filepath.Join(dir, "spool"),
		Holder: nopHolder{}, BootID: "helper", MaxUse: 1 << 30, KeepFree: -1, MaxFileSize: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	src := Source{Unit: "w.service", PID: 4242, Stream: StreamStdout, Identifier: "w"}
	if err := j.AdoptPipes([]PipeState{{FD: 3, Source: src, PID: 4242}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	j.SweepSpool()
	j.in.mu.Lock()
	var p *Pipe
	for _, q := range j.in.byFD {
		p = q
	}
	j.in.mu.Unlock()
	if p == nil {
		fmt.Fprintln(os.Stderr, "helper: the pipe is not read")
		return 1
	}
	if os.Getenv("SPOOLDEBUG") != "" && p.sp != nil {
		fmt.Fprintf(os.Stderr, "adopt: committed %d end %d lastSeq %d skip %d\n", p.sp.committed, p.sp.end, p.sp.lastSeq, len(p.skip))
	}
	fmt.Println("ready")
	<-p.Done()
	if err := j.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runSpoolHelper starts a helper on the pipe's read end r and waits
// until it reads.
func runSpoolHelper(t *testing.T, dir string, r *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), spoolEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return cmd
}

// TestSpoolKillLosesNothing kills the journal's process with SIGKILL
// again and again, at random moments, while a writer fills the pipe as
// fast as it can; each new process takes the pipe (kept by this test, as
// the fd holder keeps it for tend) and its spool back. In the end every
// line written is in the journal exactly once, in order: nothing read
// and not committed at a kill is lost, nothing committed is stored
// twice. The seed is logged; TEND_TEST_SEED reproduces a run.
func TestSpoolKillLosesNothing(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TEND_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (TEND_TEST_SEED=%d reproduces the kill moments)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 15))
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	written := make(chan int, 1)
	stop := make(chan struct{})
	go func() {
		bw := bufio.NewWriterSize(w, 4096)
		n := 0
		for {
			select {
			case <-stop:
				bw.Flush()
				w.Close()
				written <- n
				return
			default:
			}
			// Lines of varied length, some cut across writes.
			fmt.Fprintf(bw, "seq %d %s\n", n, bytes.Repeat([]byte("x"), n%97))
			n++
		}
	}()
	kills := 30
	if testing.Short() {
		kills = 8
	}
	for range kills {
		cmd := runSpoolHelper(t, dir, r)
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond) // the kill's moment, not a wait
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	last := runSpoolHelper(t, dir, r)
	r.Close()
	close(stop)
	n := <-written
	if err := last.Wait(); err != nil {
		t.Fatalf("last helper: %v", err)
	}
	j, err := Open(Options{Dir: filepath.Join(dir, "journal"), BootID: "check", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := collect(t, j, Query{Units: []string{"w.service"}})
	for i, e := range got {
		want := fmt.Sprintf("seq %d %s", i, bytes.Repeat([]byte("x"), i%97))
		if string(e.Message) != want {
			for k := max(i-3, 0); k < min(i+4, len(got)); k++ {
				t.Logf("entry %d: seq %d pid %d partial %v %.30q", k, got[k].Seq, got[k].PID, got[k].Partial, got[k].Message)
			}
			t.Fatalf("entry %d of %d is %.40q; want %.40q (lost, duplicated or reordered)", i, len(got), e.Message, want)
		}
	}
	if len(got) != n {
		t.Fatalf("%d entries; %d lines written", len(got), n)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "spool")); len(ents) != 0 {
		t.Errorf("spool files left after the pipe ended: %v", ents)
	}
	t.Logf("%d lines across %d kills, each once", n, kills)
}

func TestSpoolHeader(t *testing.T) {
	good := spoolHeader{committed: 1 << 40, lastSeq: 77, pid: 4242, stream: uint8(StreamStderr)}.encode()
	flip := bytes.Clone(good)
	flip[10] ^= 1
	neg := spoolHeader{committed: -1}.encode()
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"good", good, true},
		{"good, page padding after it", append(bytes.Clone(good), make([]byte, 100)...), true},
		{"empty", nil, false},
		{"zeros (never written)", make([]byte, spoolHeaderLen), false},
		{"truncated", good[:len(good)-1], false},
		{"flipped bit", flip, false},
		{"other magic", append([]byte("TNDSPL02"), good[8:]...), false},
		{"negative offset", neg, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := decodeSpoolHeader(tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("decode: err %v; want ok %v", err, tc.ok)
			}
			if tc.ok && (h.committed != 1<<40 || h.lastSeq != 77 || h.pid != 4242 || h.stream != uint8(StreamStderr)) {
				t.Fatalf("decoded %+v", h)
			}
		})
	}
}

func FuzzSpoolHeader(f *testing.F) {
	f.Add(spoolHeader{committed: 5, lastSeq: 9, pid: 1, stream: 1}.encode())
	f.Add([]byte("TNDSPL01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeSpoolHeader(data)
		if err != nil {
			return
		}
		if h.committed < 0 {
			t.Fatalf("negative committed offset %d accepted", h.committed)
		}
		again, err := decodeSpoolHeader(h.encode())
		if err != nil || again != h {
			t.Fatalf("re-encoded header: %+v, %v; want %+v", again, err, h)
		}
	})
}
