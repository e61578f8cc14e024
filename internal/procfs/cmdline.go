package procfs

import (
	"bytes"
	"fmt"
	"strings"
)

// Cmdline reads /proc/PID/cmdline split into arguments. Kernel threads and
// zombies have none.
func (r *Reader) Cmdline(pid int) ([]string, error) {
	b, err := r.read(r.FS.pidPath(pid, "cmdline"))
	if err != nil {
		return nil, err
	}
	return ParseCmdline(b), nil
}

// ParseCmdline splits NUL-separated arguments. A process that rewrote its
// argv (setproctitle) may leave one long string with spaces, or no final
// NUL; both are kept as given.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// Comm reads /proc/PID/comm without its trailing newline.
func (r *Reader) Comm(pid int) (string, error) {
	b, err := r.read(r.FS.pidPath(pid, "comm"))
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b, []byte("\n"))), nil
}

// Wchan reads /proc/PID/wchan: the kernel function the task sleeps in, or
// "" when it is running (the file then says "0").
func (r *Reader) Wchan(pid int) (string, error) {
	b, err := r.read(r.FS.pidPath(pid, "wchan"))
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "0" {
		s = ""
	}
	return s, nil
}

// Statm holds /proc/PID/statm, in pages.
type Statm struct {
	Size, Resident, Shared, Text, Data uint64
}

// Statm reads /proc/PID/statm.
func (r *Reader) Statm(pid int) (Statm, error) {
	b, err := r.read(r.FS.pidPath(pid, "statm"))
	if err != nil {
		return Statm{}, err
	}
	return ParseStatm(b)
}

// ParseStatm parses the content of a statm file.
func ParseStatm(b []byte) (Statm, error) {
	var f [7][]byte
	var s Statm
	if n := fields(b, f[:]); n < 6 {
		return s, fmt.Errorf("statm: %d fields; want 7", n)
	}
	dst := []*uint64{&s.Size, &s.Resident, &s.Shared, &s.Text, nil, &s.Data}
	for i, d := range dst {
		v, ok := atou(f[i])
		if !ok {
			return s, fmt.Errorf("statm: bad number %q", trim(f[i]))
		}
		if d != nil {
			*d = v
		}
	}
	return s, nil
}

// TaskComm reads the name of thread tid of pid (/proc/PID/task/TID/comm).
func (r *Reader) TaskComm(pid, tid int) (string, error) {
	b, err := r.read(r.FS.pidPath(pid, "task/"+itoa(tid)+"/comm"))
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b, []byte("\n"))), nil
}
