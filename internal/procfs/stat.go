package procfs

import (
	"bytes"
	"fmt"
)

// Stat is the parsed content of /proc/PID/stat (see proc(5)). Times are in
// clock ticks (UserHZ), memory sizes in bytes (VSize) or pages (RSS).
type Stat struct {
	PID        int
	Comm       string // without the parentheses; may hold spaces, ')' and newlines
	State      byte   // R, S, D, Z, T, t, X, I, …
	PPID       int
	PGID       int
	SID        int
	TTY        uint64 // device number of the controlling terminal, 0 if none
	TPGID      int    // foreground process group of that terminal, -1 if none
	Flags      uint64
	MinFlt     uint64
	MajFlt     uint64
	UTime      uint64
	STime      uint64
	CUTime     uint64
	CSTime     uint64
	Priority   int
	Nice       int
	Threads    int
	StartTime  uint64 // ticks after boot
	VSize      uint64 // bytes
	RSS        uint64 // pages
	Processor  int
	RTPriority int
	Policy     int
}

// PFKthread is the task flag of kernel threads (PF_KTHREAD).
const PFKthread = 0x00200000

// Kernel reports whether the task is a kernel thread.
func (s *Stat) Kernel() bool { return s.Flags&PFKthread != 0 }

// Stat reads /proc/PID/stat.
func (r *Reader) Stat(pid int) (Stat, error) {
	b, err := r.read(r.FS.pidPath(pid, "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// TaskStat reads /proc/PID/task/TID/stat.
func (r *Reader) TaskStat(pid, tid int) (Stat, error) {
	b, err := r.read(r.FS.pidPath(pid, "task/"+itoa(tid)+"/stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// ParseStat parses the content of a stat file. The command name is found
// between the first '(' and the last ')', because it may contain both.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return s, fmt.Errorf("stat: no command name in %q", trim(b))
	}
	pid, ok := atoi(bytes.TrimSpace(b[:open]))
	if !ok {
		return s, fmt.Errorf("stat: bad pid in %q", trim(b))
	}
	s.PID = int(pid)
	s.Comm = string(b[open+1 : closing])
	rest := b[closing+1:]
	var f [40][]byte
	n := fields(rest, f[:])
	if n < 22 {
		return s, fmt.Errorf("stat: %d fields after the command name; want at least 22", n)
	}
	if len(f[0]) != 1 {
		return s, fmt.Errorf("stat: bad state %q", f[0])
	}
	s.State = f[0][0]
	// Fields are numbered as in proc(5); f[0] is field 3.
	ints := []*int{4: &s.PPID, 5: &s.PGID, 6: &s.SID, 8: &s.TPGID, 18: &s.Priority, 19: &s.Nice, 20: &s.Threads,
		39: &s.Processor, 40: &s.RTPriority, 41: &s.Policy}
	uints := []*uint64{7: &s.TTY, 9: &s.Flags, 10: &s.MinFlt, 12: &s.MajFlt, 14: &s.UTime, 15: &s.STime,
		16: &s.CUTime, 17: &s.CSTime, 22: &s.StartTime, 23: &s.VSize, 24: &s.RSS}
	for i := 4; i < 3+n; i++ {
		v := f[i-3]
		if i < len(ints) && ints[i] != nil {
			x, ok := atoi(v)
			if !ok {
				return s, fmt.Errorf("stat: field %d: bad number %q", i, v)
			}
			*ints[i] = int(x)
		} else if i < len(uints) && uints[i] != nil {
			x, ok := atou(v)
			if !ok {
				return s, fmt.Errorf("stat: field %d: bad number %q", i, v)
			}
			*uints[i] = x
		}
	}
	return s, nil
}

// fields splits b at ASCII spaces into out and returns how many it found
// (at most len(out)).
func fields(b []byte, out [][]byte) int {
	n := 0
	i := 0
	for i < len(b) && n < len(out) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t') {
			i++
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' {
			j++
		}
		if j > i {
			out[n] = b[i:j]
			n++
		}
		i = j
	}
	return n
}

// atoi parses a signed decimal without allocating.
func atoi(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	u, ok := atou(b)
	if !ok || u > 1<<63 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	if u == 1<<63 {
		return 0, false
	}
	return int64(u), true
}

// atou parses an unsigned decimal without allocating.
func atou(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	neg := i < 0
	u := uint64(i)
	if neg {
		u = uint64(-i)
	}
	for {
		n--
		b[n] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
