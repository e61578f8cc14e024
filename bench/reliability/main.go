// Command reliability measures what a crash or a re-exec of tend costs
// (docs/design.md, "Crash and re-exec"): with N services running
// (simple, forking, notify, and one writing sequence-numbered lines at a
// fixed rate), it kills `tend run` with SIGKILL K times at random
// moments, starting a new one each time, then runs `tend daemon-reexec`
// R times, and reports services duplicated, lost or with another pid,
// log lines lost, duplicated or out of order, the time from a new
// manager's start to every unit adopted (READY=1), and the writer's
// longest blocked write during the re-execs. Run as root:
//
//	go build -o /tmp/tend ./cmd/tend && go run ./bench/reliability -tend /tmp/tend
//
// The seed is printed; -seed repeats a run's moments. The exit status is
// 1 when a service was duplicated, lost or replaced or a log line was
// lost, duplicated or reordered (CI runs a short round for that); the
// timings are figures, never a failure.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	tend              string
	services          int
	kills, reexecs    int
	rate              int
	maxDelay          time.Duration
	seed              uint64
	keep              bool
	started           time.Time // when the services were started
	faults            *[]string // the damage seen, each phase's summary
	self, work, units string
}

func main() {
	if code, ok := serviceMain(os.Args); ok {
		os.Exit(code)
	}
	var c config
	flag.StringVar(&c.tend, "tend", "", "the tend binary to measure (required)")
	flag.IntVar(&c.services, "services", 200, "services running, the writer included")
	flag.IntVar(&c.kills, "kills", 100, "kill -9 of tend, each followed by a new tend run")
	flag.IntVar(&c.reexecs, "reexecs", 100, "tend daemon-reexec under the same load")
	flag.IntVar(&c.rate, "rate", 20000, "the writer's lines per second")
	flag.DurationVar(&c.maxDelay, "max-delay", 500*time.Millisecond, "the longest random pause before a kill or re-exec")
	flag.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "seed of the random moments")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	flag.Parse()
	if c.tend == "" || os.Getuid() != 0 {
		fmt.Fprintln(os.Stderr, "usage: reliability -tend PATH (as root)")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	var faults []string
	c.faults = &faults
	if err := measure(c); err != nil {
		return err
	}
	if len(faults) > 0 {
		return fmt.Errorf("damage: %s", strings.Join(faults, "; "))
	}
	return nil
}

// fault records a phase's damage, if any, under its name.
func (c config) fault(phase string, n int, what string) {
	if n > 0 {
		*c.faults = append(*c.faults, fmt.Sprintf("%s: %d %s", phase, n, what))
	}
}

// faultDamage records a phase's damage to services.
func (c config) faultDamage(phase string, d damage) {
	c.fault(phase, d.duplicated, "services duplicated")
	c.fault(phase, d.lost, "services lost")
	c.fault(phase, d.changed, "services with another pid")
}

func measure(c config) error {
	var err error
	if c.self, err = os.Executable(); err != nil {
		return err
	}
	if c.work, err = os.MkdirTemp("", "tend-reliability"); err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(c.work)
	}
	c.units = filepath.Join(c.work, "units")
	names, err := writeUnits(c)
	if err != nil {
		return err
	}
	fmt.Printf("seed %d, %d services, work %s\n", c.seed, len(names), c.work)
	m, err := newManager(c.tend, c.units, c.work)
	if err != nil {
		return err
	}
	c.started = time.Now()
	if _, err := m.start(); err != nil {
		return err
	}
	defer func() {
		if err := m.finish(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	before, err := awaitUp(m, names)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(c.seed, 15))
	t0 := time.Now()
	defer func() { fmt.Printf("ran %s\n", time.Since(t0).Round(time.Second)) }()
	if err := killPhase(c, m, rng, names, before); err != nil {
		return err
	}
	if err := reexecPhase(c, m, rng, names, before); err != nil {
		return err
	}
	return logFigures(c, m)
}

// writeUnits writes the services and the target that wants them.
func writeUnits(c config) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(c.units), 0o755); err != nil {
		return nil, err
	}
	units := map[string]string{
		"writer.service": fmt.Sprintf("[Service]\nExecStart=%s writer %d %s\n", c.self, c.rate, filepath.Join(c.work, "writer.stats")),
	}
	for i := 1; i < c.services; i++ {
		name := fmt.Sprintf("s%03d.service", i)
		switch i % 3 {
		case 0:
			units[name] = "[Service]\nExecStart=/bin/sleep 1000000\nRestart=always\n"
		case 1:
			pid := filepath.Join(c.work, name+".pid")
			units[name] = fmt.Sprintf("[Service]\nType=forking\nPIDFile=%s\nExecStart=/bin/sh -c 'sleep 1000000 & echo $! > %s'\n", pid, pid)
		case 2:
			units[name] = fmt.Sprintf("[Service]\nType=notify\nExecStart=%s notify\n", c.self)
		}
	}
	var names []string
	for name, text := range units {
		names = append(names, name)
		if err := os.WriteFile(filepath.Join(c.units, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	slices.Sort(names)
	target := "[Unit]\nWants=" + strings.Join(names, " ") + "\n"
	return names, os.WriteFile(filepath.Join(c.units, "default.target"), []byte(target), 0o644)
}

// awaitUp waits until every unit runs its processes and returns them.
func awaitUp(m *manager, names []string) (map[string][]int, error) {
	if err := m.findCgroups("writer.service"); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := m.snapshot(names)
		empty := 0
		for _, p := range s {
			if len(p) == 0 {
				empty++
			}
		}
		if empty == 0 {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d units without a process after 2 minutes", empty)
		}
		time.Sleep(50 * time.Millisecond) // a benchmark's setup, not a test
	}
}

// killPhase kills tend at random moments and starts it again.
func killPhase(c config, m *manager, rng *rand.Rand, names []string, before map[string][]int) error {
	var adopt []time.Duration
	var d damage
	for range c.kills {
		time.Sleep(time.Duration(rng.Int64N(int64(c.maxDelay))))
		m.kill()
		took, err := m.start()
		if err != nil {
			return err
		}
		adopt = append(adopt, took)
		d.add(m.compare(before))
	}
	fmt.Printf("kill -9 ×%d: services duplicated %d, lost %d, with another pid %d\n", c.kills, d.duplicated, d.lost, d.changed)
	c.faultDamage("kill -9", d)
	fmt.Printf("  new tend run to all %d units adopted (READY=1): p50 %s, p99 %s, max %s\n",
		len(names), pct(adopt, 50), pct(adopt, 99), pct(adopt, 100))
	return nil
}

// reexecPhase runs daemon-reexec at random moments, timing the writer's
// longest write meanwhile.
func reexecPhase(c config, m *manager, rng *rand.Rand, names []string, before map[string][]int) error {
	pid, err := writerPID(m)
	if err != nil {
		return err
	}
	if _, _, err := writerStats(c, pid); err != nil { // a new window
		return err
	}
	var took []time.Duration
	var d damage
	for range c.reexecs {
		time.Sleep(time.Duration(rng.Int64N(int64(c.maxDelay))))
		t, err := m.reexec()
		if err != nil {
			return err
		}
		took = append(took, t)
		d.add(m.compare(before))
	}
	_, longest, err := writerStats(c, pid)
	if err != nil {
		return err
	}
	fmt.Printf("daemon-reexec ×%d: services duplicated %d, lost %d, with another pid %d\n", c.reexecs, d.duplicated, d.lost, d.changed)
	c.faultDamage("daemon-reexec", d)
	fmt.Printf("  re-exec to READY=1: p50 %s, p99 %s; writer's longest write %s\n", pct(took, 50), pct(took, 99), longest)
	return nil
}

func writerPID(m *manager) (int, error) {
	out, err := m.ctl("show", "-p", "MainPID", "--value", "writer.service")
	if err != nil {
		return 0, fmt.Errorf("writer's pid: %v: %s", err, out)
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// writerStats asks the writer for its lines so far and its longest write
// since the last ask.
func writerStats(c config, pid int) (int, time.Duration, error) {
	path := filepath.Join(c.work, "writer.stats")
	_ = os.Remove(path)
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return 0, 0, err
	}
	for range 1000 {
		if b, err := os.ReadFile(path); err == nil {
			var lines int
			var ns int64
			_, err := fmt.Sscan(string(b), &lines, &ns)
			return lines, time.Duration(ns), err
		}
		time.Sleep(5 * time.Millisecond) // the writer's answer, from another process
	}
	return 0, 0, fmt.Errorf("writer %d did not write %s", pid, path)
}

// logFigures stops the writer and checks its lines in the journal.
func logFigures(c config, m *manager) error {
	if out, err := m.ctl("stop", "writer.service"); err != nil {
		return fmt.Errorf("stop writer: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(c.work, "writer.stats"))
	if err != nil {
		return err
	}
	var written int
	if _, err := fmt.Sscan(string(b), &written); err != nil {
		return err
	}
	out, err := m.ctl("logs", "-u", "writer.service", "-o", "cat", "--no-pager")
	if err != nil {
		return fmt.Errorf("logs: %v", err)
	}
	seen := make([]int, written)
	var dup, reordered, foreign int
	last := -1
	for _, line := range strings.Split(out, "\n") {
		v, ok := strings.CutPrefix(line, "seq ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n >= written {
			if line != "" {
				foreign++
			}
			continue
		}
		if seen[n]++; seen[n] > 1 {
			dup++
		}
		if n < last {
			reordered++
		}
		last = n
	}
	lost := 0
	for _, s := range seen {
		if s == 0 {
			lost++
		}
	}
	fmt.Printf("log: %d lines written (%.0f/s); lost %d, duplicated %d, out of order %d (other lines %d)\n", written, float64(written)/time.Since(c.started).Seconds(), lost, dup, reordered, foreign)
	c.fault("log", lost, "lines lost")
	c.fault("log", dup, "lines duplicated")
	c.fault("log", reordered, "lines out of order")
	return nil
}

// pct is the p-th percentile of ds (100: the largest).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return s[max(i, 0)].Round(100 * time.Microsecond)
}
