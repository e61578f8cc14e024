package syslog

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMain fails the run if a goroutine of this package outlives the
// tests: every goroutine here must have been stopped and joined.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leak := leakedGoroutines(); leak != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leak)
			code = 1
		}
	}
	os.Exit(code)
}

func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaks []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/syslog.") && !strings.Contains(g, "leakedGoroutines") &&
			!strings.Contains(g, "syslog.TestMain") {
			leaks = append(leaks, g)
		}
	}
	return strings.Join(leaks, "\n\n")
}
