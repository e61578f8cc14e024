package inspect

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/procfs"
)

// TopKey is a column the top list can be sorted by.
type TopKey int

// Sort keys of the top list, in the order < and > walk them.
const (
	SortPID TopKey = iota
	SortUser
	SortVirt
	SortRes
	SortCPU
	SortMem
	SortTime
	SortUnit
	SortCommand
	numTopKeys
)

var topKeyNames = []string{"PID", "USER", "VIRT", "RES", "%CPU", "%MEM", "TIME+", "UNIT", "COMMAND"}

func (k TopKey) String() string { return topKeyNames[k] }

// TopView is how the list is shown; the interactive keys change it.
type TopView struct {
	Sort    TopKey
	Reverse bool // ascending instead of the default descending
	Tree    bool // processes in tree order, commands indented
	ByUnit  bool // one row per unit instead of per process
	Args    bool // full command lines instead of names
	Rows    int  // rows to print; 0 for all
}

// TopRow is one line of the list: a process or, in unit mode, a unit.
type TopRow struct {
	PID     int     `json:"pid,omitempty"`
	User    string  `json:"user,omitempty"`
	Prio    string  `json:"pr,omitempty"`
	Nice    string  `json:"ni,omitempty"`
	Virt    uint64  `json:"virt_kib"`
	Res     uint64  `json:"res_kib"`
	Shr     uint64  `json:"shr_kib"`
	State   string  `json:"s,omitempty"`
	CPU     float64 `json:"pcpu"`
	Ticks   uint64  `json:"cpu_ticks"`
	Unit    string  `json:"unit,omitempty"`
	Command string  `json:"command"`
	Procs   int     `json:"processes,omitempty"` // unit mode
	// MemTotal is the machine's memory in KiB: %MEM is computed from the
	// exact Res when shown, so sums and sorting lose nothing to rounding.
	MemTotal uint64 `json:"-"`
	depth    int
}

// PMem is the row's %MEM: resident over total memory.
func (r TopRow) PMem() float64 {
	if r.MemTotal == 0 {
		return 0
	}
	return float64(r.Res) * 100 / float64(r.MemTotal)
}

// MarshalJSON adds the computed %MEM as "pmem".
func (r TopRow) MarshalJSON() ([]byte, error) {
	type plain TopRow // without the method
	return json.Marshal(struct {
		plain
		PMem float64 `json:"pmem"`
	}{plain(r), r.PMem()})
}

// TopFrame is one refresh of top: the summary and the rows.
type TopFrame struct {
	At     time.Time          `json:"at"`
	Uptime float64            `json:"uptime_seconds"`
	Users  int                `json:"users"`
	Load   procfs.LoadAvg     `json:"load"`
	Tasks  map[string]int     `json:"tasks"`
	CPU    map[string]float64 `json:"cpu_percent"`
	Mem    procfs.MemInfo     `json:"-"`
	MemKiB map[string]uint64  `json:"memory_kib"`
	Rows   []TopRow           `json:"rows"`
	procs  []*Process
	snap   *Snapshot
}

// Top samples the system for successive frames, remembering the previous
// sample so CPU percentages cover the interval between frames (the first
// frame covers each process's lifetime and the CPUs' time since boot).
type Top struct {
	c        *Collector
	utmp     string
	prevCPU  procfs.CPUTimes
	prevAt   time.Time
	prevTick map[uint64]uint64 // pid<<32|start-low bits → cpu ticks
	Need     Need
}

// NewTop returns a sampler; utmp is the login records file ("" to skip
// counting users).
func NewTop(c *Collector, utmp string) *Top {
	c.EnableCache()
	return &Top{c: c, utmp: utmp, Need: NeedUser | NeedStatm | NeedCgroup}
}

// Close releases the files kept open between frames.
func (t *Top) Close() { t.c.Close() }

// Sample reads one frame.
func (t *Top) Sample(ctx context.Context) (*TopFrame, error) {
	r := t.c.FS.NewReader()
	sys, err := r.SysStat()
	if err != nil {
		return nil, err
	}
	load, err := r.LoadAvg()
	if err != nil {
		return nil, err
	}
	mem, err := r.MemInfo()
	if err != nil {
		return nil, err
	}
	snap, err := t.c.Snapshot(ctx, t.Need, nil)
	if err != nil {
		return nil, err
	}
	f := &TopFrame{At: snap.At, Uptime: snap.Uptime, Load: load, Mem: mem, snap: snap, procs: snap.Procs}
	f.Users = countUsers(t.utmp)
	f.Tasks = map[string]int{"total": len(snap.Procs)}
	for _, p := range snap.Procs {
		f.Tasks[taskState(p.State)]++
	}
	f.CPU = cpuPercent(t.prevCPU, sys.CPU)
	f.MemKiB = memSummary(mem)
	elapsed := snap.At.Sub(t.prevAt).Seconds()
	ticks := make(map[uint64]uint64, len(snap.Procs))
	f.Rows = make([]TopRow, len(snap.Procs))
	for i, p := range snap.Procs {
		key := uint64(p.PID)<<32 | p.StartTicks&0xffffffff
		ticks[key] = p.CPUTicks
		var pc float64
		if prev, ok := t.prevTick[key]; ok && elapsed > 0 {
			pc = float64(p.CPUTicks-prev) / procfs.UserHZ / elapsed * 100
		} else {
			pc = float64(PCPU(p, snap)) / 10
		}
		f.Rows[i] = processRow(p, snap, pc)
	}
	t.prevCPU, t.prevAt, t.prevTick = sys.CPU, snap.At, ticks
	return f, nil
}

func processRow(p *Process, s *Snapshot, pc float64) TopRow {
	pr := fmt.Sprint(p.Prio)
	if p.Prio <= -100 || p.Policy == 1 || p.Policy == 2 {
		pr = "rt"
	}
	return TopRow{PID: p.PID, User: p.User, Prio: pr, Nice: niceColumn(p, s), Virt: p.VSZ, Res: p.RSS,
		Shr: p.Shared, State: p.State, CPU: pc, MemTotal: s.MemTotal, Ticks: p.CPUTicks,
		Unit: p.Unit, Command: p.Comm}
}

func taskState(s string) string {
	switch s {
	case "R":
		return "running"
	case "T", "t":
		return "stopped"
	case "Z":
		return "zombie"
	}
	return "sleeping"
}

func cpuPercent(prev, cur procfs.CPUTimes) map[string]float64 {
	d := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b - a)
	}
	total := d(prev.Total(), cur.Total())
	if total == 0 {
		total = 1
	}
	pct := func(a, b uint64) float64 { return d(a, b) / total * 100 }
	return map[string]float64{
		"us": pct(prev.User, cur.User), "sy": pct(prev.System, cur.System), "ni": pct(prev.Nice, cur.Nice),
		"id": pct(prev.Idle, cur.Idle), "wa": pct(prev.IOWait, cur.IOWait), "hi": pct(prev.IRQ, cur.IRQ),
		"si": pct(prev.SoftIRQ, cur.SoftIRQ), "st": pct(prev.Steal, cur.Steal),
	}
}

// memSummary computes top's memory line: used excludes buffers and caches.
func memSummary(m procfs.MemInfo) map[string]uint64 {
	cache := m["Buffers"] + m["Cached"] + m["SReclaimable"]
	used := m["MemTotal"] - m["MemFree"]
	if used >= cache {
		used -= cache
	}
	return map[string]uint64{"total": m["MemTotal"], "free": m["MemFree"], "used": used, "buff/cache": cache,
		"avail": m["MemAvailable"], "swap_total": m["SwapTotal"], "swap_free": m["SwapFree"],
		"swap_used": m["SwapTotal"] - m["SwapFree"]}
}

// Arrange sorts (or tree-orders, or groups by unit) a frame's rows for v.
func (f *TopFrame) Arrange(v TopView) []TopRow {
	rows := slices.Clone(f.Rows)
	if v.Args {
		for i := range rows {
			if p := f.snap.Get(rows[i].PID); p != nil && len(p.Args) > 0 {
				rows[i].Command = CommandLine(p)
			}
		}
	}
	if v.ByUnit {
		rows = byUnit(rows)
	}
	less := func(a, b TopRow) int {
		r := compareRows(a, b, v.Sort)
		if !v.Reverse {
			r = -r
		}
		if r == 0 {
			r = cmp.Compare(a.PID, b.PID)
		}
		return r
	}
	if v.Tree && !v.ByUnit {
		rows = treeOrder(rows, f.snap, less)
	} else {
		slices.SortStableFunc(rows, less)
	}
	if v.Rows > 0 && len(rows) > v.Rows {
		rows = rows[:v.Rows]
	}
	return rows
}

func compareRows(a, b TopRow, k TopKey) int {
	switch k {
	case SortPID:
		return cmp.Compare(a.PID, b.PID)
	case SortUser:
		return strings.Compare(a.User, b.User)
	case SortVirt:
		return cmp.Compare(a.Virt, b.Virt)
	case SortRes:
		return cmp.Compare(a.Res, b.Res)
	case SortCPU:
		return cmp.Compare(a.CPU, b.CPU)
	case SortMem:
		return cmp.Compare(a.Res, b.Res) // the same order as %MEM, without its rounding
	case SortTime:
		return cmp.Compare(a.Ticks, b.Ticks)
	case SortUnit:
		return strings.Compare(a.Unit, b.Unit)
	}
	return strings.Compare(a.Command, b.Command)
}

// byUnit sums rows per unit; processes outside units are grouped as "-".
func byUnit(rows []TopRow) []TopRow {
	idx := map[string]int{}
	var out []TopRow
	for _, r := range rows {
		u := dash(r.Unit)
		i, ok := idx[u]
		if !ok {
			i = len(out)
			idx[u] = i
			out = append(out, TopRow{Unit: u, Command: u, User: r.User, MemTotal: r.MemTotal})
		}
		o := &out[i]
		o.Procs++
		o.Virt += r.Virt
		o.Res += r.Res
		o.Shr += r.Shr
		o.CPU += r.CPU
		o.Ticks += r.Ticks
		if o.User != r.User {
			o.User = "*"
		}
	}
	return out
}

// treeOrder lists rows depth-first from the roots, siblings ordered by less.
func treeOrder(rows []TopRow, s *Snapshot, less func(a, b TopRow) int) []TopRow {
	kids := map[int][]TopRow{}
	present := map[int]bool{}
	for _, r := range rows {
		present[r.PID] = true
	}
	var roots []TopRow
	for _, r := range rows {
		p := s.Get(r.PID)
		if p == nil || !present[p.PPID] || p.PPID == r.PID {
			roots = append(roots, r)
			continue
		}
		kids[p.PPID] = append(kids[p.PPID], r)
	}
	out := make([]TopRow, 0, len(rows))
	var walk func(rs []TopRow, depth int)
	walk = func(rs []TopRow, depth int) {
		slices.SortStableFunc(rs, less)
		for _, r := range rs {
			r.depth = depth
			out = append(out, r)
			walk(kids[r.PID], depth+1)
		}
	}
	walk(roots, 0)
	return out
}

// WriteSummary prints top's five summary lines.
func (f *TopFrame) WriteSummary(w io.Writer) error {
	m := f.MemKiB
	mib := func(k string) float64 { return float64(m[k]) / 1024 }
	c := f.CPU
	_, err := fmt.Fprintf(w, "top - %s up %s, %2d user%s,  load average: %.2f, %.2f, %.2f\n"+
		"Tasks: %3d total, %3d running, %3d sleeping, %3d stopped, %3d zombie\n"+
		"%%Cpu(s): %4.1f us, %4.1f sy, %4.1f ni, %4.1f id, %4.1f wa, %4.1f hi, %4.1f si, %4.1f st\n"+
		"MiB Mem : %8.1f total, %8.1f free, %8.1f used, %8.1f buff/cache\n"+
		"MiB Swap: %8.1f total, %8.1f free, %8.1f used. %8.1f avail Mem\n",
		f.At.Local().Format("15:04:05"), uptimeString(f.Uptime), f.Users, plural(f.Users),
		f.Load.Load1, f.Load.Load5, f.Load.Load15,
		f.Tasks["total"], f.Tasks["running"], f.Tasks["sleeping"], f.Tasks["stopped"], f.Tasks["zombie"],
		c["us"], c["sy"], c["ni"], c["id"], c["wa"], c["hi"], c["si"], c["st"],
		mib("total"), mib("free"), mib("used"), mib("buff/cache"),
		mib("swap_total"), mib("swap_free"), mib("swap_used"), mib("avail"))
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// uptimeString formats uptime as top does: "5 min", "2:03", "3 days,  2:03".
func uptimeString(sec float64) string {
	s := int(sec)
	days, h, m := s/86400, s/3600%24, s/60%60
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%d day%s, ", days, plural(days))
	}
	if h > 0 {
		fmt.Fprintf(&b, "%2d:%02d", h, m)
	} else {
		fmt.Fprintf(&b, "%d min", m)
	}
	return b.String()
}

// TopHeader is the column header line of the list.
func TopHeader(v TopView) string {
	if v.ByUnit {
		return fmt.Sprintf("%5s %-8s %7s %7s %7s %6s %5s %9s %s", "PROCS", "USER", "VIRT", "RES", "SHR", "%CPU", "%MEM", "TIME+", "UNIT")
	}
	return fmt.Sprintf("%7s %-8s %3s %3s %7s %7s %7s %1s %5s %5s %9s %-16s %s",
		"PID", "USER", "PR", "NI", "VIRT", "RES", "SHR", "S", "%CPU", "%MEM", "TIME+", "UNIT", "COMMAND")
}

// FormatRow renders one row under TopHeader.
func FormatRow(r TopRow, v TopView) string {
	if v.ByUnit {
		return fmt.Sprintf("%5d %-8s %7s %7s %7s %6.1f %5.1f %9s %s", r.Procs, userColumn(r.User),
			scaleKiB(r.Virt), scaleKiB(r.Res), scaleKiB(r.Shr), r.CPU, r.PMem(), timePlus(r.Ticks), r.Unit)
	}
	cmd := printable(r.Command)
	if r.depth > 0 {
		cmd = strings.Repeat("    ", r.depth-1) + " `- " + cmd
	}
	return fmt.Sprintf("%7d %-8s %3s %3s %7s %7s %7s %1s %5.1f %5.1f %9s %-16s %s", r.PID, userColumn(r.User),
		r.Prio, r.Nice, scaleKiB(r.Virt), scaleKiB(r.Res), scaleKiB(r.Shr), r.State, r.CPU, r.PMem(),
		timePlus(r.Ticks), dash(r.Unit), cmd)
}

// scaleKiB prints KiB like top: plain up to 7 digits, then m/g/t.
func scaleKiB(k uint64) string {
	switch {
	case k < 10_000_000:
		return fmt.Sprint(k)
	case k < 10_000_000*1024:
		return fmt.Sprintf("%.1fg", float64(k)/1024/1024)
	}
	return fmt.Sprintf("%.1ft", float64(k)/1024/1024/1024)
}

// timePlus formats CPU ticks as top's TIME+: minutes:seconds.hundredths.
func timePlus(ticks uint64) string {
	cs := ticks * 100 / procfs.UserHZ
	return fmt.Sprintf("%d:%02d.%02d", cs/6000, cs/100%60, cs%100)
}

// WriteBatch prints a frame as top -b does: summary, blank line, header,
// rows.
func (f *TopFrame) WriteBatch(w io.Writer, v TopView) error {
	var b strings.Builder
	if err := f.WriteSummary(&b); err != nil {
		return err
	}
	b.WriteString("\n" + TopHeader(v) + "\n")
	for _, r := range f.Arrange(v) {
		b.WriteString(FormatRow(r, v))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
