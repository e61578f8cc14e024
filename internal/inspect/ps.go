package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// DefaultColumns are ps -ef's columns plus UNIT.
const DefaultColumns = "user=UID,pid,ppid,c,stime,tty=TTY,time,unit,args=CMD"

// PsOptions select and shape a process table.
type PsOptions struct {
	All     bool     // every process (-e); otherwise the caller's tty and euid, as ps does
	Users   []string // effective user names or ids (-u)
	PIDs    []int    // -p
	Units   []string // --unit
	Daemons bool     // no controlling terminal, not a kernel thread
	Zombies bool     // state Z, with the parent that has not reaped them
	Orphans bool     // adopted by PID 1 or a subreaper
	Columns []string // -o lists; empty for DefaultColumns
	Sort    []string // --sort keys, "-key" descending
}

// PsTable is a selected, sorted process table ready to print.
type PsTable struct {
	Columns []Column
	Rows    []*Process
	Snap    *Snapshot
}

// Ps reads /proc and builds the table opts describe.
func Ps(ctx context.Context, c *Collector, opts PsOptions) (*PsTable, error) {
	specs := opts.Columns
	if len(specs) == 0 {
		specs = []string{DefaultColumns}
		if opts.Zombies {
			specs = []string{"user=UID,pid,ppid,parent,stat,stime,unit,args=CMD"}
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
	if len(opts.PIDs) > 0 && !opts.Zombies && !opts.Orphans {
		pids = slices.Clone(opts.PIDs)
		slices.Sort(pids) // ps lists in /proc order whatever the order asked
		pids = slices.Compact(pids)
	}
	snap, err := c.Snapshot(ctx, need, pids)
	if err != nil {
		return nil, err
	}
	t := &PsTable{Columns: cols, Snap: snap}
	for _, p := range snap.Procs {
		if sel.match(p, snap) {
			t.Rows = append(t.Rows, p)
		}
	}
	if len(opts.PIDs) > 0 && len(t.Rows) == 0 {
		return t, fmt.Errorf("no such process: %s", joinInts(opts.PIDs))
	}
	if len(opts.Units) > 0 && len(t.Rows) == 0 {
		return t, fmt.Errorf("no processes in unit %s (not loaded or not running)", strings.Join(opts.Units, ", "))
	}
	if len(sortCols) > 0 {
		slices.SortStableFunc(t.Rows, func(a, b *Process) int {
			for i, c := range sortCols {
				if r := c.compare(a, b, snap); r != 0 {
					if desc[i] {
						return -r
					}
					return r
				}
			}
			return 0
		})
	}
	return t, nil
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
				return nil, nil, fmt.Errorf("unknown sort key %q (known: %s)", k, strings.Join(ColumnKeys(), ", "))
			}
			cols, desc = append(cols, c), append(desc, d)
		}
	}
	return cols, desc, nil
}

type selector struct {
	opts    PsOptions
	uids    map[int]bool
	pids    map[int]bool
	units   map[string]bool
	selfTTY uint64
	selfUID int
	need    Need
}

func newSelector(c *Collector, o PsOptions) (*selector, error) {
	s := &selector{opts: o}
	if len(o.Users) > 0 {
		s.uids = map[int]bool{}
		s.need |= NeedUser
		for _, spec := range o.Users {
			for _, u := range strings.Split(spec, ",") {
				id, ok := c.users.Lookup(u)
				if !ok {
					return nil, fmt.Errorf("no such user %q", u)
				}
				s.uids[id] = true
			}
		}
	}
	if len(o.PIDs) > 0 {
		s.pids = map[int]bool{}
		for _, p := range o.PIDs {
			s.pids[p] = true
		}
	}
	if len(o.Units) > 0 {
		s.units = map[string]bool{}
		for _, u := range o.Units {
			s.units[u] = true
		}
	}
	if !s.explicit() {
		r := c.FS.NewReader()
		if st, err := r.Stat(os.Getpid()); err == nil {
			s.selfTTY = st.TTY
		}
		s.selfUID = os.Geteuid()
		s.need |= NeedUser
	}
	return s, nil
}

// explicit reports whether any selection was asked for; without one ps
// shows the caller's own terminal and user.
func (s *selector) explicit() bool {
	o := s.opts
	return o.All || len(o.Users) > 0 || len(o.PIDs) > 0 || len(o.Units) > 0 || o.Daemons || o.Zombies || o.Orphans
}

func (s *selector) match(p *Process, snap *Snapshot) bool {
	o := s.opts
	if !s.explicit() {
		return p.TTYDev == s.selfTTY && p.UID == s.selfUID
	}
	if s.uids != nil && !s.uids[p.UID] {
		return false
	}
	if s.pids != nil && !s.pids[p.PID] {
		return false
	}
	if s.units != nil && !s.units[p.Unit] {
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

// WriteText prints the table with a header, columns padded to their
// widest value; the last column is never truncated.
func (t *PsTable) WriteText(w io.Writer, header bool) error {
	cells := make([][]string, 0, len(t.Rows)+1)
	if header {
		h := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			h[i] = c.Header
		}
		cells = append(cells, h)
	}
	for _, p := range t.Rows {
		row := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			row[i] = t.cell(c, p)
		}
		cells = append(cells, row)
	}
	right := make([]bool, len(t.Columns))
	for i, c := range t.Columns {
		right[i] = c.Right
	}
	return writeAligned(w, cells, right)
}

func (t *PsTable) cell(c Column, p *Process) string {
	if c.Need&NeedStatus != 0 && slices.Contains(p.Partial, "status") || c.Need&NeedUser != 0 && slices.Contains(p.Partial, "owner") {
		return "?"
	}
	return c.Value(p, t.Snap)
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
		out[i] = psJSON{Process: p, PCPU: float64(PCPU(p, t.Snap.Uptime)) / 10,
			PMEM: float64(PMEM(p, t.Snap.MemTotal)) / 10, Elapsed: etimeSeconds(p, t.Snap.Uptime), Command: CommandLine(p)}
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
