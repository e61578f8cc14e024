package journal

import (
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

// fillDisk mounts a tmpfs of size bytes on a directory of the test (it is
// unmounted at the end) and fills it; it returns the journal directory
// and a function that frees the space.
func fillDisk(t *testing.T, size int) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v)", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	jdir := filepath.Join(dir, "journal")
	if err := os.Mkdir(jdir, 0o755); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	f.Close()
	return jdir, func() { os.Remove(filler) }
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// producer is a shell loop writing numbered lines to a journal pipe.
type producer struct {
	unit  string
	cmd   *exec.Cmd
	pipe  *Pipe
	count string // file the loop writes its line count to when it ends
}

func startProducer(t *testing.T, j *Journal, unit, loop string) *producer {
	t.Helper()
	p, err := j.Pipe(Source{Unit: unit})
	if err != nil {
		t.Fatal(err)
	}
	pr := &producer{unit: unit, pipe: p, count: filepath.Join(t.TempDir(), "count")}
	pr.cmd = exec.Command("/bin/sh", "-c", loop+`; echo $i > `+pr.count)
	pr.cmd.Stdout = p.W
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.SetPID(pr.cmd.Process.Pid)
	p.W.Close()
	return pr
}

// written waits for the loop to end and returns how many lines it wrote.
func (pr *producer) written(t *testing.T) int {
	t.Helper()
	if err := pr.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", pr.unit, err)
	}
	<-pr.pipe.Done()
	b, err := os.ReadFile(pr.count)
	n, err2 := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || err2 != nil {
		t.Fatalf("%s: count: %v %v", pr.unit, err, err2)
	}
	return n
}

// account returns, for unit, the numbered lines stored and the sum of the
// lines the journal reported lost.
func account(t *testing.T, j *Journal, unit, prefix string) (stored map[int]bool, dup int, lost int) {
	stored = map[int]bool{}
	for _, e := range collect(t, j, Query{Units: []string{unit}}) {
		msg := string(e.Message)
		if e.Stream == StreamTend {
			var n int
			if _, err := fmt.Sscanf(msg, "journal: %d log lines were lost:", &n); err == nil {
				lost += n
			}
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(msg, prefix))
		if err != nil || !strings.HasPrefix(msg, prefix) {
			t.Fatalf("%s: unexpected line %q", unit, msg)
		}
		if stored[n] {
			dup++
		}
		stored[n] = true
	}
	return stored, dup, lost
}

// TestDiskFullAccounting: with the journal's disk full, a quiet and a
// chatty service write numbered lines. tend must not spin meanwhile, and
// once space is back, per unit, the lines stored plus the losses reported
// add up to exactly the lines written.
func TestDiskFullAccounting(t *testing.T) {
	jdir, free := fillDisk(t, 32<<20)
	j, err := Open(Options{Dir: jdir, BootID: "b", MaxUse: 1 << 40, PerUnitMaxUse: 1 << 40, KeepFree: -1, MaxFileSize: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	stop := filepath.Join(t.TempDir(), "stop")
	quiet := startProducer(t, j, "quiet.service", `i=0; while [ $i -lt 150 ]; do i=$((i+1)); echo "q $i"; sleep 0.02; done`)
	chatty := startProducer(t, j, "chatty.service", `i=0; while [ ! -e `+stop+` ]; do i=$((i+1)); echo "c $i"; done`)

	const window = 1500 * time.Millisecond
	before, start := cpuTime(), time.Now()
	time.Sleep(window) // the measurement window itself
	used, elapsed := cpuTime()-before, time.Since(start)
	t.Logf("CPU while the disk was full: %v in %v", used, elapsed)
	if used > elapsed/10 {
		t.Errorf("the journal used %v of CPU in %v while the disk was full; want it to back off, not spin", used, elapsed)
	}

	free()
	os.WriteFile(stop, nil, 0o644)
	want := map[*producer]int{}
	for _, pr := range []*producer{quiet, chatty} {
		want[pr] = pr.written(t)
	}
	// Reports of losses are written by the retry timer or the next write;
	// wait for them, commit by commit.
	deadline := time.After(20 * time.Second)
	for {
		ch := j.changed()
		done, summary := true, ""
		for _, pr := range []*producer{quiet, chatty} {
			stored, dup, lost := account(t, j, pr.unit, pr.unit[:1]+" ")
			if dup > 0 {
				t.Fatalf("%s: %d lines stored twice", pr.unit, dup)
			}
			for n := range stored {
				if n < 1 || n > want[pr] {
					t.Fatalf("%s: line %d stored, but only %d were written", pr.unit, n, want[pr])
				}
			}
			summary += fmt.Sprintf("%s: written %d, stored %d, reported lost %d; ", pr.unit, want[pr], len(stored), lost)
			if len(stored)+lost > want[pr] {
				t.Fatalf("over-reported: %s", summary)
			}
			done = done && len(stored)+lost == want[pr]
		}
		if done {
			t.Log(summary)
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("losses not accounted for exactly: %s", summary)
		}
	}
}
