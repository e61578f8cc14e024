package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// largeUnit loads a service with n Environment= lines from a real file.
func largeUnit(tb testing.TB, n int) supervise.Status {
	tb.Helper()
	dir := tb.TempDir()
	var b strings.Builder
	b.WriteString("[Unit]\nAfter=a.service\nAfter=\nAfter=b.service\n[Service]\nExecStart=/bin/true\n")
	for i := range n {
		fmt.Fprintf(&b, "Environment=VARIABLE_%d=value-%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "large.service"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	l := &unit.Loader{Dirs: []string{dir}}
	u, err := l.Load("large.service")
	if err != nil || u.Load != unit.Loaded {
		tb.Fatalf("load: %v %v %v", err, u.Load, u.Diags)
	}
	return supervise.Status{Name: u.Name, Def: u, Active: supervise.Inactive, Sub: "dead"}
}

// showRequest is the per-request work of `show`: the properties and their
// JSON encoding.
func showRequest(tb testing.TB, st supervise.Status) int {
	p := properties(st)
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// TestPropertiesLargeUnit: one properties request on a unit with 20,000
// Environment= lines is linear work. Building the list by repeated
// concatenation took 8–10 s of CPU; the bound is generous for a loaded
// machine (BenchmarkPropertiesLargeUnit measures about a few ms).
func TestPropertiesLargeUnit(t *testing.T) {
	st := largeUnit(t, 20_000)
	p := properties(st)
	env := strings.Fields(p["Environment"])
	if len(env) != 20_000 || env[0] != "VARIABLE_0=value-0" || env[19_999] != "VARIABLE_19999=value-19999" {
		t.Fatalf("Environment has %d words: %.80q…", len(env), p["Environment"])
	}
	if p["After"] != "b.service" {
		t.Errorf("After = %q; want the empty assignment to reset the list", p["After"])
	}
	start := time.Now()
	showRequest(t, st)
	if d := time.Since(start); d > time.Second {
		t.Errorf("one properties request took %v; want far less than 1s", d)
	}
}

func BenchmarkPropertiesLargeUnit(b *testing.B) {
	st := largeUnit(b, 20_000)
	b.ResetTimer()
	for b.Loop() {
		b.SetBytes(int64(showRequest(b, st)))
	}
}
