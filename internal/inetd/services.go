package inetd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Services is the services(5) database: "name port/protocol aliases…".
type Services struct {
	ports    map[string]int    // "name/proto" (names and aliases) → port
	official map[string]string // "name/proto" → the entry's first name
}

// ParseServices reads a services(5) file. Malformed lines are skipped,
// as getservbyname(3) skips them; a name seen twice keeps its first port.
func ParseServices(r io.Reader) (*Services, error) {
	s := &Services{ports: map[string]int{}, official: map[string]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		port, err := strconv.Atoi(portStr)
		if !ok || err != nil || port < 0 || port > 65535 || proto == "" {
			continue
		}
		for _, n := range append([]string{f[0]}, f[2:]...) {
			key := n + "/" + proto
			if _, dup := s.ports[key]; !dup {
				s.ports[key] = port
				s.official[key] = f[0]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read services: %w", err)
	}
	return s, nil
}

// Port looks name up for proto ("tcp", "udp"); a decimal number is a
// port by itself. official is the entry's first name ("" for a number).
func (s *Services) Port(name, proto string) (port int, official string, err error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 1 || n > 65535 {
			return 0, "", fmt.Errorf("port %d out of range 1…65535", n)
		}
		return n, "", nil
	}
	if s != nil {
		if p, ok := s.ports[name+"/"+proto]; ok && p > 0 {
			return p, s.official[name+"/"+proto], nil
		}
	}
	return 0, "", fmt.Errorf("unknown service %s/%s (not in the services file)", name, proto)
}
