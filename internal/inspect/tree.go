package inspect

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TreeOptions shape a process tree.
type TreeOptions struct {
	PID      int    // root process; 0 for PID 1 (or every root when there is none)
	Unit     string // root the tree at this unit's processes instead
	ShowPIDs bool   // name(pid), no compaction (pstree -p)
	ShowArgs bool   // command-line arguments (pstree -a)
	ByPID    bool   // sort siblings by pid rather than name (pstree -n)
	ASCII    bool   // draw with ASCII (pstree -A) rather than box-drawing characters
	NoUnits  bool   // leave out the unit nodes
	// ThreadNames shows each thread's own name (pstree -t); by default a
	// thread carries its process's name, as pstree prints it.
	ThreadNames bool
}

// TreeNode is one node of the tree: a process, a thread, or a unit that
// groups the processes below it.
type TreeNode struct {
	Kind     string      `json:"kind"` // "process", "thread", "unit"
	Name     string      `json:"name"`
	PID      int         `json:"pid,omitempty"`
	Args     []string    `json:"args,omitempty"`
	Unit     string      `json:"unit,omitempty"`
	Children []*TreeNode `json:"children,omitempty"`
}

// Tree reads /proc and returns the roots of the tree opts asks for.
func Tree(ctx context.Context, c *Collector, opts TreeOptions) ([]*TreeNode, error) {
	need := NeedCgroup
	if opts.ShowArgs {
		need |= NeedArgs
	}
	snap, err := c.Snapshot(ctx, need, nil)
	if err != nil {
		return nil, err
	}
	b := &treeBuilder{c: c, snap: snap, opts: opts, kids: map[int][]*Process{}}
	for _, p := range snap.Procs {
		b.kids[p.PPID] = append(b.kids[p.PPID], p)
	}
	switch {
	case opts.Unit != "":
		var tops []*Process
		for _, p := range snap.Procs {
			if p.Unit == opts.Unit {
				if pp := snap.Get(p.PPID); pp == nil || pp.Unit != opts.Unit {
					tops = append(tops, p)
				}
			}
		}
		if len(tops) == 0 {
			return nil, fmt.Errorf("no processes in unit %s (not loaded or not running)", opts.Unit)
		}
		u := &TreeNode{Kind: "unit", Name: opts.Unit, Unit: opts.Unit}
		for _, p := range tops {
			u.Children = append(u.Children, b.node(p))
		}
		b.sort(u.Children)
		return []*TreeNode{u}, nil
	case opts.PID != 0:
		p := snap.Get(opts.PID)
		if p == nil {
			return nil, fmt.Errorf("no such process: %d", opts.PID)
		}
		return []*TreeNode{b.node(p)}, nil
	case snap.Get(1) != nil:
		return []*TreeNode{b.node(snap.Get(1))}, nil
	}
	var roots []*TreeNode
	for _, p := range b.kids[0] {
		roots = append(roots, b.node(p))
	}
	return roots, nil
}

type treeBuilder struct {
	c    *Collector
	snap *Snapshot
	opts TreeOptions
	kids map[int][]*Process
}

func (b *treeBuilder) node(p *Process) *TreeNode {
	n := &TreeNode{Kind: "process", Name: p.Comm, PID: p.PID, Args: p.Args, Unit: p.Unit}
	units := map[string]*TreeNode{}
	for _, k := range b.kids[p.PID] {
		child := b.node(k)
		if b.opts.NoUnits || k.Unit == "" || k.Unit == p.Unit || k.Unit == SelfLabel {
			n.Children = append(n.Children, child)
			continue
		}
		u := units[k.Unit]
		if u == nil {
			u = &TreeNode{Kind: "unit", Name: k.Unit, Unit: k.Unit}
			units[k.Unit] = u
			n.Children = append(n.Children, u)
		}
		u.Children = append(u.Children, child)
	}
	for _, u := range units {
		b.sort(u.Children)
	}
	if p.Threads > 1 {
		n.Children = append(n.Children, b.threads(p)...)
	}
	b.sort(n.Children)
	return n
}

// threads lists p's threads other than its main one; pstree shows them as
// "{name}" children.
func (b *treeBuilder) threads(p *Process) []*TreeNode {
	r := b.c.FS.NewReader()
	tids, err := r.Tasks(p.PID)
	if err != nil {
		return nil
	}
	var out []*TreeNode
	for _, tid := range tids {
		if tid == p.PID {
			continue
		}
		name := p.Comm
		if b.opts.ThreadNames {
			if name, err = r.TaskComm(p.PID, tid); err != nil {
				continue // exited meanwhile
			}
		}
		out = append(out, &TreeNode{Kind: "thread", Name: name, PID: tid, Unit: p.Unit})
	}
	return out
}

// sort orders siblings as pstree does: by name (threads' "{name}" after
// letters), equal names by pid; or by pid alone.
func (b *treeBuilder) sort(ns []*TreeNode) {
	slices.SortStableFunc(ns, func(x, y *TreeNode) int {
		if b.opts.ByPID {
			return cmp.Compare(x.PID, y.PID)
		}
		if r := strings.Compare(x.sortName(), y.sortName()); r != 0 {
			return r
		}
		return cmp.Compare(x.PID, y.PID)
	})
}

func (n *TreeNode) sortName() string {
	switch n.Kind {
	case "thread":
		return "{" + n.Name + "}"
	case "unit":
		return "[" + n.Name + "]"
	}
	return n.Name
}

// treeStyle holds the connectors of one drawing style.
type treeStyle struct{ one, first, mid, last, bar, blank, vbar string }

var (
	asciiStyle = treeStyle{one: "---", first: "-+-", mid: " |-", last: " `-", bar: " | ", blank: "   ", vbar: "|"}
	boxStyle   = treeStyle{one: "───", first: "─┬─", mid: " ├─", last: " └─", bar: " │ ", blank: "   ", vbar: "│"}
)

// RenderTree draws roots like pstree.
func RenderTree(w io.Writer, roots []*TreeNode, opts TreeOptions) error {
	st := boxStyle
	if opts.ASCII {
		st = asciiStyle
	}
	var b strings.Builder
	for _, r := range roots {
		lines := r.lines
		if opts.ShowArgs {
			lines = r.argLines
		}
		for _, l := range lines(st, opts) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (n *TreeNode) label(opts TreeOptions) string {
	name := printable(n.Name)
	switch n.Kind {
	case "thread":
		name = "{" + name + "}"
	case "unit":
		return "[" + name + "]"
	}
	switch {
	case opts.ShowArgs && opts.ShowPIDs:
		name += "," + strconv.Itoa(n.PID)
	case opts.ShowPIDs:
		name += "(" + strconv.Itoa(n.PID) + ")"
	}
	if opts.ShowArgs && n.Kind == "process" && len(n.Args) > 1 {
		name += " " + printable(strings.Join(n.Args[1:], " "))
	}
	return name
}

// argLines renders n in pstree -a's layout: one process per line, the
// children indented below it, because arguments make lines too long to
// put siblings side by side.
func (n *TreeNode) argLines(st treeStyle, opts TreeOptions) []string {
	out := []string{n.label(opts)}
	groups := n.childGroupsWith(st, opts, (*TreeNode).argLines)
	for i, g := range groups {
		last := i == len(groups)-1
		for j, l := range g {
			switch {
			case j == 0 && last:
				out = append(out, " "+st.last+l)
			case j == 0:
				out = append(out, " "+st.mid+l)
			case last:
				out = append(out, "    "+l)
			default:
				out = append(out, "  "+st.vbar+" "+l)
			}
		}
	}
	return out
}

// lines renders n and its subtree; the first line starts with n's label.
func (n *TreeNode) lines(st treeStyle, opts TreeOptions) []string {
	label := n.label(opts)
	if len(n.Children) == 0 {
		return []string{label}
	}
	groups := n.childGroups(st, opts)
	pad := strings.Repeat(" ", utf8.RuneCountInString(label))
	var out []string
	for i, g := range groups {
		last := i == len(groups)-1
		for j, l := range g {
			switch {
			case i == 0 && j == 0 && len(groups) == 1:
				out = append(out, label+st.one+l)
			case i == 0 && j == 0:
				out = append(out, label+st.first+l)
			case j == 0 && last:
				out = append(out, pad+st.last+l)
			case j == 0:
				out = append(out, pad+st.mid+l)
			case last:
				out = append(out, pad+st.blank+l)
			default:
				out = append(out, pad+st.bar+l)
			}
		}
	}
	return out
}

// childGroups renders the children, merging every later sibling whose
// subtree draws the same as an earlier one into "N*[…]", as pstree does
// (never with pids; with arguments only for threads).
func (n *TreeNode) childGroups(st treeStyle, opts TreeOptions) [][]string {
	return n.childGroupsWith(st, opts, (*TreeNode).lines)
}

func (n *TreeNode) childGroupsWith(st treeStyle, opts TreeOptions, draw func(*TreeNode, treeStyle, TreeOptions) []string) [][]string {
	var groups [][]string
	var counts []int
	compactable := map[int]bool{}
	for _, c := range n.Children {
		l := draw(c, st, opts)
		compact := !opts.ShowPIDs && (!opts.ShowArgs || c.Kind == "thread") && c.Kind != "unit"
		merged := false
		if compact {
			for i, g := range groups {
				if compactable[i] && slices.Equal(g, l) {
					counts[i]++
					merged = true
					break
				}
			}
		}
		if !merged {
			compactable[len(groups)] = compact
			groups, counts = append(groups, l), append(counts, 1)
		}
	}
	for i, g := range groups {
		if counts[i] > 1 {
			groups[i] = multiply(g, counts[i])
		}
	}
	return groups
}

// multiply draws count copies of a subtree as "N*[subtree]".
func multiply(lines []string, count int) []string {
	prefix := strconv.Itoa(count) + "*["
	g := make([]string, len(lines))
	for i, l := range lines {
		if i == 0 {
			g[i] = prefix + l
		} else {
			g[i] = strings.Repeat(" ", len(prefix)) + l
		}
	}
	g[len(g)-1] += "]"
	return g
}
