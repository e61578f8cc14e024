package inspect

import (
	"strconv"
	"strings"
)

// Unlimited is the screen width ps assumes when its output is not a
// terminal, and with -ww: procps's output buffer.
const Unlimited = 2 * 64 * 1024

// maxGap is the most padding procps writes before one cell.
const maxGap = 144

// psLayout places cells on a line the way procps does: every column has
// a width and an alignment; a cell wider than its column pushes the rest
// of the line right, and the columns after it take the extra space back
// where they have padding to spare. The last column is cut at the screen
// width (a multiple of the terminal's, wide enough for every column's
// width), never padded.
type psLayout struct {
	cols   []Column
	active int
	forest byte // 0, 'f' (ASCII art), 'u' (-H indentation)
}

func newPsLayout(cols []Column, screen int, forest byte) *psLayout {
	if screen <= 0 {
		screen = Unlimited
	}
	total := 0
	for i, c := range cols {
		if i > 0 {
			total++
		}
		if c.Just == JustUnlimited && i == len(cols)-1 {
			total += 3
		} else {
			total += c.Width
		}
	}
	active := screen
	for i := 1; active < total && screen*i < Unlimited/2; {
		i++
		active = screen * i
	}
	return &psLayout{cols: cols, active: active, forest: forest}
}

// line appends one line: the headers when p is nil.
func (l *psLayout) line(b *strings.Builder, p *Process, s *Snapshot, depth []byte) {
	correct, actual, dospace := 0, 0, 0
	for i, c := range l.cols {
		last := i == len(l.cols)-1
		room, tmpspace := c.Width, 0
		if last {
			tmpspace = correct - actual
			if tmpspace < 1 {
				tmpspace = dospace
				room = l.active - actual - tmpspace
			} else {
				room = l.active - max(correct, actual)
			}
		}
		room = min(max(room, 0), Unlimited-1)
		var text string
		if p == nil {
			text = c.Header
		} else {
			text = l.cell(c, p, s, room, depth)
		}
		amount := cells(text)
		leftpad := 0
		switch c.Just {
		case JustRight:
			leftpad = max(c.Width-amount, 0)
		case JustWchan, JustUnlimited:
			if l.active-actual-tmpspace < 1 {
				text = cutCells(text, 1) // procps keeps one character of a column with no room
			}
		}
		space := correct - actual + leftpad
		if space < 1 {
			space = dospace
		}
		space = min(space, maxGap)
		for range space {
			b.WriteByte(' ')
		}
		b.WriteString(text)
		if last {
			b.WriteByte('\n')
			return
		}
		actual += space + amount
		correct += c.Width + 1
		dospace = 1
	}
}

// cell renders p's value of c within room columns.
func (l *psLayout) cell(c Column, p *Process, s *Snapshot, room int, depth []byte) string {
	if c.Need&NeedStatus != 0 && hasPartial(p, "status") || c.Need&NeedUser != 0 && hasPartial(p, "owner") {
		return "?"
	}
	prefix := ""
	if c.Forest && len(depth) > 0 {
		prefix = l.prefix(depth, room)
		room -= len(prefix)
	}
	v := c.Value(p, s)
	switch c.Just {
	case JustUnlimited, JustWchan:
		v = cutCells(v, room)
	case JustUser:
		if n := cells(v); n > room {
			if room >= 1 && v[room-1] < 127 && n == len(v) {
				v = v[:room-1] + "+"
			} else {
				v = strconv.Itoa(p.UID)
			}
		}
	}
	return prefix + v
}

// prefix draws the tree in front of a command: for each level, "    ",
// " \_ " (a child) or " |  " (a parent's later sibling) with --forest,
// two spaces with -H; only whole pieces that fit in room.
func (l *psLayout) prefix(depth []byte, room int) string {
	var b strings.Builder
	size := 4
	if l.forest == 'u' {
		size = 2
	}
	for _, d := range depth {
		if room < size {
			break
		}
		switch {
		case l.forest == 'u':
			b.WriteString("  ")
		case d == 'L' || d == '+':
			b.WriteString(` \_ `)
		case d == '|':
			b.WriteString(" |  ")
		default:
			b.WriteString("    ")
		}
		room -= size
	}
	return b.String()
}

func hasPartial(p *Process, file string) bool {
	for _, f := range p.Partial {
		if f == file {
			return true
		}
	}
	return false
}
