package api_test

import (
	"runtime"
	"strings"
	"time"
)

// leaked returns the stacks of goroutines that belong to the server, the
// client or the fake and are still around.
func leaked() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.(*M)") || strings.Contains(g, "api_test.leaked") {
			continue
		}
		if strings.Contains(g, "tendproject/tend/internal/") || strings.Contains(g, "net/http.(*persistConn)") ||
			strings.Contains(g, "net/http.(*conn).serve") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoLeaks gives goroutines that are already on their way out a moment
// to finish (the runtime offers no event for a goroutine's end) and
// returns those still running after the deadline.
func waitNoLeaks() []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := leaked()
		if len(l) == 0 || time.Now().After(deadline) {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
}
