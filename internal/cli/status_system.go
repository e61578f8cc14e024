package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/inspect"
	"github.com/tendproject/tend/internal/procfs"
)

// systemOverview is what `status` without units shows of the instance, as
// `systemctl status` does of the whole system.
type systemOverview struct {
	Host   string        `json:"host"`
	State  string        `json:"state"` // as is-system-running says
	Units  int           `json:"units"` // loaded
	Jobs   int           `json:"jobs"`  // queued
	Failed int           `json:"failed"`
	Since  time.Time     `json:"since,omitzero"`
	Cgroup string        `json:"cgroup"`
	Groups []cgroupGroup `json:"groups"`
}

// cgroupGroup is one unit's cgroup and the processes in it.
type cgroupGroup struct {
	Unit  string         `json:"unit"`
	Procs []overviewProc `json:"processes"`
}

type overviewProc struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
}

// systemStatus prints the overview of the instance.
func (x *ctl) systemStatus(ctx context.Context) error {
	units, err := x.c.ListUnits(ctx, nil, true)
	if err != nil {
		return err
	}
	info, err := x.c.Info(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	o := systemOverview{Host: host, State: systemState(units), Units: len(units), Since: info.Since}
	for _, u := range units {
		if u.Job != "" {
			o.Jobs++
		}
		if u.ActiveState == "failed" {
			o.Failed++
		}
	}
	procs, err := x.unitProcesses(ctx)
	if err != nil {
		return err
	}
	o.Cgroup, o.Groups = groupProcesses(units, procs)
	if x.json() {
		return x.printJSON(o)
	}
	writeSystemStatus(x.env.Stdout, o, time.Now(), x.color)
	return nil
}

// unitProcesses reads /proc and names the unit of each process the
// instance knows by pid (where cgroups do not tell).
func (x *ctl) unitProcesses(ctx context.Context) ([]*inspect.Process, error) {
	snap, err := inspect.NewCollector(procfs.New(procRoot(x.env)), nil).Snapshot(ctx, inspect.NeedCgroup|inspect.NeedArgs, nil)
	if err != nil {
		return nil, fmt.Errorf("read processes: %w", err)
	}
	byPID, err := x.c.ProcessUnits(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range snap.Procs {
		p.Unit = byPID[p.PID] // a cgroup elsewhere may carry the same unit name
	}
	return snap.Procs, nil
}

// groupProcesses sorts processes into the cgroups of the instance's units
// (a process in a group below a unit's counts as the unit's), or into the
// unit the daemon named for it. The base is the directory the units'
// groups share.
func groupProcesses(units []api.UnitStatus, procs []*inspect.Process) (string, []cgroupGroup) {
	byCgroup := map[string]string{}
	var dirs []string
	for _, u := range units {
		if u.Cgroup != "" {
			byCgroup[u.Cgroup] = u.Name
			dirs = append(dirs, path.Dir(u.Cgroup))
		}
	}
	base := "/"
	if slices.Sort(dirs); len(dirs) > 0 && dirs[0] == dirs[len(dirs)-1] {
		base = dirs[0]
	}
	groups := map[string][]overviewProc{}
	for _, p := range procs {
		name := p.Unit
		for c := p.Cgroup; c != "" && c != "/" && c != "."; c = path.Dir(c) {
			if n, ok := byCgroup[c]; ok {
				name = n
				break
			}
		}
		if name == "" {
			continue
		}
		cmd := strings.Join(p.Args, " ")
		if cmd == "" {
			cmd = "[" + p.Comm + "]"
		}
		groups[name] = append(groups[name], overviewProc{PID: p.PID, Command: cmd})
	}
	var out []cgroupGroup
	for name, ps := range groups {
		slices.SortFunc(ps, func(a, b overviewProc) int { return a.PID - b.PID })
		out = append(out, cgroupGroup{Unit: name, Procs: ps})
	}
	slices.SortFunc(out, func(a, b cgroupGroup) int { return strings.Compare(a.Unit, b.Unit) })
	return base, out
}

// writeSystemStatus renders o as systemctl renders the system's status:
// the host, the manager's state and counts, then the cgroup tree with each
// non-empty unit group and its processes (pids right-aligned per group).
func writeSystemStatus(w io.Writer, o systemOverview, now time.Time, color bool) {
	on, off := "", ""
	if color {
		switch o.State {
		case "running":
			on, off = ansiGreen, ansiReset
		case "degraded":
			on, off = ansiRed, ansiReset
		default:
			on, off = "\x1b[0;1;33m", ansiReset
		}
	}
	fmt.Fprintf(w, "%s●%s %s\n", on, off, o.Host)
	fmt.Fprintf(w, "    State: %s%s%s\n", on, o.State, off)
	fmt.Fprintf(w, "    Units: %d loaded\n", o.Units)
	fmt.Fprintf(w, "     Jobs: %d queued\n", o.Jobs)
	fmt.Fprintf(w, "   Failed: %d units\n", o.Failed)
	if !o.Since.IsZero() {
		fmt.Fprintf(w, "    Since: %s; %s\n", o.Since.Local().Format("Mon 2006-01-02 15:04:05 MST"), relativeTime(now.Sub(o.Since)))
	}
	fmt.Fprintf(w, "   CGroup: %s\n", o.Cgroup)
	const indent = "           "
	for i, g := range o.Groups {
		branch, next := "├─", "│ "
		if i == len(o.Groups)-1 {
			branch, next = "└─", "  "
		}
		fmt.Fprintf(w, "%s%s%s\n", indent, branch, g.Unit)
		width := len(strconv.Itoa(g.Procs[len(g.Procs)-1].PID))
		for j, p := range g.Procs {
			pb := "├─"
			if j == len(g.Procs)-1 {
				pb = "└─"
			}
			fmt.Fprintf(w, "%s%s%s%*d %s\n", indent, next, pb, width, p.PID, p.Command)
		}
	}
}
