package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeEnvUnit writes a service with n Environment= lines.
func writeEnvUnit(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("[Service]\nExecStart=/bin/sleep 1000\n")
	for i := range n {
		fmt.Fprintf(w, "Environment=VARIABLE_%d=value-%d\n", i, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestLargeUnits: a unit with 520,000 assignments is refused with a
// file:line diagnostic and does not slow anything down; one with 20,000
// loads, runs, and answers show quickly; the manager keeps answering and
// SIGTERM stops it.
func TestLargeUnits(t *testing.T) {
	dir := t.TempDir()
	writeEnvUnit(t, filepath.Join(dir, "huge.service"), 520_000)
	writeEnvUnit(t, filepath.Join(dir, "big.service"), 20_000)
	os.WriteFile(filepath.Join(dir, "good.service"), []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "default.target"), []byte("[Unit]\nWants=good.service big.service huge.service\n"), 0o644)
	in := startTend(t, dir)

	if !strings.Contains(in.stderr.String(), "huge.service:65537: more than 65536 assignments in the unit; the unit is not loaded") {
		t.Errorf("no file:line diagnostic for huge.service:\n%.2000s", in.stderr)
	}
	for _, u := range []string{"good", "big"} {
		if out, code := in.ctl("is-active", u); code != 0 {
			t.Errorf("%s: %q exit %d", u, out, code)
		}
	}
	out, _ := in.ctl("status", "huge")
	if !strings.Contains(out, "error") || !strings.Contains(out, "more than 65536 assignments") {
		t.Errorf("status huge:\n%.2000s", out)
	}
	// The big unit's environment reached its process.
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", in.mainPID("big")))
	if err != nil || !strings.Contains(string(env), "\x00VARIABLE_19999=value-19999\x00") {
		t.Errorf("big.service's process environment lacks the last variable (%v)", err)
	}
	for range 3 {
		start := time.Now()
		out := in.mustCtl("show", "big", "-p", "Environment")
		// Client start-up included; the old quadratic build took 8-10 s.
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("show -p Environment took %v", d)
		}
		if !strings.Contains(out, " VARIABLE_19999=value-19999") {
			t.Errorf("show big: %.200q…", out)
		}
	}
	start := time.Now()
	in.stop()
	if in.cmd.ProcessState == nil {
		t.Fatal("tend did not stop on SIGTERM")
	}
	t.Logf("SIGTERM to exit: %v", time.Since(start))
}
