// Command syslogsend is the sender of bench/syslog.py: it sends N syslog
// messages as fast as it can over UDP, TCP (LF framing) or a unix datagram
// socket (/dev/log), each "<PRI>Mmm dd hh:mm:ss bench TAG[PID]: seq-NNNNNNNNNN
// filler", and prints what it sent and how long it took as JSON. On the
// unix socket sends block while the receiver's queue is full, so nothing
// is lost there; on TCP the same through the connection's window; UDP may
// lose.
//
// UDP datagrams go out -batch at a time with sendmmsg(2) (one system call
// per batch, the kernel's UDP path still per datagram): with one send(2)
// per datagram the sender, not the daemon, was the limit on a 2-core
// machine. -batch 1 sends one datagram per call, as before.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	proto := flag.String("proto", "udp", "udp, tcp or unix")
	addr := flag.String("addr", "127.0.0.1:5514", "host:port, or the socket path for unix")
	n := flag.Int("n", 100000, "messages to send")
	size := flag.Int("size", 100, "bytes of message text after the header")
	pri := flag.Int("pri", 134, "PRI value (134 = local0.info)")
	batch := flag.Int("batch", 64, "UDP datagrams per sendmmsg call (1: one send per datagram)")
	gso := flag.Int("gso", 1, "UDP messages per datagram sent, cut into one datagram each by the kernel (UDP_SEGMENT, at most 64)")
	flag.Parse()
	if err := run(*proto, *addr, *n, *size, *pri, max(*batch, 1), min(max(*gso, 1), 64)); err != nil {
		fmt.Fprintln(os.Stderr, "syslogsend:", err)
		os.Exit(1)
	}
}

func run(proto, addr string, n, size, pri, batch, gso int) error {
	network := proto
	if proto == "unix" {
		network = "unixgram"
	}
	c, err := net.Dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.SetWriteBuffer(4 << 20)
	}
	filler := make([]byte, max(size-15, 0))
	for i := range filler {
		filler[i] = 'a' + byte(i%26)
	}
	head := fmt.Appendf(nil, "<%d>%s bench bench[%d]: seq-", pri, time.Now().Format(time.Stamp), os.Getpid())
	msg := func(buf []byte, i int) []byte {
		buf = append(buf, head...)
		buf = appendSeq(buf, i)
		buf = append(buf, ' ')
		buf = append(buf, filler...)
		if proto == "tcp" {
			buf = append(buf, '\n')
		}
		return buf
	}
	start := time.Now()
	if uc, ok := c.(*net.UDPConn); ok && (batch > 1 || gso > 1) {
		err = sendBatches(uc, n, batch, gso, msg)
	} else {
		err = sendEach(c, proto == "tcp", n, msg)
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"proto": proto, "sent": n, "send_s": elapsed.Seconds(), "msgs_per_s": float64(n) / elapsed.Seconds()})
}

// sendEach writes the messages one at a time (TCP through a buffer).
func sendEach(c net.Conn, buffered bool, n int, msg func([]byte, int) []byte) error {
	var w interface{ Write([]byte) (int, error) } = c
	var bw *bufio.Writer
	if buffered {
		bw = bufio.NewWriterSize(c, 256<<10)
		w = bw
	}
	var buf []byte
	for i := range n {
		buf = msg(buf[:0], i)
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	if bw != nil {
		return bw.Flush()
	}
	return nil
}

// appendSeq appends i as ten zero-padded digits.
func appendSeq(b []byte, i int) []byte {
	s := strconv.Itoa(i)
	for range 10 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}
