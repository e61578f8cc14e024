package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// testRand returns a generator seeded from TEND_TEST_SEED, or from the
// clock; the seed is logged so that a failing run can be repeated.
func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TEND_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (TEND_TEST_SEED=%d repeats this run's moments)", seed, seed)
	return rand.New(rand.NewPCG(seed, 15))
}

// TestCrashAtRandomMoments kills tend with SIGKILL again and again at
// random moments — while a service restarts every few milliseconds, and
// while a start job with a slow ExecStartPre= is under way — and starts
// it again each time (or, one time in three, re-executes it). Checked from outside after every round: the long
// running services keep their pids (in /proc) and their cgroups hold
// those alone, the flapping service never runs twice, the interrupted
// start job completes, and exit codes come back in status; at the end
// the sequence-numbered log written all along has every line once, in
// order.
func TestCrashAtRandomMoments(t *testing.T) {
	rng := testRand(t)
	units, tmp := t.TempDir(), t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(units, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writer := loopWriter(t, tmp, 100, "0.01")
	forkPID := filepath.Join(tmp, "fork.pid")
	write("default.target", "[Unit]\nWants=writer.service sleeper.service fork.service ready.service flap.service slow.service\n")
	write("writer.service", "[Service]\nExecStart=/usr/bin/python3 "+writer+"\n")
	write("sleeper.service", "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\n")
	write("fork.service", "[Service]\nType=forking\nPIDFile="+forkPID+"\nExecStart=/bin/sh -c 'sleep 1000 & echo $! > "+forkPID+"'\n")
	write("ready.service", "[Service]\nType=notify\nExecStart="+notifyScript+"\n")
	write("flap.service", "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'sleep 0.03; exit 3'\nRestart=always\nRestartSec=10ms\n")
	write("slow.service", "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStartPre=/bin/sleep 0.2\nExecStart=/bin/true\n")
	work := t.TempDir()
	reapHolder(t, work)

	in := startTendAt(t, units, work)
	// On failure, what each earlier manager said last.
	var earlier []*instance
	t.Cleanup(func() {
		if t.Failed() {
			for i, e := range earlier {
				log := e.stderr.String()
				t.Logf("manager %d's last words:\n%s", i, log[max(0, len(log)-2000):])
			}
		}
	})
	steady := []string{"writer.service", "sleeper.service", "fork.service", "ready.service"}
	pids := map[string]int{}
	for _, u := range steady {
		pids[u] = in.mainPID(u)
	}
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		if rng.IntN(2) == 0 {
			// A start job in flight at the kill.
			in.mustCtl("restart", "--no-block", "slow.service")
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // the kill's moment, not a wait
		if rng.IntN(3) == 0 {
			// A re-exec instead: the same process, the same checks.
			in.mustCtl("daemon-reexec")
			awaitNotify(t, in)
		} else {
			in.crash()
			earlier = append(earlier, in)
			in = startTendAt(t, units, work)
		}
		for _, u := range steady {
			if got := in.mainPID(u); got != pids[u] || !alive(got) {
				t.Fatalf("round %d: %s MainPID %d (alive %v); want %d\n%s", round, u, got, alive(got), pids[u], in.stderr)
			}
			if got := unitProcs(t, in, u); !slices.Equal(got, []int{pids[u]}) {
				t.Fatalf("round %d: %s's cgroup holds %v; want only %d", round, u, got, pids[u])
			}
		}
		if got := unitProcs(t, in, "flap.service"); len(got) > 2 {
			t.Fatalf("round %d: flap.service's cgroup holds %v: more than one run (sh and its sleep)", round, got)
		}
		flap := in.follow("flap.service")
		flap("code=exited, status=3")
		flap("Started flap.service")
		in.mustCtl("start", "slow.service") // waits for a job under way
		if got := in.prop("slow.service", "ActiveState"); got != "active" {
			t.Fatalf("round %d: slow.service is %s after its start; want active", round, got)
		}
	}
	in.mustCtl("stop", "writer.service")
	t.Logf("%d lines over %d kills and re-execs, each once", checkSeqLog(t, in, "writer.service"), rounds)
}

// awaitNotify waits for tend's next READY=1 (after a re-exec or a
// restart in place).
func awaitNotify(t *testing.T, in *instance) {
	t.Helper()
	for {
		select {
		case m := <-in.ready:
			if m.Ready {
				return
			}
		case err := <-in.exited:
			t.Fatalf("tend exited: %v\n%s", err, in.stderr)
		case <-time.After(30 * time.Second):
			t.Fatalf("tend not ready again after 30s\n%s", in.stderr)
		}
	}
}
