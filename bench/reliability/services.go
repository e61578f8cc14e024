package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// The program is also the services it measures: `reliability writer`
// and `reliability notify`, run by the units it writes.

// serviceMain runs a service mode and reports whether args named one.
func serviceMain(args []string) (int, bool) {
	if len(args) < 2 {
		return 0, false
	}
	switch args[1] {
	case "writer":
		return writerMain(args[2:]), true
	case "notify":
		return notifyMain(), true
	}
	return 0, false
}

// writerMain writes "seq N" lines to stdout at a rate (lines per
// second, one write(2) a millisecond with the lines due by then) and
// records the longest write.
// SIGUSR1 writes the longest write since the last SIGUSR1 and the lines
// written so far to the stats file and starts a new window; SIGTERM does
// the same and exits.
func writerMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: reliability writer RATE STATSFILE")
		return 2
	}
	rate, err := strconv.Atoi(args[0])
	if err != nil || rate < 1000 {
		fmt.Fprintln(os.Stderr, "writer: rate must be at least 1000 lines/s")
		return 2
	}
	stats := args[1]
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var n int
	var longest time.Duration
	var buf []byte
	start := time.Now()
	for {
		select {
		case s := <-sigs:
			writeStats(stats, n, longest)
			longest = 0
			if s == syscall.SIGTERM {
				return 0
			}
		case now := <-tick.C:
			// The lines due by now: a late tick (or a blocked write)
			// is caught up, so the rate holds on average.
			due := int(now.Sub(start).Seconds() * float64(rate))
			buf = buf[:0]
			for ; n < due; n++ {
				buf = fmt.Appendf(buf, "seq %d\n", n)
			}
			t0 := time.Now()
			if _, err := os.Stdout.Write(buf); err != nil {
				writeStats(stats, n, longest)
				fmt.Fprintln(os.Stderr, "writer:", err)
				return 1
			}
			longest = max(longest, time.Since(t0))
		}
	}
}

// writeStats replaces the stats file: lines written, longest write in
// nanoseconds.
func writeStats(path string, lines int, longest time.Duration) {
	tmp := path + ".tmp"
	_ = os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", lines, longest.Nanoseconds()), 0o644)
	_ = os.Rename(tmp, path)
}

// notifyMain tells the manager it is ready, then becomes sleep(1): a
// Type=notify service that costs no more than a sleeping process.
func notifyMain() int {
	addr := os.Getenv("NOTIFY_SOCKET")
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		return 1
	}
	if _, err := c.Write([]byte("READY=1")); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		return 1
	}
	c.Close()
	err = syscall.Exec("/bin/sleep", []string{"sleep", "1000000"}, os.Environ())
	fmt.Fprintln(os.Stderr, "notify: exec sleep:", err)
	return 1
}
