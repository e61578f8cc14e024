package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// spoolEnv makes the test binary, re-executed, a journal that reads the
// pipe it inherits as descriptor 3 through a spool, until killed or the
// pipe ends.
const spoolEnv = "TEND_JOURNAL_TEST_SPOOL"

// nopHolder stands for the fd holder in one process: the test process
// keeps the pipe.
type nopHolder struct{}

func (nopHolder) Hold(string, int) {}
func (nopHolder) Release(string)   {}

// sockHolder stands for the fd holder across processes: it sends what
// it is to hold to the test process over a unix socket, which keeps it
// (a descriptor in flight outlives its sender).
type sockHolder struct{ fd int }

func (h sockHolder) Hold(name string, fd int) {
	if err := syscall.Sendmsg(h.fd, []byte("+"+name), syscall.UnixRights(fd), nil, 0); err != nil {
		panic(err)
	}
}

func (h sockHolder) Release(name string) {
	if err := syscall.Sendmsg(h.fd, []byte("-"+name), nil, nil, 0); err != nil {
		panic(err)
	}
}

// keeper is the test process's side of sockHolder: it keeps what the
// helpers hold until they release it, and closes the rest at the end.
type keeper struct {
	mu   sync.Mutex
	held map[string]*os.File
	sock *os.File // the helpers' end
	done chan struct{}
}

func newKeeper(t *testing.T) *keeper {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := &keeper{held: map[string]*os.File{}, sock: os.NewFile(uintptr(fds[1]), "holder"), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(4*4))
		for {
			n, oobn, _, _, err := syscall.Recvmsg(fds[0], buf, oob, 0)
			if err != nil || n == 0 {
				syscall.Close(fds[0])
				return
			}
			name := string(buf[1:n])
			var fd = -1
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
				if got, err := syscall.ParseUnixRights(&msgs[0]); err == nil && len(got) > 0 {
					fd = got[0]
				}
			}
			k.mu.Lock()
			if old := k.held[name]; old != nil {
				old.Close()
				delete(k.held, name)
			}
			if buf[0] == '+' && fd >= 0 {
				k.held[name] = os.NewFile(uintptr(fd), name)
			}
			k.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		k.sock.Close()
		<-k.done
		for _, f := range k.held {
			f.Close()
		}
	})
	return k
}

// names returns what the keeper holds.
func (k *keeper) names() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Sorted(maps.Keys(k.held))
}

func spoolHelper(dir string) int {
	j, err := Open(Options{Dir: filepath.Join(dir, "journal"), SpoolDir: filepath.Join(dir, "spool"),
		Holder: sockHolder{4}, BootID: "helper", MaxUse: 1 << 30, KeepFree: -1, MaxFileSize: 256 << 10,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
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
		fmt.Fprintf(os.Stderr, "adopt: end %d backlog %d lastSeq %d skip %d\n", p.sp.end, len(p.sp.back), p.sp.lastSeq, len(p.skip))
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
func runSpoolHelper(t *testing.T, dir string, r *os.File, k *keeper) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), spoolEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{r, k.sock}
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
	k := newKeeper(t)
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
		cmd := runSpoolHelper(t, dir, r, k)
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond) // the kill's moment, not a wait
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	last := runSpoolHelper(t, dir, r, k)
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
	if held := k.names(); len(held) != 0 {
		t.Errorf("spool pipes still held after the pipe ended: %v", held)
	}
	t.Logf("%d lines across %d kills, each once", n, kills)
}

func TestSpoolHeader(t *testing.T) {
	good := spoolHeader{drain: true, keep: 1 << 40, lastSeq: 77, pid: 4242, stream: uint8(StreamStderr)}.encode()
	flip := bytes.Clone(good)
	flip[10] ^= 1
	neg := spoolHeader{keep: -1}.encode()
	badFlag := bytes.Clone(good)
	badFlag[len(spoolMagic)] = 2
	binary.LittleEndian.PutUint32(badFlag[spoolHeaderLen-4:], crc32.Checksum(badFlag[:spoolHeaderLen-4], castagnoli))
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
		{"other magic", append([]byte("TNDSPL01"), good[8:]...), false},
		{"negative length to keep", neg, false},
		{"drain flag neither 0 nor 1", badFlag, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := decodeSpoolHeader(tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("decode: err %v; want ok %v", err, tc.ok)
			}
			if tc.ok && (!h.drain || h.keep != 1<<40 || h.lastSeq != 77 || h.pid != 4242 || h.stream != uint8(StreamStderr)) {
				t.Fatalf("decoded %+v", h)
			}
		})
	}
}

func FuzzSpoolHeader(f *testing.F) {
	f.Add(spoolHeader{keep: 5, lastSeq: 9, pid: 1, stream: 1}.encode())
	f.Add([]byte("TNDSPL02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeSpoolHeader(data)
		if err != nil {
			return
		}
		if h.keep < 0 {
			t.Fatalf("negative length to keep %d accepted", h.keep)
		}
		again, err := decodeSpoolHeader(h.encode())
		if err != nil || again != h {
			t.Fatalf("re-encoded header: %+v, %v; want %+v", again, err, h)
		}
	})
}

// TestSpoolPipeSize: root's spool pipe holds at least a service pipe's
// fill even where it may not exceed fs.pipe-max-size (root without
// CAP_SYS_RESOURCE, as in a container); left at the default 64 KiB, it
// would cap every read there.
func TestSpoolPipeSize(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pipes above 64 KiB: root only")
	}
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		t.Skip(err)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || limit < pipeSize {
		t.Skipf("fs.pipe-max-size %q is below a service pipe's size", b)
	}
	x, xcap, err := openSpoolPipe(filepath.Join(t.TempDir(), "1"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if xcap < pipeSize {
		t.Errorf("spool pipe holds %d bytes; want at least %d", xcap, pipeSize)
	}
}
