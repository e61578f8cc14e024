package procfs

import (
	"bytes"
	"fmt"
)

// Status holds the fields of /proc/PID/status the views use. Memory sizes
// are in KiB as the file gives them.
type Status struct {
	Name    string
	Umask   int    // -1 when the kernel does not report it
	UIDs    [4]int // real, effective, saved, filesystem
	GIDs    [4]int
	Groups  []int
	VmLck   uint64
	VmRSS   uint64
	VmSwap  uint64
	RssFile uint64
	RssShm  uint64
	Threads int
	NSpid   []int
	SigBlk  uint64
	SigIgn  uint64
	SigCgt  uint64
	CapEff  uint64
	// Seccomp is 0 (off), 1 (strict) or 2 (filter).
	Seccomp int
}

// Status reads /proc/PID/status.
func (r *Reader) Status(pid int) (Status, error) {
	b, err := r.read(r.FS.pidPath(pid, "status"))
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

// StatusIDs reads only UIDs, VmLck and VmRSS of /proc/PID/status, what a
// process table needs; it stops at the last of them and so skips half the
// file's lines for every process listed.
func (r *Reader) StatusIDs(pid int) (Status, error) {
	b, err := r.read(r.FS.pidPath(pid, "status"))
	if err != nil {
		return Status{}, err
	}
	return ParseStatusIDs(b)
}

// statusKeyNames are the keys of status the parser knows; statusKeys
// gives each a bit, in this order.
var statusKeyNames = []string{"Name", "Umask", "Uid", "Gid", "Groups", "NSpid", "Threads", "Seccomp",
	"VmLck", "VmRSS", "VmSwap", "RssFile", "RssShmem", "SigBlk", "SigIgn", "SigCgt", "CapEff"}

var statusKeys = func() map[string]uint32 {
	m := make(map[string]uint32, len(statusKeyNames))
	for i, k := range statusKeyNames {
		m[k] = 1 << i
	}
	return m
}()

// ParseStatus parses the content of a status file. Unknown keys are
// ignored; a known key with a malformed value is an error.
func ParseStatus(b []byte) (Status, error) {
	return parseStatus(b, 1<<len(statusKeyNames)-1)
}

// ParseStatusIDs parses the Uid, VmLck and VmRSS lines of a status file
// and ignores the rest.
func ParseStatusIDs(b []byte) (Status, error) {
	return parseStatus(b, statusKeys["Uid"]|statusKeys["VmLck"]|statusKeys["VmRSS"])
}

// parseStatus parses the keys in the set want and returns once it has
// seen them all.
func parseStatus(b []byte, want uint32) (Status, error) {
	s := Status{Umask: -1}
	var seen uint32
	for len(b) > 0 && seen != want {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key := line[:colon]
		bit := statusKeys[string(key)]
		if bit&want == 0 || seen&bit != 0 {
			continue // the kernel writes each key once; a repeat is ignored
		}
		seen |= bit
		if err := s.set(string(key), bytes.TrimSpace(line[colon+1:])); err != nil {
			return s, fmt.Errorf("status: %s: %w", key, err)
		}
	}
	return s, nil
}

func (s *Status) set(key string, val []byte) error {
	var err error
	switch key {
	case "Name":
		// The kernel escapes '\n' and '\\' in Name; keep the text as given.
		s.Name = string(val)
	case "Umask":
		s.Umask, err = octal(val)
	case "Uid":
		err = ids(val, s.UIDs[:])
	case "Gid":
		err = ids(val, s.GIDs[:])
	case "Groups":
		s.Groups, err = intList(val)
	case "NSpid":
		s.NSpid, err = intList(val)
	case "Threads":
		s.Threads, err = num(val)
	case "Seccomp":
		s.Seccomp, err = num(val)
	case "VmLck":
		s.VmLck, err = kib(val)
	case "VmRSS":
		s.VmRSS, err = kib(val)
	case "VmSwap":
		s.VmSwap, err = kib(val)
	case "RssFile":
		s.RssFile, err = kib(val)
	case "RssShmem":
		s.RssShm, err = kib(val)
	case "SigBlk":
		s.SigBlk, err = hex(val)
	case "SigIgn":
		s.SigIgn, err = hex(val)
	case "SigCgt":
		s.SigCgt, err = hex(val)
	case "CapEff":
		s.CapEff, err = hex(val)
	}
	return err
}

func num(b []byte) (int, error) {
	v, ok := atoi(b)
	if !ok {
		return 0, fmt.Errorf("bad number %q", trim(b))
	}
	return int(v), nil
}

func octal(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("bad octal number %q", trim(b))
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("bad octal number %q", trim(b))
		}
		v = v*8 + int(c-'0')
	}
	return v, nil
}

func hex(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 16 {
		return 0, fmt.Errorf("bad hex number %q", trim(b))
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("bad hex number %q", trim(b))
		}
		v = v<<4 | uint64(d)
	}
	return v, nil
}

func kib(b []byte) (uint64, error) {
	b = bytes.TrimSuffix(b, []byte(" kB"))
	v, ok := atou(bytes.TrimSpace(b))
	if !ok {
		return 0, fmt.Errorf("bad size %q", trim(b))
	}
	return v, nil
}

func ids(b []byte, out []int) error {
	var f [4][]byte
	if n := fields(b, f[:]); n != 4 {
		return fmt.Errorf("%d ids; want 4", n)
	}
	for i := range out {
		v, ok := atoi(f[i])
		if !ok {
			return fmt.Errorf("bad id %q", f[i])
		}
		out[i] = int(v)
	}
	return nil
}

func intList(b []byte) ([]int, error) {
	var out []int
	for _, w := range bytes.Fields(b) {
		v, ok := atoi(w)
		if !ok {
			return nil, fmt.Errorf("bad number %q", trim(w))
		}
		out = append(out, int(v))
	}
	return out, nil
}
