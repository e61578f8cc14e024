package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/tendproject/tend/internal/api"
)

// tableOpts shape the list-units table.
type tableOpts struct {
	color  bool
	legend bool // headers and footer
	all    bool // --all was given (changes the footer hint)
	plain  bool // --plain: no marker column
}

// writeTable prints rows in columns separated by one space; the last
// column is not padded.
func writeTable(w io.Writer, prefixes []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		b.WriteString(prefixes[n])
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+1))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// writeUnitTable prints units like `systemctl list-units`: a marker for
// units in trouble, then UNIT LOAD ACTIVE SUB DESCRIPTION.
func writeUnitTable(w io.Writer, units []api.UnitStatus, o tableOpts) {
	var rows [][]string
	var prefixes []string
	if o.legend && len(units) > 0 {
		rows = append(rows, []string{"UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"})
		prefixes = append(prefixes, "  ")
	}
	for _, u := range units {
		mark := "  "
		if u.ActiveState == "failed" || (u.LoadState != "loaded" && u.LoadState != "") {
			mark = "● "
			if o.color {
				mark = ansiRed + "●" + ansiReset + " "
			}
		}
		rows = append(rows, []string{u.Name, u.LoadState, u.ActiveState, u.SubState, u.Description})
		prefixes = append(prefixes, mark)
	}
	if o.plain {
		for i := range prefixes {
			prefixes[i] = ""
		}
	}
	writeTable(w, prefixes, rows)
	if !o.legend {
		return
	}
	if len(units) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "LOAD   = whether the unit's definition was loaded correctly.")
		fmt.Fprintln(w, "ACTIVE = the unit's overall activation state (a summary of SUB).")
		fmt.Fprintln(w, "SUB    = the detailed activation state; its values depend on the unit type.")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d loaded %s listed.", len(units), plural(len(units), "unit", "units"))
	if !o.all {
		fmt.Fprint(w, " Pass --all to see loaded but inactive units, too.")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "To show all installed unit files use 'tend list-unit-files'.")
}

// writeUnitFileTable prints unit files like `systemctl list-unit-files`.
func writeUnitFileTable(w io.Writer, files []api.UnitFile, legend bool) {
	var rows [][]string
	var prefixes []string
	if legend && len(files) > 0 {
		rows = append(rows, []string{"UNIT FILE", "STATE", "PRESET"})
		prefixes = append(prefixes, "")
	}
	for _, f := range files {
		preset := f.Preset
		if preset == "" {
			preset = "-"
		}
		rows = append(rows, []string{f.Name, f.State, preset})
		prefixes = append(prefixes, "")
	}
	writeTable(w, prefixes, rows)
	if legend {
		if len(files) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%d unit %s listed.\n", len(files), plural(len(files), "file", "files"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeDepTree prints a dependency tree like `systemctl list-dependencies`.
func writeDepTree(w io.Writer, t api.DepTree, color bool) {
	fmt.Fprintln(w, t.Name)
	writeDepChildren(w, t.Children, "", color)
}

// writeDepPlain is list-dependencies --plain: each unit once, in tree
// order, indented by two spaces, without glyphs.
func writeDepPlain(w io.Writer, t api.DepTree) {
	fmt.Fprintln(w, t.Name)
	seen := map[string]bool{t.Name: true}
	var walk func([]api.DepTree)
	walk = func(children []api.DepTree) {
		for _, c := range children {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			fmt.Fprintf(w, "  %s\n", c.Name)
			walk(c.Children)
		}
	}
	walk(t.Children)
}

func writeDepChildren(w io.Writer, children []api.DepTree, indent string, color bool) {
	for i, c := range children {
		branch, next := "├─", "│ "
		if i == len(children)-1 {
			branch, next = "└─", "  "
		}
		fmt.Fprintf(w, "%s %s%s%s\n", bullet(c.ActiveState, color), indent, branch, c.Name)
		writeDepChildren(w, c.Children, indent+next, color)
	}
}
