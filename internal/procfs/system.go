package procfs

import (
	"bytes"
	"fmt"
	"strconv"
)

// LoadAvg is /proc/loadavg.
type LoadAvg struct {
	Load1, Load5, Load15 float64
	Running, Total       int
	LastPID              int
}

// LoadAvg reads /proc/loadavg.
func (r *Reader) LoadAvg() (LoadAvg, error) {
	b, err := r.read(r.FS.Path("loadavg"))
	if err != nil {
		return LoadAvg{}, err
	}
	return ParseLoadAvg(b)
}

// ParseLoadAvg parses "0.00 0.01 0.05 1/123 4567".
func ParseLoadAvg(b []byte) (LoadAvg, error) {
	var l LoadAvg
	var f [5][]byte
	if n := fields(b, f[:]); n != 5 {
		return l, fmt.Errorf("loadavg: %d fields; want 5", n)
	}
	var err error
	for i, d := range []*float64{&l.Load1, &l.Load5, &l.Load15} {
		if *d, err = strconv.ParseFloat(string(f[i]), 64); err != nil {
			return l, fmt.Errorf("loadavg: %w", err)
		}
	}
	run, tot, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return l, fmt.Errorf("loadavg: bad task counts %q", f[3])
	}
	if l.Running, err = num(run); err == nil {
		if l.Total, err = num(tot); err == nil {
			l.LastPID, err = num(f[4])
		}
	}
	if err != nil {
		return l, fmt.Errorf("loadavg: %w", err)
	}
	return l, nil
}

// MemInfo maps the keys of /proc/meminfo to KiB.
type MemInfo map[string]uint64

// MemInfo reads /proc/meminfo.
func (r *Reader) MemInfo() (MemInfo, error) {
	b, err := r.read(r.FS.Path("meminfo"))
	if err != nil {
		return nil, err
	}
	return ParseMemInfo(b)
}

// ParseMemInfo parses "Key:   123 kB" lines; values without a unit
// (HugePages_Total) are kept as given.
func ParseMemInfo(b []byte) (MemInfo, error) {
	m := MemInfo{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		n, err := kib(bytes.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("meminfo: %s: %w", k, err)
		}
		m[string(k)] = n
	}
	return m, nil
}

// CPUTimes are the clock-tick counters of one "cpu" line of /proc/stat.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
}

// Total sums every counter (guest time is already in user and nice).
func (c CPUTimes) Total() uint64 {
	return c.User + c.Nice + c.System + c.Idle + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal
}

// SysStat is the part of /proc/stat the views use.
type SysStat struct {
	CPU      CPUTimes // all CPUs together
	CPUs     int      // number of cpuN lines
	BootTime int64    // btime, seconds since the epoch
	Running  int      // procs_running
	Blocked  int      // procs_blocked
}

// SysStat reads /proc/stat.
func (r *Reader) SysStat() (SysStat, error) {
	b, err := r.read(r.FS.Path("stat"))
	if err != nil {
		return SysStat{}, err
	}
	return ParseSysStat(b)
}

// ParseSysStat parses the content of /proc/stat.
func ParseSysStat(b []byte) (SysStat, error) {
	var s SysStat
	var f [12][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		n := fields(line, f[:])
		if n < 2 {
			continue
		}
		key := f[0]
		var err error
		switch {
		case string(key) == "cpu":
			err = cpuTimes(f[1:n], &s.CPU)
		case bytes.HasPrefix(key, []byte("cpu")):
			s.CPUs++
		case string(key) == "btime":
			var v int
			v, err = num(f[1])
			s.BootTime = int64(v)
		case string(key) == "procs_running":
			s.Running, err = num(f[1])
		case string(key) == "procs_blocked":
			s.Blocked, err = num(f[1])
		}
		if err != nil {
			return s, fmt.Errorf("stat: %s: %w", key, err)
		}
	}
	if s.BootTime == 0 {
		return s, fmt.Errorf("stat: no btime line")
	}
	return s, nil
}

func cpuTimes(f [][]byte, c *CPUTimes) error {
	dst := []*uint64{&c.User, &c.Nice, &c.System, &c.Idle, &c.IOWait, &c.IRQ, &c.SoftIRQ, &c.Steal}
	for i := 0; i < len(dst) && i < len(f); i++ {
		v, ok := atou(f[i])
		if !ok {
			return fmt.Errorf("bad counter %q", trim(f[i]))
		}
		*dst[i] = v
	}
	return nil
}

// Uptime reads /proc/uptime: seconds since boot.
func (r *Reader) Uptime() (float64, error) {
	b, err := r.read(r.FS.Path("uptime"))
	if err != nil {
		return 0, err
	}
	var f [2][]byte
	if fields(b, f[:]) < 1 {
		return 0, fmt.Errorf("uptime: empty")
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return 0, fmt.Errorf("uptime: %w", err)
	}
	return v, nil
}
