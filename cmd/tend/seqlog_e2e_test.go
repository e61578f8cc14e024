package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The "seq N" writer and its check, for the tests that kill, crash or
// re-exec tend under a service that logs all the while and then count
// every line once, in order.

// loopWriter writes a python program to dir that prints "seq N" lines,
// burst lines every pause seconds, and exits 1 on its first failed write.
func loopWriter(t *testing.T, dir string, burst int, pause string) string {
	t.Helper()
	path := filepath.Join(dir, "seqwriter.py")
	prog := `import os, time
i = 0
while True:
    for _ in range(` + strconv.Itoa(burst) + `):
        os.write(1, b"seq %d\n" % i)
        i += 1
    time.sleep(` + pause + `)
`
	if err := os.WriteFile(path, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkSeqLog reads unit's journal and fails unless its "seq N" lines
// are 0, 1, 2, … each once; it returns how many there are.
func checkSeqLog(t *testing.T, in *instance, unit string) int {
	t.Helper()
	out := in.mustCtl("logs", "-u", unit, "-o", "cat", "--no-pager")
	next := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		v, ok := strings.CutPrefix(line, "seq ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n != next {
			t.Fatalf("journal of %s has %q where seq %d was due (lost, duplicated or reordered)", unit, line, next)
		}
		next++
	}
	return next
}
