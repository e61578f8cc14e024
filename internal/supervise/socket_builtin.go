package supervise

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// builtinServer serves inetd's internal services (X-Tend-Internal=) in
// tend itself: echo (RFC 862), discard (RFC 863), chargen (RFC 864),
// daytime (RFC 867) and time (RFC 868). Datagrams are answered on the
// manager loop, one per readable event; each stream connection gets a
// goroutine that the socket owns: MaxConnections= bounds them, an idle
// connection is closed after builtinIdle, and stopping the socket
// closes every connection and waits for the goroutines.
type builtinServer struct {
	m       *Manager
	owner   *rt
	service string

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// builtinIdle closes a built-in's connection on which nothing happened
// for that long (a client that connects and never sends).
const builtinIdle = 2 * time.Minute

func newBuiltinServer(m *Manager, s *socket) *builtinServer {
	return &builtinServer{m: m, owner: s.rt, service: s.spec.Internal, conns: map[net.Conn]struct{}{}}
}

// serve takes over an accepted connection.
func (b *builtinServer) serve(f *os.File, peer netip.Addr) {
	c, err := net.FileConn(f) // a duplicate in Go's poller, for deadlines
	f.Close()
	if err != nil {
		b.m.box.put(evKind{u: b.owner, ev: builtinDone{peer: peer}})
		return
	}
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.stream(c)
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.Close()
		b.m.box.put(evKind{u: b.owner, ev: builtinDone{peer: peer}})
	}()
}

// stream runs one connection of the built-in service.
func (b *builtinServer) stream(c net.Conn) {
	idle := func() { _ = c.SetDeadline(time.Now().Add(builtinIdle)) }
	idle()
	switch b.service {
	case "echo", "discard":
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 && b.service == "echo" {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
			idle()
		}
	case "daytime":
		_, _ = io.WriteString(c, daytime(time.Now()))
	case "time":
		_, _ = c.Write(rfc868(time.Now()))
	case "chargen":
		var line [74]byte
		for i := 0; ; i++ {
			chargenLine(line[:], i)
			if _, err := c.Write(line[:]); err != nil {
				return
			}
			idle()
		}
	}
}

// datagram answers one datagram on fd (non-blocking).
func (b *builtinServer) datagram(m *Manager, fd int) {
	var buf [1500]byte
	n, from, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
	if err != nil || from == nil {
		return
	}
	var reply []byte
	switch b.service {
	case "echo":
		reply = buf[:n]
	case "daytime":
		reply = []byte(daytime(time.Now()))
	case "time":
		reply = rfc868(time.Now())
	case "chargen":
		var line [74]byte
		chargenLine(line[:], 0)
		reply = line[:]
	default: // discard
		return
	}
	_ = unix.Sendto(fd, reply, unix.MSG_DONTWAIT, from)
}

// stop closes every connection and waits for their goroutines.
func (b *builtinServer) stop() {
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (s *socket) stopBuiltin() {
	if s.builtin != nil {
		s.builtin.stop()
		s.builtin = nil
	}
}

// daytime is inetd's answer: ctime(3) and CRLF.
func daytime(t time.Time) string { return t.Format("Mon Jan _2 15:04:05 2006") + "\r\n" }

// rfc868 is the time in seconds since 1900-01-01, 32 bits big-endian.
func rfc868(t time.Time) []byte {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], uint32(t.Unix()+2208988800))
	return out[:]
}

// chargenLine fills line (72 characters and CRLF) with the i-th line of
// the rotating pattern of the 95 printable ASCII characters.
func chargenLine(line []byte, i int) {
	for j := range 72 {
		line[j] = byte(' ' + (i+j)%95)
	}
	line[72], line[73] = '\r', '\n'
}
