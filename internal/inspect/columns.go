package inspect

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Column is one ps column, named as procps names it.
type Column struct {
	Key    string
	Header string
	Right  bool // right-aligned (numbers)
	Need   Need
	Value  func(p *Process, s *Snapshot) string
	// Num, when set, gives the sort key; otherwise Value sorts as text.
	Num func(p *Process, s *Snapshot) int64
}

func num(v int) string { return strconv.Itoa(v) }

var columns = []Column{
	{Key: "pid", Header: "PID", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.PID) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.PID) }},
	{Key: "ppid", Header: "PPID", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.PPID) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.PPID) }},
	{Key: "pgid", Header: "PGID", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.PGID) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.PGID) }},
	{Key: "sid", Header: "SID", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.SID) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.SID) }},
	{Key: "tty", Header: "TT", Value: func(p *Process, _ *Snapshot) string { return p.TTY }},
	{Key: "stat", Header: "STAT", Value: func(p *Process, _ *Snapshot) string { return p.Stat }, Need: NeedStatus},
	{Key: "user", Header: "USER", Value: func(p *Process, _ *Snapshot) string { return userColumn(p.User) }, Need: NeedUser},
	{Key: "uid", Header: "UID", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.UID) }, Need: NeedUser,
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.UID) }},
	{Key: "ruser", Header: "RUSER", Value: func(p *Process, _ *Snapshot) string { return userColumn(p.RUser) }, Need: NeedStatus},
	{Key: "pcpu", Header: "%CPU", Right: true, Value: func(p *Process, s *Snapshot) string { return tenths(PCPU(p, s.Uptime)) },
		Num: func(p *Process, s *Snapshot) int64 { return int64(PCPU(p, s.Uptime)) }},
	{Key: "pmem", Header: "%MEM", Right: true, Value: func(p *Process, s *Snapshot) string { return tenths(PMEM(p, s.MemTotal)) },
		Num: func(p *Process, s *Snapshot) int64 { return int64(p.RSS) }, Need: NeedStatus},
	{Key: "c", Header: "C", Right: true, Value: func(p *Process, s *Snapshot) string { return num(int(min(PCPU(p, s.Uptime)/10, 99))) },
		Num: func(p *Process, s *Snapshot) int64 { return int64(PCPU(p, s.Uptime)) }},
	{Key: "vsz", Header: "VSZ", Right: true, Value: func(p *Process, _ *Snapshot) string { return strconv.FormatUint(p.VSZ, 10) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.VSZ) }},
	{Key: "rss", Header: "RSS", Right: true, Value: func(p *Process, _ *Snapshot) string { return strconv.FormatUint(p.RSS, 10) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.RSS) }, Need: NeedStatus},
	{Key: "nlwp", Header: "NLWP", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(p.Threads) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.Threads) }},
	{Key: "ni", Header: "NI", Right: true, Value: niceColumn,
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.Nice) }},
	{Key: "pri", Header: "PRI", Right: true, Value: func(p *Process, _ *Snapshot) string { return num(39 - p.Prio) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(39 - p.Prio) }},
	{Key: "stime", Header: "STIME", Value: func(p *Process, s *Snapshot) string { return STime(p.Start, s.At) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.StartTicks) }},
	{Key: "start", Header: "STARTED", Right: true, Value: func(p *Process, s *Snapshot) string { return StartColumn(p.Start, s.At) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.StartTicks) }},
	{Key: "time", Header: "TIME", Right: true, Value: func(p *Process, _ *Snapshot) string { return CPUTime(p.CPUTicks) },
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.CPUTicks) }},
	{Key: "etime", Header: "ELAPSED", Right: true, Value: func(p *Process, s *Snapshot) string { return Elapsed(etimeSeconds(p, s.Uptime)) },
		Num: func(p *Process, s *Snapshot) int64 { return int64(etimeSeconds(p, s.Uptime)) }},
	{Key: "wchan", Header: "WCHAN", Need: NeedWchan, Value: func(p *Process, _ *Snapshot) string { return dash(p.Wchan) }},
	{Key: "unit", Header: "UNIT", Need: NeedCgroup, Value: func(p *Process, _ *Snapshot) string { return dash(p.Unit) }},
	{Key: "cgroup", Header: "CGROUP", Need: NeedCgroup, Value: func(p *Process, _ *Snapshot) string { return dash(p.Cgroup) }},
	{Key: "parent", Header: "PARENT", Value: parentColumn},
	{Key: "comm", Header: "COMMAND", Value: func(p *Process, _ *Snapshot) string { return CommandName(p) }},
	{Key: "args", Header: "COMMAND", Need: NeedArgs, Value: func(p *Process, _ *Snapshot) string { return CommandLine(p) }},
}

// aliases maps the other procps names of the same columns.
var aliases = map[string]string{
	"%cpu": "pcpu", "%mem": "pmem", "cmd": "args", "command": "args", "ucmd": "comm", "ucomm": "comm",
	"tname": "tty", "tt": "tty", "euser": "user", "uname": "user", "euid": "uid", "cputime": "time",
	"pgrp": "pgid", "sess": "sid", "session": "sid", "nice": "ni", "thcount": "nlwp", "rssize": "rss",
	"rsz": "rss", "vsize": "vsz", "start_time": "stime", "bsdstart": "start", "s": "stat",
}

// LookupColumn finds a column by its procps name or alias.
func LookupColumn(key string) (Column, bool) {
	key = strings.ToLower(key)
	if a, ok := aliases[key]; ok {
		key = a
	}
	for _, c := range columns {
		if c.Key == key {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnKeys lists the known column names, for help and error messages.
func ColumnKeys() []string {
	keys := make([]string, len(columns))
	for i, c := range columns {
		keys[i] = c.Key
	}
	return keys
}

// ParseColumns parses a procps -o list ("pid,ppid,args" or with spaces;
// "key=HEADER" renames a header; "key=" hides it).
func ParseColumns(specs []string) ([]Column, error) {
	var out []Column
	for _, spec := range specs {
		for _, f := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' }) {
			key, header, renamed := strings.Cut(f, "=")
			c, ok := LookupColumn(key)
			if !ok {
				return nil, fmt.Errorf("unknown column %q (known: %s)", key, strings.Join(ColumnKeys(), ", "))
			}
			if renamed {
				c.Header = header
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// niceColumn prints "-" for real-time policies, as procps does.
func niceColumn(p *Process, _ *Snapshot) string {
	switch p.Policy {
	case 0, 3, 5: // SCHED_OTHER, SCHED_BATCH, SCHED_IDLE
		return num(p.Nice)
	}
	return "-"
}

func parentColumn(p *Process, s *Snapshot) string {
	if pp := s.Get(p.PPID); pp != nil {
		return pp.Comm + "(" + num(p.PPID) + ")"
	}
	return "(" + num(p.PPID) + ")"
}

// compare orders two processes by a column (numeric where it has a key).
func (c Column) compare(a, b *Process, s *Snapshot) int {
	if c.Num != nil {
		return cmp.Compare(c.Num(a, s), c.Num(b, s))
	}
	return strings.Compare(c.Value(a, s), c.Value(b, s))
}
