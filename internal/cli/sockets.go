package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
)

// listSocketsCommand is `systemctl list-sockets`: one row per listener
// of the active socket units (all loaded ones with --all).
func listSocketsCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var all, types bool
	cmd := &cobra.Command{
		Use:   "list-sockets [PATTERN...]",
		Short: "List socket units by the addresses they listen on",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		units, err := x.c.ListUnits(ctx, mangleAll(args), all)
		if err != nil {
			return err
		}
		units = filterUnits(units, nil, []string{"socket"})
		if x.json() {
			return x.printJSON(units)
		}
		writeSocketTable(x.env.Stdout, units, !f.noLegend, all, types)
		return nil
	})
	f.add(cmd)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include inactive socket units")
	cmd.Flags().BoolVar(&types, "show-types", false, "show the type of each listener")
	return cmd
}

// writeSocketTable prints LISTEN, (TYPE,) UNIT and ACTIVATES, sorted by
// address as systemctl sorts them.
func writeSocketTable(w io.Writer, units []api.UnitStatus, legend, all, types bool) {
	var rows [][]string
	for _, u := range units {
		var acts []string
		for _, r := range u.Triggers {
			acts = append(acts, r.Name)
		}
		for _, l := range u.Listen {
			row := []string{l.Address}
			if types {
				row = append(row, l.Kind)
			}
			rows = append(rows, append(row, u.Name, strings.Join(acts, ", ")))
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	if legend {
		head := []string{"LISTEN"}
		if types {
			head = append(head, "TYPE")
		}
		rows = append([][]string{append(head, "UNIT", "ACTIVATES")}, rows...)
	}
	writeTable(w, make([]string, len(rows)), rows)
	if !legend {
		return
	}
	n := len(rows) - 1
	fmt.Fprintf(w, "\n%d %s listed.\n", n, plural(n, "socket", "sockets"))
	if !all {
		fmt.Fprintln(w, "Pass --all to see loaded but inactive sockets, too.")
	}
}
