package api_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
	"github.com/tendproject/tend/internal/client"
)

// floodEnv names the socket a re-executed test binary floods; see
// apitest.FloodMain.
const floodEnv = "TEND_API_TEST_FLOOD_SOCKET"

// startFlood runs a helper as uid 65534 that opens as many connections to
// sock as its descriptor limit allows and holds them; it returns once they
// are open, with their number. The helper ends with the test.
func startFlood(t *testing.T, bin, sock string) int {
	t.Helper()
	n, _ := apitest.StartFlooder(t, bin, floodEnv, sock)
	return n
}

// TestFloodLeavesRootAnswered: while an unprivileged process holds every
// connection its descriptor limit allows, root's requests are answered
// within 100 ms, the server's process can still make pipes, and the
// flooder holds only its share of the server's connections.
func TestFloodLeavesRootAnswered(t *testing.T) {
	bin, sock := serveToNobody(t, testUnits(), api.Options{})

	n := startFlood(t, bin, sock)
	if n < 1000 {
		t.Fatalf("the helper opened only %d connections; the test needs thousands", n)
	}
	t.Logf("uid %d holds %d connections", nobody, n)

	var took []time.Duration
	for range 5 {
		c := client.New(sock)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := c.Status(ctx, "web.service")
		took = append(took, time.Since(start))
		cancel()
		c.Close()
		if err != nil {
			t.Fatalf("root's status during the flood: %v", err)
		}
	}
	t.Logf("root's status took %v", took)
	// One request may lose a time slice on a loaded 2-core machine; a
	// starved socket misses on every request, so the median decides.
	slices.Sort(took)
	if med := took[len(took)/2]; med > 100*time.Millisecond {
		t.Errorf("root's status took %v (median) during the flood; want under 100ms", med)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("the server's process cannot make a pipe during the flood: %v", err)
	}
	r.Close()
	w.Close()

	self, err := client.New(sock).SelfFDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conns := 0
	for _, role := range self.FDs {
		if role == "api connection" {
			conns++
		}
	}
	// The flooder's share (32 by default), this request's connection and
	// root's earlier ones, which the server may not have seen closed yet.
	if conns > 32+1+len(took) {
		t.Errorf("the server holds %d connections; want at most %d", conns, 32+1+len(took))
	}
}
