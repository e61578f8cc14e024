package journal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// helperEnv makes the test binary, re-executed, act as a journal writer
// that the test kills.
const helperEnv = "TEND_JOURNAL_TEST_WRITER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(writerHelper(dir))
	}
	if dir := os.Getenv(spoolEnv); dir != "" {
		os.Exit(spoolHelper(dir))
	}
	os.Exit(m.Run())
}

// writerHelper appends numbered entries forever to two units, reporting
// on stdout how many were committed, until it is killed.
func writerHelper(dir string) int {
	j, err := Open(Options{Dir: dir, BootID: "helper", MaxUse: 1 << 30, KeepFree: -1, MaxFileSize: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		unit := []string{"a.service", "b.service"}[i%2]
		if err := j.Append(Entry{Unit: unit, Message: []byte("line " + strconv.Itoa(i))}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if i%500 == 0 {
			fmt.Println(i + 1) // entries 0..i are committed
		}
	}
}

// TestKill9 kills a writing process with SIGKILL at an arbitrary moment;
// the journal then opens cleanly and holds every committed entry, in
// order, without gaps, and numbering continues.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	committed := 0
	for committed < 6000 && sc.Scan() {
		committed, _ = strconv.Atoi(sc.Text())
	}
	cmd.Process.Kill()
	cmd.Wait()
	if committed < 6000 {
		t.Fatalf("helper stopped after %d entries", committed)
	}
	j, err := Open(Options{Dir: dir, BootID: "after", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	defer j.Close()
	got := collect(t, j, Query{})
	if len(got) < committed {
		t.Fatalf("%d entries after kill -9; %d were committed", len(got), committed)
	}
	for i, e := range got {
		if string(e.Message) != "line "+strconv.Itoa(i) || e.Seq != uint64(i+1) {
			t.Fatalf("entry %d: seq %d %q", i, e.Seq, e.Message)
		}
	}
	if d := j.Damage(); len(d) > 1 {
		t.Errorf("damage after kill -9: %v", d) // at most the one write cut short
	}
	j.Append(Entry{Unit: "a.service", Message: []byte("next")})
	last := collect(t, j, Query{Lines: 1})
	if last[0].Seq != uint64(len(got)+1) {
		t.Errorf("numbering after reopen: seq %d; want %d", last[0].Seq, len(got)+1)
	}
}
