package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
)

// listTimersCommand is `systemctl list-timers`: the active timer units
// (all loaded ones with --all) by their next elapse.
func listTimersCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var all bool
	cmd := &cobra.Command{
		Use:   "list-timers [PATTERN...]",
		Short: "List timer units by their next elapse",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		units, err := x.c.ListUnits(ctx, mangleAll(args), all)
		if err != nil {
			return err
		}
		units = filterUnits(units, nil, []string{"timer"})
		if x.json() {
			return x.printJSON(units)
		}
		writeTimerTable(x.env.Stdout, units, time.Now(), !f.noLegend, all)
		return nil
	})
	f.add(cmd)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include inactive timer units")
	return cmd
}

// writeTimerTable prints NEXT, LEFT, LAST, PASSED, UNIT and ACTIVATES,
// soonest first and timers with no next elapse last, as systemctl does.
func writeTimerTable(w io.Writer, units []api.UnitStatus, now time.Time, legend, all bool) {
	type row struct {
		next time.Time
		cols []string
	}
	var rows []row
	for _, u := range units {
		ti := u.Timer
		if ti == nil || !all && (u.ActiveState == "inactive" || u.ActiveState == "") {
			continue
		}
		next, left := stampOrDash(ti.NextElapse, now)
		last, passed := stampOrDash(ti.LastTrigger, now)
		rows = append(rows, row{ti.NextElapse, []string{next, left, last, passed, u.Name, ti.Unit}})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].next, rows[j].next
		if a.IsZero() != b.IsZero() {
			return b.IsZero()
		}
		return a.Before(b)
	})
	var table [][]string
	if legend {
		table = append(table, []string{"NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES"})
	}
	for _, r := range rows {
		table = append(table, r.cols)
	}
	writeTable(w, make([]string, len(table)), table)
	if !legend {
		return
	}
	n := len(rows)
	fmt.Fprintf(w, "\n%d %s listed.\n", n, plural(n, "timer", "timers"))
	if !all {
		fmt.Fprintln(w, "Pass --all to see loaded but inactive timers, too.")
	}
}

// stampOrDash formats t and how far it is from now, or "-" twice.
func stampOrDash(t, now time.Time) (string, string) {
	if t.IsZero() {
		return "-", "-"
	}
	return t.Local().Format(stampLayout), relative(t, now)
}

// triggerLine is status's "Trigger:" of a timer: its next elapse and how
// far away it is, or n/a.
func triggerLine(ti *api.TimerInfo, now time.Time) string {
	if ti.NextElapse.IsZero() {
		return "n/a"
	}
	return ti.NextElapse.Local().Format(stampLayout) + "; " + relative(ti.NextElapse, now)
}
