package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendproject/tend/internal/procfs"
)

// DefaultColumns are ps -f's columns with tend's UNIT before the command.
const DefaultColumns = "uid_hack,pid,ppid,c,stime,tname,time,unit,cmd"

// PsOptions select and shape a process table. The selections work as
// procps's: with -e every process; otherwise a process is listed when the
// simple selection (Table) or any list (PIDs, Users, …) names it, and the
// filters (Daemons, Zombies, Orphans, Running) then keep only some.
type PsOptions struct {
	All bool // every process (-e, -A, ax)
	// Table is procps's simple selection (-a, -d, a, x, and the default):
	// a set of the 16 combinations of "our euid", "session leader", "no
	// tty" and "our tty", bit (euid | leader<<1 | notty<<2 | ourtty<<3).
	// Zero means none; without lists either, the default (our tty and
	// euid) applies.
	Table    uint16
	Users    []string // effective user names or ids (-u, U, --user)
	RUsers   []string // real user names or ids (-U, --User)
	PIDs     []int    // -p, p, --pid, bare numbers
	PPIDs    []int    // --ppid
	Sessions []int    // -s, --sid
	TTYs     []uint64 // -t, t, --tty: device numbers, 0 for none
	Commands []string // -C
	Units    []string // --unit
	Negate   bool     // -N, --deselect
	Running  bool     // r: only running processes
	Daemons  bool     // no controlling terminal, not a kernel thread
	Zombies  bool     // state Z, with the parent that has not reaped them
	Orphans  bool     // adopted by PID 1 or a subreaper
	Columns  []string // -o lists; empty for DefaultColumns
	Sort     []string // --sort keys, "-key" descending
	Threads  bool     // one row per thread (-L)
	Forest   byte     // 'f': --forest ASCII art; 'u': -H indentation
	// Width is the screen width the last column is cut at; 0 for none.
	Width    int
	NoHeader bool
}

// PsTable is a selected, sorted process table ready to print.
type PsTable struct {
	Columns []Column
	Rows    []*Process
	Snap    *Snapshot
	width   int
	forest  byte
	depth   [][]byte // per row: the tree prefix (forest)
}

// Ps reads /proc and builds the table opts describe.
func Ps(ctx context.Context, c *Collector, opts PsOptions) (*PsTable, error) {
	specs := opts.Columns
	if len(specs) == 0 {
		specs = []string{DefaultColumns}
		if opts.Zombies {
			specs = []string{"uid_hack,pid,ppid,parent,stat,stime,unit,args=CMD"}
		}
	}
	cols, err := ParseColumns(specs)
	if err != nil {
		return nil, err
	}
	sortCols, desc, err := parseSort(opts.Sort)
	if err != nil {
		return nil, err
	}
	var need Need
	if len(opts.Units) > 0 {
		need |= NeedCgroup
	}
	for _, c := range append(slices.Clone(cols), sortCols...) {
		need |= c.Need
	}
	sel, err := newSelector(c, opts)
	if err != nil {
		return nil, err
	}
	need |= sel.need
	var pids []int
	if sel.onlyPIDs() {
		pids = slices.Clone(opts.PIDs)
		slices.Sort(pids) // ps lists in /proc order whatever the order asked
		pids = slices.Compact(pids)
	}
	snap, err := c.Snapshot(ctx, need, pids)
	if err != nil {
		return nil, err
	}
	pidLen := 5
	if b, err := c.FS.NewReader().ReadFile("sys", "kernel", "pid_max"); err == nil {
		if n := len(strings.TrimSpace(string(b))); n > 0 {
			pidLen = n
		}
	}
	t := &PsTable{Snap: snap, width: opts.Width, forest: opts.Forest}
	for _, p := range snap.Procs {
		if sel.match(p, snap) {
			t.Rows = append(t.Rows, p)
		}
	}
	if len(opts.Units) > 0 && len(t.Rows) == 0 {
		return t, fmt.Errorf("no processes in unit %s (not loaded or not running)", strings.Join(opts.Units, ", "))
	}
	if len(sortCols) > 0 || opts.Forest != 0 {
		if opts.Forest != 0 && len(sortCols) == 0 {
			// procps orders a forest by parent, then start time.
			sortCols = []Column{mustColumn("ppid")}
			desc = []bool{false}
		}
		if opts.Forest != 0 {
			sortCols = append([]Column{mustColumn("start_time")}, sortCols...)
			desc = append([]bool{false}, desc...)
		}
		// Each key is a stable sort of its own, the last one first in
		// rank, as procps applies them.
		for i := range sortCols {
			c, d := sortCols[i], desc[i]
			slices.SortStableFunc(t.Rows, func(a, b *Process) int {
				if r := c.compare(a, b, snap); r != 0 {
					if d {
						return -r
					}
					return r
				}
				return 0
			})
		}
	}
	if opts.Forest != 0 {
		t.Rows, t.depth = forestOrder(t.Rows, opts.Forest)
	}
	if opts.Threads {
		t.Rows = c.threadRows(t.Rows)
	}
	for _, col := range cols {
		t.Columns = append(t.Columns, col.resolve(pidLen))
	}
	t.fit()
	return t, nil
}

func mustColumn(key string) Column {
	c, ok := LookupColumn(key)
	if !ok {
		panic("no column " + key)
	}
	return c
}

func parseSort(keys []string) ([]Column, []bool, error) {
	var cols []Column
	var desc []bool
	for _, spec := range keys {
		for _, k := range strings.Split(spec, ",") {
			if k == "" {
				continue
			}
			d := strings.HasPrefix(k, "-")
			k = strings.TrimLeft(k, "+-")
			c, ok := LookupColumn(k)
			if !ok {
				return nil, nil, fmt.Errorf("unknown sort specifier %q", k)
			}
			cols, desc = append(cols, c), append(desc, d)
		}
	}
	// The first key ranks first: applied last.
	slices.Reverse(cols)
	slices.Reverse(desc)
	return cols, desc, nil
}

// forestOrder lists rows as procps's forest: each tree from its root,
// children after their parent (rows arrive sorted by parent, then start);
// roots, processes whose parent is not listed, last one first. PID 1's
// children stay at its level in the ASCII-art forest, as procps draws them.
func forestOrder(rows []*Process, style byte) ([]*Process, [][]byte) {
	listed := make(map[int]bool, len(rows))
	firstChild := make(map[int]int, len(rows))
	for i, p := range rows {
		listed[p.PID] = true
		if _, ok := firstChild[p.PPID]; !ok {
			firstChild[p.PPID] = i
		}
	}
	out := make([]*Process, 0, len(rows))
	depths := make([][]byte, 0, len(rows))
	var prefix []byte
	var walk func(self, level int, sibling bool)
	walk = func(self, level int, sibling bool) {
		if level > 0 {
			prefix = prefix[:level]
			prefix[level-1] = 'L'
			if sibling {
				prefix[level-1] = '+'
			}
		}
		prefix = prefix[:level]
		out = append(out, rows[self])
		depths = append(depths, slices.Clone(prefix))
		pid := rows[self].PID
		i, ok := firstChild[pid]
		if !ok || rows[i].PID == pid {
			return
		}
		if level > 0 {
			prefix[level-1] = ' '
			if sibling {
				prefix[level-1] = '|'
			}
		}
		for ; i < len(rows); i++ {
			more := i+1 < len(rows) && rows[i+1].PPID == pid
			next := level + 1
			if pid == 1 && style != 'u' {
				next = level
			}
			if next > len(prefix) {
				prefix = append(prefix, make([]byte, next-len(prefix))...)
			}
			walk(i, next, more)
			prefix = prefix[:level]
			if !more {
				break
			}
		}
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if !listed[rows[i].PPID] || rows[i].PPID == rows[i].PID {
			prefix = prefix[:0]
			walk(i, 0, false)
		}
	}
	return out, depths
}

// threadRows replaces each process by one row per thread (procps -L):
// the thread's own state, times, processor, priority and name, the
// process's identity.
func (c *Collector) threadRows(rows []*Process) []*Process {
	r := c.FS.NewReader()
	out := make([]*Process, 0, len(rows))
	for _, p := range rows {
		tids, err := r.Tasks(p.PID)
		if err != nil || len(tids) == 0 {
			out = append(out, p)
			continue
		}
		for _, tid := range tids {
			st, err := r.TaskStat(p.PID, tid)
			if err != nil {
				continue // exited meanwhile
			}
			t := *p
			t.TID, t.State, t.Comm = tid, string(st.State), st.Comm
			t.CPUTicks, t.Processor, t.Prio, t.Nice, t.Policy = st.UTime+st.STime, st.Processor, st.Priority, st.Nice, st.Policy
			t.StartTicks, t.Flags = st.StartTime, st.Flags
			t.Start = p.Start.Add(time.Duration(int64(st.StartTime)-int64(p.StartTicks)) * time.Second / procfs.UserHZ)
			st.PID, st.Threads = p.PID, p.Threads
			t.Stat = statLetters(&t, &st)
			if p.Wchan != "" || tid != p.PID {
				if w, err := r.Wchan(tid); err == nil {
					t.Wchan = w
				}
			}
			out = append(out, &t)
		}
	}
	return out
}

// fit sizes tend's own columns (unit, parent) to their widest value.
func (t *PsTable) fit() {
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Fit {
			continue
		}
		w := cells(c.Header)
		for _, p := range t.Rows {
			w = max(w, cells(c.Value(p, t.Snap)))
		}
		c.Width = w
	}
}

type selector struct {
	opts    PsOptions
	table   uint16
	uids    map[int]bool
	ruids   map[int]bool
	pids    map[int]bool
	ppids   map[int]bool
	sids    map[int]bool
	ttys    map[uint64]bool
	units   map[string]bool
	selfTTY uint64
	selfUID int
	need    Need
}

// defaultTable is procps's selection without options: our tty and euid.
const defaultTable = 0xaa00

func newSelector(c *Collector, o PsOptions) (*selector, error) {
	s := &selector{opts: o, table: o.Table}
	set := func(v []int) map[int]bool {
		if len(v) == 0 {
			return nil
		}
		m := make(map[int]bool, len(v))
		for _, x := range v {
			m[x] = true
		}
		return m
	}
	users := func(specs []string) (map[int]bool, error) {
		var ids []int
		for _, spec := range specs {
			for _, u := range strings.Split(spec, ",") {
				id, ok := c.users.Lookup(u)
				if !ok {
					return nil, fmt.Errorf("user name does not exist: %s", u)
				}
				ids = append(ids, id)
			}
		}
		return set(ids), nil
	}
	var err error
	if s.uids, err = users(o.Users); err != nil {
		return nil, err
	}
	if s.ruids, err = users(o.RUsers); err != nil {
		return nil, err
	}
	if s.uids != nil {
		s.need |= NeedUser
	}
	if s.ruids != nil {
		s.need |= NeedStatus
	}
	s.pids, s.ppids, s.sids = set(o.PIDs), set(o.PPIDs), set(o.Sessions)
	if len(o.TTYs) > 0 {
		s.ttys = map[uint64]bool{}
		for _, t := range o.TTYs {
			s.ttys[t] = true
		}
	}
	if len(o.Units) > 0 {
		s.units = map[string]bool{}
		for _, u := range o.Units {
			s.units[u] = true
		}
	}
	if !o.All && s.table == 0 && !s.lists() && !o.Daemons && !o.Zombies && !o.Orphans {
		s.table = defaultTable
	}
	if s.table != 0 && !o.All {
		r := c.FS.NewReader()
		if st, err := r.Stat(os.Getpid()); err == nil {
			s.selfTTY = st.TTY
		}
		s.selfUID = os.Geteuid()
		s.need |= NeedUser
	}
	return s, nil
}

func (s *selector) lists() bool {
	o := s.opts
	return s.uids != nil || s.ruids != nil || s.pids != nil || s.ppids != nil || s.sids != nil ||
		s.ttys != nil || s.units != nil || len(o.Commands) > 0
}

// onlyPIDs reports whether only the listed pids can match, so only they
// need reading.
func (s *selector) onlyPIDs() bool {
	o := s.opts
	return s.pids != nil && !o.All && s.table == 0 && !o.Negate && !o.Zombies && !o.Orphans &&
		s.uids == nil && s.ruids == nil && s.ppids == nil && s.sids == nil && s.ttys == nil && s.units == nil && len(o.Commands) == 0
}

func (s *selector) match(p *Process, snap *Snapshot) bool {
	o := s.opts
	ok := o.All || !s.lists() && s.table == 0 || s.table != 0 && s.tableAccepts(p) || s.listed(p)
	if o.Running && p.State != "R" && p.State != "D" {
		ok = false
	}
	if o.Negate {
		ok = !ok
	}
	if !ok {
		return false
	}
	if o.Daemons && (p.TTYDev != 0 || p.Kernel) {
		return false
	}
	if o.Zombies && p.State != "Z" {
		return false
	}
	if o.Orphans && !Orphan(p, snap) {
		return false
	}
	return true
}

func (s *selector) tableAccepts(p *Process) bool {
	bit := 0
	if p.UID == s.selfUID {
		bit |= 1
	}
	if p.SID == p.PID {
		bit |= 2
	}
	if p.TTYDev == 0 {
		bit |= 4
	}
	if p.TTYDev == s.selfTTY {
		bit |= 8
	}
	return s.table&(1<<bit) != 0
}

func (s *selector) listed(p *Process) bool {
	switch {
	case s.uids[p.UID], s.ruids[p.RUID], s.pids[p.PID], s.ppids[p.PPID], s.sids[p.SID], s.ttys != nil && s.ttys[p.TTYDev], s.units[p.Unit]:
		return true
	}
	for _, c := range s.opts.Commands {
		// comm holds at most 15 bytes; a longer name matches its start.
		if p.Comm == c || len(p.Comm) == 15 && len(c) >= 15 && strings.HasPrefix(c, p.Comm) {
			return true
		}
	}
	return false
}

// Orphan reports whether p looks adopted: its parent is PID 1 or one of
// tend's processes (subreapers), yet it leads no session and its session
// was not started by that parent — a process its real parent left behind
// (double fork, dead shell). /proc does not record adoption, so this is
// the heuristic; services started directly by init lead their sessions.
func Orphan(p *Process, snap *Snapshot) bool {
	if p.Kernel || p.PID == 1 || p.PPID == 0 {
		return false
	}
	parent := snap.Get(p.PPID)
	reaper := p.PPID == 1 || parent != nil && parent.Comm == "tend"
	return reaper && p.SID != p.PID && p.SID != p.PPID
}

// WriteText prints the table as procps does: a header line (unless every
// header is blank, or header is false), then a line per row.
func (t *PsTable) WriteText(w io.Writer, header bool) error {
	l := newPsLayout(t.Columns, t.width, t.forest)
	var b strings.Builder
	if header && slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Header != "" }) {
		l.line(&b, nil, t.Snap, nil)
	}
	for i, p := range t.Rows {
		var depth []byte
		if t.depth != nil {
			depth = t.depth[i]
		}
		l.line(&b, p, t.Snap, depth)
		if b.Len() > 64<<10 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeAligned pads every column but the last to its widest cell.
func writeAligned(w io.Writer, cells [][]string, right []bool) error {
	if len(cells) == 0 {
		return nil
	}
	width := make([]int, len(right))
	for _, row := range cells {
		for i, s := range row[:len(row)-1] {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	for _, row := range cells {
		for i, s := range row {
			if i > 0 {
				b.WriteByte(' ')
			}
			pad := width[i] - utf8.RuneCountInString(s)
			last := i == len(row)-1
			if right[i] && pad > 0 {
				b.WriteString(strings.Repeat(" ", pad))
			}
			b.WriteString(s)
			if !right[i] && !last && pad > 0 {
				b.WriteString(strings.Repeat(" ", pad))
			}
		}
		b.WriteByte('\n')
		if b.Len() > 64<<10 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// psJSON is a process with the derived columns spelled out.
type psJSON struct {
	*Process
	PCPU    float64 `json:"pcpu"`
	PMEM    float64 `json:"pmem"`
	Elapsed uint64  `json:"etime_seconds"`
	Command string  `json:"command"`
}

// WriteJSON prints the rows as a JSON array of process objects.
func (t *PsTable) WriteJSON(w io.Writer) error {
	out := make([]psJSON, len(t.Rows))
	for i, p := range t.Rows {
		out[i] = psJSON{Process: p, PCPU: float64(PCPU(p, t.Snap)) / 10,
			PMEM: float64(PMEM(p, t.Snap.MemTotal)) / 10, Elapsed: etimeSeconds(p, t.Snap), Command: CommandLine(p)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // STAT letters such as "S<" stay readable
	return enc.Encode(out)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = num(x)
	}
	return strings.Join(s, ", ")
}
