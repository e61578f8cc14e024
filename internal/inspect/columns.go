package inspect

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Just is how a column is aligned and cut, as procps lays it out.
type Just uint8

// Column alignments.
const (
	JustLeft      Just = iota // padded on the right, never cut
	JustRight                 // padded on the left, never cut
	JustUser                  // a name: left, cut to the width with '+'
	JustWchan                 // left, cut to the room it has
	JustUnlimited             // text (args, comm): cut to the room it has
)

// Column is one ps column, named, sized and aligned as procps does.
type Column struct {
	Key    string
	Header string
	Width  int
	Just   Just
	// PIDMax columns are as wide as the largest pid (/proc/sys/kernel/pid_max).
	PIDMax bool
	// Forest columns carry the --forest / -H prefix.
	Forest bool
	// Fit columns (tend's own) are as wide as their widest value.
	Fit  bool
	Need Need
	// Value renders the cell; a column that must be cut is cut by the layout.
	Value func(p *Process, s *Snapshot) string
	// Num, when set, gives the sort key; otherwise Value sorts as text.
	Num func(p *Process, s *Snapshot) int64

	header   *string // "key=HEADER" of a -o list
	setWidth int     // "key:N" of a -o list
}

// Right reports whether the column is right-aligned (numbers).
func (c Column) Right() bool { return c.Just == JustRight }

func num(v int) string { return strconv.Itoa(v) }

func ids(get func(p *Process) int) (func(p *Process, _ *Snapshot) string, func(p *Process, _ *Snapshot) int64) {
	return func(p *Process, _ *Snapshot) string { return num(get(p)) },
		func(p *Process, _ *Snapshot) int64 { return int64(get(p)) }
}

func pidCol(key, header string, get func(p *Process) int) Column {
	v, n := ids(get)
	return Column{Key: key, Header: header, Width: 5, Just: JustRight, PIDMax: true, Value: v, Num: n}
}

func numCol(key, header string, width int, need Need, get func(p *Process) int) Column {
	v, n := ids(get)
	return Column{Key: key, Header: header, Width: width, Just: JustRight, Need: need, Value: v, Num: n}
}

func kibCol(key, header string, width int, need Need, get func(p *Process) uint64) Column {
	return Column{Key: key, Header: header, Width: width, Just: JustRight, Need: need,
		Value: func(p *Process, _ *Snapshot) string { return strconv.FormatUint(get(p), 10) },
		Num:   func(p *Process, _ *Snapshot) int64 { return int64(get(p)) }}
}

func textCol(key, header string, width int, just Just, need Need, v func(p *Process, s *Snapshot) string) Column {
	return Column{Key: key, Header: header, Width: width, Just: just, Need: need, Value: v}
}

var (
	pcpuCol = Column{Key: "pcpu", Header: "%CPU", Width: 4, Just: JustRight, Value: pcpuValue,
		Num: func(p *Process, s *Snapshot) int64 { return int64(PCPU(p, s)) }}
	pmemCol = Column{Key: "pmem", Header: "%MEM", Width: 4, Just: JustRight, Need: NeedStatus, Value: pmemValue,
		Num: func(p *Process, _ *Snapshot) int64 { return int64(p.RSS) }}
	startTicks = func(p *Process, _ *Snapshot) int64 { return int64(p.StartTicks) }
	cpuTicks   = func(p *Process, _ *Snapshot) int64 { return int64(p.CPUTicks) }
	elapsed    = func(p *Process, s *Snapshot) int64 { return int64(etimeSeconds(p, s)) }
	userName   = func(p *Process, s *Snapshot) string { return psEscape(p.User, s.UTF8) }
	argsValue  = func(p *Process, s *Snapshot) string { return commandLine(p, s.UTF8) }
	commValue  = func(p *Process, s *Snapshot) string { return commandName(p, s.UTF8) }
)

// columns are procps's format specifiers that tend knows, with procps's
// headers, widths and alignment, and tend's own (unit, cgroup, parent).
var columns = []Column{
	pidCol("pid", "PID", func(p *Process) int { return p.PID }),
	pidCol("ppid", "PPID", func(p *Process) int { return p.PPID }),
	pidCol("pgid", "PGID", func(p *Process) int { return p.PGID }),
	pidCol("pgrp", "PGRP", func(p *Process) int { return p.PGID }),
	pidCol("sid", "SID", func(p *Process) int { return p.SID }),
	pidCol("sess", "SESS", func(p *Process) int { return p.SID }),
	pidCol("tpgid", "TPGID", func(p *Process) int { return p.TPGID }),
	pidCol("lwp", "LWP", func(p *Process) int { return p.TID }),
	pidCol("tid", "TID", func(p *Process) int { return p.TID }),
	pidCol("spid", "SPID", func(p *Process) int { return p.TID }),
	numCol("nlwp", "NLWP", 4, 0, func(p *Process) int { return p.Threads }),
	numCol("thcount", "THCNT", 5, 0, func(p *Process) int { return p.Threads }),
	numCol("uid", "UID", 5, NeedUser, func(p *Process) int { return p.UID }),
	numCol("euid", "EUID", 5, NeedUser, func(p *Process) int { return p.UID }),
	numCol("ruid", "RUID", 5, NeedStatus, func(p *Process) int { return p.RUID }),
	textCol("user", "USER", 8, JustUser, NeedUser, userName),
	textCol("euser", "EUSER", 8, JustUser, NeedUser, userName),
	textCol("uname", "USER", 8, JustUser, NeedUser, userName),
	textCol("uid_hack", "UID", 8, JustUser, NeedUser, userName),
	textCol("ruser", "RUSER", 8, JustUser, NeedStatus, func(p *Process, s *Snapshot) string { return psEscape(p.RUser, s.UTF8) }),
	textCol("tty", "TT", 8, JustLeft, 0, func(p *Process, _ *Snapshot) string { return p.TTY }),
	textCol("tt", "TT", 8, JustLeft, 0, func(p *Process, _ *Snapshot) string { return p.TTY }),
	textCol("tname", "TTY", 8, JustLeft, 0, func(p *Process, _ *Snapshot) string { return p.TTY }),
	textCol("stat", "STAT", 4, JustLeft, NeedStatus, func(p *Process, _ *Snapshot) string { return p.Stat }),
	textCol("s", "S", 1, JustLeft, 0, func(p *Process, _ *Snapshot) string { return p.State }),
	textCol("state", "S", 1, JustLeft, 0, func(p *Process, _ *Snapshot) string { return p.State }),
	textCol("f", "F", 1, JustRight, 0, flagsValue),
	textCol("flag", "F", 1, JustRight, 0, flagsValue),
	textCol("flags", "F", 1, JustRight, 0, flagsValue),
	pcpuCol,
	{Key: "c", Header: "C", Width: 2, Just: JustRight, Value: cValue, Num: pcpuCol.Num},
	pmemCol,
	kibCol("vsz", "VSZ", 6, 0, func(p *Process) uint64 { return p.VSZ }),
	kibCol("vsize", "VSZ", 6, 0, func(p *Process) uint64 { return p.VSZ }),
	kibCol("rss", "RSS", 5, NeedStatus, func(p *Process) uint64 { return p.RSS }),
	kibCol("rssize", "RSS", 5, NeedStatus, func(p *Process) uint64 { return p.RSS }),
	kibCol("rsz", "RSZ", 5, NeedStatus, func(p *Process) uint64 { return p.RSS }),
	kibCol("sz", "SZ", 5, 0, func(p *Process) uint64 { return p.VSZ / pageKiB }),
	{Key: "ni", Header: "NI", Width: 3, Just: JustRight, Value: niceColumn, Num: func(p *Process, _ *Snapshot) int64 { return int64(p.Nice) }},
	{Key: "nice", Header: "NI", Width: 3, Just: JustRight, Value: niceColumn, Num: func(p *Process, _ *Snapshot) int64 { return int64(p.Nice) }},
	numCol("pri", "PRI", 3, 0, func(p *Process) int { return 39 - p.Prio }),
	numCol("opri", "PRI", 3, 0, func(p *Process) int { return 60 + p.Prio }),
	numCol("intpri", "PRI", 3, 0, func(p *Process) int { return 60 + p.Prio }),
	numCol("priority", "PRI", 3, 0, func(p *Process) int { return p.Prio }),
	numCol("psr", "PSR", 3, 0, func(p *Process) int { return p.Processor }),
	textCol("class", "CLS", 3, JustLeft, 0, classValue),
	textCol("cls", "CLS", 3, JustRight, 0, classValue),
	textCol("policy", "POL", 3, JustLeft, 0, classValue),
	textCol("addr", "ADDR", 4, JustRight, 0, func(*Process, *Snapshot) string { return "-" }),
	textCol("addr_1", "ADDR", 1, JustLeft, 0, func(*Process, *Snapshot) string { return "-" }),
	{Key: "stime", Header: "STIME", Width: 5, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return STime(p.Start, s.At) }, Num: startTicks},
	{Key: "start_time", Header: "START", Width: 5, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return STime(p.Start, s.At) }, Num: startTicks},
	{Key: "start", Header: "STARTED", Width: 8, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return StartColumn(p.Start, s.At) }, Num: startTicks},
	{Key: "bsdstart", Header: "START", Width: 6, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return BSDStart(p.Start, s.At) }, Num: startTicks},
	{Key: "lstart", Header: "STARTED", Width: 24, Just: JustRight, Value: func(p *Process, _ *Snapshot) string { return LStart(p.Start) }, Num: startTicks},
	{Key: "time", Header: "TIME", Width: 8, Just: JustRight, Value: func(p *Process, _ *Snapshot) string { return CPUTime(p.CPUTicks) }, Num: cpuTicks},
	{Key: "cputime", Header: "TIME", Width: 8, Just: JustRight, Value: func(p *Process, _ *Snapshot) string { return CPUTime(p.CPUTicks) }, Num: cpuTicks},
	{Key: "bsdtime", Header: "TIME", Width: 6, Just: JustRight, Value: func(p *Process, _ *Snapshot) string { return BSDTime(p.CPUTicks) }, Num: cpuTicks},
	{Key: "etime", Header: "ELAPSED", Width: 11, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return Elapsed(etimeSeconds(p, s)) }, Num: elapsed},
	{Key: "etimes", Header: "ELAPSED", Width: 7, Just: JustRight, Value: func(p *Process, s *Snapshot) string { return strconv.FormatUint(etimeSeconds(p, s), 10) }, Num: elapsed},
	textCol("wchan", "WCHAN", 6, JustWchan, NeedWchan, wchanValue),
	{Key: "args", Header: "COMMAND", Width: 27, Just: JustUnlimited, Forest: true, Need: NeedArgs, Value: argsValue},
	{Key: "cmd", Header: "CMD", Width: 27, Just: JustUnlimited, Forest: true, Need: NeedArgs, Value: argsValue},
	{Key: "command", Header: "COMMAND", Width: 27, Just: JustUnlimited, Forest: true, Need: NeedArgs, Value: argsValue},
	{Key: "comm", Header: "COMMAND", Width: 15, Just: JustUnlimited, Forest: true, Value: commValue},
	{Key: "ucmd", Header: "CMD", Width: 15, Just: JustUnlimited, Forest: true, Value: commValue},
	{Key: "ucomm", Header: "COMMAND", Width: 15, Just: JustUnlimited, Forest: true, Value: commValue},
	{Key: "fname", Header: "COMMAND", Width: 8, Just: JustLeft, Forest: true, Value: func(p *Process, s *Snapshot) string {
		return cutCells(psEscape(p.Comm, s.UTF8), 8)
	}},
	textCol("exe", "EXE", 27, JustUnlimited, NeedExe, func(p *Process, s *Snapshot) string { return psEscape(dash(p.Exe), s.UTF8) }),
	{Key: "unit", Header: "UNIT", Just: JustLeft, Fit: true, Need: NeedCgroup, Value: func(p *Process, _ *Snapshot) string { return dash(p.Unit) }},
	{Key: "cgroup", Header: "CGROUP", Width: 27, Just: JustUnlimited, Need: NeedCgroup, Value: func(p *Process, _ *Snapshot) string { return dash(p.Cgroup) }},
	{Key: "parent", Header: "PARENT", Just: JustLeft, Fit: true, Value: parentColumn},
}

// aliases maps procps's other names for the same columns.
var aliases = map[string]string{"%cpu": "pcpu", "%mem": "pmem"}

// LookupColumn finds a column by its procps name.
func LookupColumn(key string) (Column, bool) {
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

// ParseColumns parses procps -o lists ("pid,ppid,args" or with spaces):
// "key=HEADER" renames a header (the last item's header may hold commas
// and spaces), "key=" hides it, "key:N" sets the width. A column whose
// header is longer than its width widens to the header.
func ParseColumns(specs []string) ([]Column, error) {
	var out []Column
	for _, spec := range specs {
		cols, err := parseFormat(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, cols...)
	}
	return out, nil
}

// parseFormat parses one -o argument: items separated by commas, spaces,
// tabs or newlines, one trailing separator allowed, no empty item.
func parseFormat(spec string) ([]Column, error) {
	isSep := func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }
	if strings.TrimFunc(spec, isSep) == "" {
		return nil, fmt.Errorf("empty format list")
	}
	if last := rune(spec[len(spec)-1]); isSep(last) {
		spec = spec[:len(spec)-1]
	}
	items := strings.FieldsFunc(spec, isSep)
	if len(items) != strings.Count(strings.Map(func(r rune) rune {
		if isSep(r) {
			return ','
		}
		return r
	}, spec), ",")+1 {
		return nil, fmt.Errorf("improper format list") // an empty item
	}
	out := make([]Column, 0, len(items))
	for _, item := range items {
		c, err := parseItem(item)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseItem(item string) (Column, error) {
	key, header, renamed := strings.Cut(item, "=")
	key, width, sized := strings.Cut(key, ":")
	c, ok := LookupColumn(key)
	if !ok {
		return Column{}, fmt.Errorf("unknown user-defined format specifier \"%s\"", key)
	}
	if sized {
		w, err := strconv.Atoi(width)
		if err != nil || w <= 0 || width[0] == '0' || strings.TrimLeft(width, "0123456789") != "" {
			return Column{}, fmt.Errorf("column widths must be unsigned decimal numbers")
		}
		c.setWidth = w
	}
	if renamed {
		c.header = &header
	}
	return c, nil
}

// resolve sets the header and width a column gets, as procps sizes it: a
// pid column is as wide as the largest pid, a renamed one at least as
// wide as its header, and "key:N" is N.
func (c Column) resolve(pidLen int) Column {
	w := c.Width
	if c.PIDMax {
		w = max(pidLen, len(c.Header))
	}
	if c.header != nil {
		c.Header = *c.header
		w = max(w, len(c.Header))
	}
	if c.setWidth > 0 {
		w, c.Fit = c.setWidth, false
	}
	c.Width = w
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// niceColumn prints "-" for scheduling classes without a nice value, as
// procps does (all but SCHED_OTHER and SCHED_BATCH).
func niceColumn(p *Process, _ *Snapshot) string {
	switch p.Policy {
	case 0, 3:
		return num(p.Nice)
	}
	return "-"
}

func classValue(p *Process, _ *Snapshot) string {
	names := []string{"TS", "FF", "RR", "B", "ISO", "IDL", "DLN", "#7", "#8", "#9"}
	if p.Policy >= 0 && p.Policy < len(names) {
		return names[p.Policy]
	}
	return "?"
}

// flagsValue is procps's F: three bits of the task flags, in octal.
func flagsValue(p *Process, _ *Snapshot) string {
	return strconv.FormatUint(p.Flags>>6&7, 8)
}

func wchanValue(p *Process, _ *Snapshot) string {
	w := strings.TrimLeft(strings.TrimPrefix(p.Wchan, "."), "_")
	return dash(w)
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
