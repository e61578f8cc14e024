// Command sockclient is the client loop of bench/sockets.py: it opens
// -n connections to -addr (at most -c at a time, for at most -t), sends
// one byte on each, waits for the first byte back and closes it. It
// prints one JSON object: connections done, errors, connections per
// second, and the p50/p99 of connect-to-first-byte latency.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

type result struct {
	Done     int     `json:"done"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"conn_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7", "address to connect to")
	n := flag.Int("n", 2000, "connections to make")
	c := flag.Int("c", 4, "connections at a time")
	limit := flag.Duration("t", 30*time.Second, "stop after this long")
	flag.Parse()

	var mu sync.Mutex // guards lat, errs, firstErr
	var lat []time.Duration
	var errs int
	var firstErr string
	next := make(chan struct{})
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				d, err := one(*addr)
				mu.Lock()
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	end := start.Add(*limit)
	for i := 0; i < *n && time.Now().Before(end); i++ {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	r := result{Done: len(lat), Errors: errs, FirstErr: firstErr, Seconds: el.Seconds(), PerSec: float64(len(lat)) / el.Seconds()}
	if len(lat) > 0 {
		r.P50ms = ms(lat[len(lat)*50/100])
		r.P99ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// one makes one connection and returns the time from the start of the
// connect to the first byte of the answer.
func one(addr string) (time.Duration, error) {
	t0 := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(t0.Add(10 * time.Second))
	if _, err := conn.Write([]byte("x")); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	return time.Since(t0), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
