package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/api"
)

// ANSI colors of the state bullet; used only when stdout is a terminal.
const (
	ansiGreen = "\x1b[0;1;32m"
	ansiRed   = "\x1b[0;1;31m"
	ansiReset = "\x1b[0m"
)

// bullet is the glyph before a unit's name: a dot for running and moving
// states, a ring for inactive, a cross for failed.
func bullet(activeState string, color bool) string {
	g, c := "●", ""
	switch activeState {
	case "active", "reloading":
		c = ansiGreen
	case "failed":
		g, c = "×", ansiRed
	case "inactive", "maintenance", "":
		g = "○"
	}
	if color && c != "" {
		return c + g + ansiReset
	}
	return g
}

// statusView holds what rendering a status needs besides the unit.
type statusView struct {
	now   time.Time
	host  string
	color bool
}

// writeStatus renders st the way `systemctl status` does.
func (v statusView) writeStatus(w io.Writer, st api.UnitStatus) {
	head := bullet(st.ActiveState, v.color) + " " + st.Name
	if st.Description != "" {
		head += " - " + st.Description
	}
	fmt.Fprintln(w, head)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%*s: %s\n", 11, name, fmt.Sprintf(format, args...))
	}
	field("Loaded", "%s", loadedLine(st))
	v.writeDropIns(w, st.DropIns)
	field("Active", "%s", v.activeLine(st))
	if st.Timer != nil && strings.HasSuffix(st.Name, ".timer") {
		field("Trigger", "%s", triggerLine(st.Timer, v.now))
	}
	for i, d := range st.Documentation {
		if i == 0 {
			field("Docs", "%s", d)
		} else {
			fmt.Fprintf(w, "%13s%s\n", "", d)
		}
	}
	v.writeTriggers(w, "TriggeredBy", st.TriggeredBy)
	v.writeTriggers(w, "Triggers", st.Triggers)
	for i, l := range st.Listen {
		name := "Listen"
		if i > 0 {
			name = ""
		}
		fmt.Fprintf(w, "%*s%s %s (%s)\n", 11, name, map[bool]string{true: ":", false: " "}[i == 0], l.Address, l.Kind)
	}
	if strings.HasSuffix(st.Name, ".socket") && (st.NAccepted > 0 || st.ActiveState == "active") {
		field("Accepted", "%d; Connected: %d; Refused: %d", st.NAccepted, st.NConnections, st.NRefused)
	}
	for _, r := range sortedRuns(st.ExecRuns) {
		field("Process", "%s", v.processLine(r))
	}
	if pid := mainPIDLine(st); pid != "" {
		field("Main PID", "%s", pid)
	}
	if st.StatusText != "" {
		field("Status", "%q", st.StatusText)
	}
	// A stopped unit's cgroup is gone: its tasks and memory mean nothing
	// any more, its CPU time still tells what the last run cost.
	live := st.ActiveState != "inactive" && st.ActiveState != "failed"
	if st.Tasks > 0 && live {
		if st.TasksMax > 0 {
			field("Tasks", "%d (limit: %d)", st.Tasks, st.TasksMax)
		} else {
			field("Tasks", "%d", st.Tasks)
		}
	}
	if (st.MemoryBytes > 0 || st.MemoryMax > 0) && live {
		if st.MemoryMax > 0 {
			field("Memory", "%s (max: %s)", formatBytes(st.MemoryBytes), formatBytes(uint64(st.MemoryMax)))
		} else {
			field("Memory", "%s", formatBytes(st.MemoryBytes))
		}
	}
	if st.CPUNanos > 0 {
		field("CPU", "%s", formatCPU(time.Duration(st.CPUNanos)))
	}
	if st.Cgroup != "" && (live || len(st.Processes) > 0) {
		field("CGroup", "%s", st.Cgroup)
		writeProcs(w, st.Processes)
	}
	if len(st.Logs) > 0 {
		fmt.Fprintln(w)
		for _, e := range st.Logs {
			fmt.Fprintln(w, v.logLine(st.Name, e))
		}
	}
}

// writeTriggers writes the Triggers: or TriggeredBy: lines, one unit
// per line with its bullet, as systemctl does.
func (v statusView) writeTriggers(w io.Writer, name string, refs []api.UnitRef) {
	for i, r := range refs {
		label := name + ":"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%*s %s %s\n", 12, label, bullet(r.ActiveState, v.color), r.Name)
	}
}

func loadedLine(st api.UnitStatus) string {
	var parts []string
	if st.FragmentPath != "" {
		parts = append(parts, st.FragmentPath)
	}
	if st.UnitFileState != "" {
		parts = append(parts, st.UnitFileState)
	}
	if st.LoadState == "not-found" {
		return "not-found (Reason: Unit " + st.Name + " not found.)"
	}
	if len(parts) == 0 {
		return st.LoadState
	}
	return st.LoadState + " (" + strings.Join(parts, "; ") + ")"
}

// writeDropIns lists drop-ins grouped by directory, as systemctl does.
func (v statusView) writeDropIns(w io.Writer, dropIns []string) {
	if len(dropIns) == 0 {
		return
	}
	var dirs []string
	byDir := map[string][]string{}
	for _, p := range dropIns {
		d := filepath.Dir(p)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], filepath.Base(p))
	}
	for i, d := range dirs {
		label := ""
		if i == 0 {
			label = "Drop-In:"
		}
		fmt.Fprintf(w, "%12s %s\n", label, d)
		fmt.Fprintf(w, "%12s └─%s\n", "", strings.Join(byDir[d], ", "))
	}
}

func (v statusView) activeLine(st api.UnitStatus) string {
	s := st.ActiveState
	if st.SubState != "" {
		s += " (" + st.SubState + ")"
	}
	// A failed unit, or one waiting to restart after a failure, says why.
	if st.ActiveState == "failed" && st.Result != "" && st.Result != "success" {
		s = st.ActiveState + " (Result: " + st.Result + ")"
	} else if st.SubState == "auto-restart" && st.Result != "" && st.Result != "success" {
		s += " (Result: " + st.Result + ")"
	}
	if !st.Since.IsZero() {
		s += " since " + st.Since.Local().Format("Mon 2006-01-02 15:04:05 MST") + "; " + relativeTime(v.now.Sub(st.Since))
	}
	return s
}

// mainPIDLine is "1234 (python3)" while running, and how it ended after.
func mainPIDLine(st api.UnitStatus) string {
	if st.MainPID <= 0 {
		return ""
	}
	running := st.ActiveState == "active" || st.ActiveState == "reloading" ||
		st.ActiveState == "activating" || st.ActiveState == "deactivating"
	// Waiting to restart, or remaining after exit, the main process is
	// the one that exited.
	running = running && st.SubState != "auto-restart" && st.SubState != "exited"
	if running || st.ExecMainCode == "" {
		if c := commandOf(st.Processes, st.MainPID); c != "" {
			return fmt.Sprintf("%d (%s)", st.MainPID, c)
		}
		return fmt.Sprint(st.MainPID)
	}
	return fmt.Sprintf("%d (code=%s, status=%s)", st.MainPID, st.ExecMainCode, exitStatusText(st.ExecMainCode, st.ExecMainStatus))
}

// execKinds orders the Process: lines as systemctl lists the properties.
var execKinds = []string{"ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"}

// sortedRuns orders runs by list, then by place in the list.
func sortedRuns(runs []api.ExecRun) []api.ExecRun {
	out := slices.Clone(runs)
	rank := func(k string) int { return slices.Index(execKinds, k) }
	slices.SortStableFunc(out, func(a, b api.ExecRun) int {
		if c := rank(a.Kind) - rank(b.Kind); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
	return out
}

// processLine is systemctl's "1234 ExecStartPre=/bin/true (code=exited,
// status=0/SUCCESS)", in red when the command did not end cleanly.
func (v statusView) processLine(r api.ExecRun) string {
	how := "status=" + exitStatusText(r.Code, r.Status)
	if r.Code != "exited" {
		how = "signal=" + signalName(r.Status)
	}
	tail := fmt.Sprintf("(code=%s, %s)", r.Code, how)
	if v.color && !cleanExit(r.Code, r.Status) {
		tail = ansiRed + tail + ansiReset
	}
	return fmt.Sprintf("%d %s=%s %s", r.PID, r.Kind, strings.Join(r.Argv, " "), tail)
}

// cleanExit is systemd's clean exit of a daemon: status 0, or one of the
// signals that ask a daemon to end.
func cleanExit(code string, status int) bool {
	if code == "exited" {
		return status == 0
	}
	switch signalName(status) {
	case "HUP", "INT", "TERM", "PIPE":
		return code == "killed"
	}
	return false
}

// commandOf returns the program name of pid among procs.
func commandOf(procs []api.Process, pid int) string {
	for _, p := range procs {
		if p.PID == pid {
			if f := strings.Fields(p.Command); len(f) > 0 {
				return filepath.Base(f[0])
			}
		}
	}
	return ""
}

// exitStatusNames are the symbolic names systemd gives exit statuses.
var exitStatusNames = map[int]string{
	0: "SUCCESS", 1: "FAILURE", 2: "INVALIDARGUMENT", 3: "NOTIMPLEMENTED",
	4: "NOPERMISSION", 5: "NOTINSTALLED", 6: "NOTCONFIGURED", 7: "NOTRUNNING",
	200: "CHDIR", 201: "NICE", 202: "FDS", 203: "EXEC", 204: "MEMORY", 205: "LIMITS",
	206: "OOM_ADJUST", 207: "SIGNAL_MASK", 208: "STDIN", 209: "STDOUT", 210: "CHROOT",
	214: "SETSCHEDULER", 216: "GROUP", 217: "USER", 218: "CAPABILITIES", 219: "CGROUP",
	220: "SETSID", 222: "STDERR", 226: "NAMESPACE", 233: "RUNTIME_DIRECTORY",
	238: "STATE_DIRECTORY", 239: "CACHE_DIRECTORY", 240: "LOGS_DIRECTORY",
	241: "CONFIGURATION_DIRECTORY",
}

func exitStatusText(code string, status int) string {
	if code == "killed" || code == "dumped" {
		return fmt.Sprintf("%d/%s", status, signalName(status))
	}
	if n, ok := exitStatusNames[status]; ok {
		return fmt.Sprintf("%d/%s", status, n)
	}
	return fmt.Sprint(status)
}

// writeProcs draws the unit's processes under its cgroup line, by pid.
func writeProcs(w io.Writer, procs []api.Process) {
	ps := append([]api.Process(nil), procs...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].PID < ps[j].PID })
	for i, p := range ps {
		branch := "├─"
		if i == len(ps)-1 {
			branch = "└─"
		}
		fmt.Fprintf(w, "%13s%s%d %s\n", "", branch, p.PID, p.Command)
	}
}

// logLine is one journal line in syslog style: "Nov 22 04:01:02 host web[1234]: msg".
func (v statusView) logLine(unit string, e api.LogEntry) string {
	id := e.Identifier
	if id == "" {
		id = strings.TrimSuffix(unit, filepath.Ext(unit))
	}
	if e.PID > 0 {
		id += fmt.Sprintf("[%d]", e.PID)
	}
	return fmt.Sprintf("%s %s %s: %s", e.Time.Local().Format("Jan 02 15:04:05"), v.host, id, e.Message)
}

// relativeTime says how long ago something was, in systemd's style:
// "3min 2s ago", "1h 5min ago", "2 days ago".
func relativeTime(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	const month, year = 2629800 * time.Second, 31557600 * time.Second
	switch {
	case d >= year:
		return fmt.Sprintf("%d years %d months ago", d/year, (d%year)/month)
	case d >= month:
		return fmt.Sprintf("%d months %d days ago", d/month, (d%month)/day)
	case d >= week:
		return fmt.Sprintf("%d weeks %d days ago", d/week, (d%week)/day)
	case d >= 2*day:
		return fmt.Sprintf("%d days ago", d/day)
	case d >= 25*time.Hour:
		return fmt.Sprintf("1 day %dh ago", (d-day)/time.Hour)
	case d >= 6*time.Hour:
		return fmt.Sprintf("%dh ago", d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dmin ago", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= 5*time.Minute:
		return fmt.Sprintf("%dmin ago", d/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dmin %ds ago", d/time.Minute, (d%time.Minute)/time.Second)
	case d >= time.Second:
		return fmt.Sprintf("%ds ago", d/time.Second)
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms ago", d/time.Millisecond)
	}
	return fmt.Sprintf("%dus ago", d/time.Microsecond)
}

// formatBytes prints a size with a binary suffix and one decimal, the
// decimal truncated: 10.5M, 4.0K, 512B.
func formatBytes(b uint64) string {
	const units = "KMGTPE"
	if b < 1024 {
		return fmt.Sprintf("%dB", b)
	}
	f, i := uint64(1024), 0
	for i < len(units)-1 && b/f >= 1024 {
		f *= 1024
		i++
	}
	return fmt.Sprintf("%d.%d%c", b/f, (b%f)*10/f, units[i])
}

// formatCPU prints CPU time to the millisecond: "120ms", "1.234s", "2min 3.456s".
func formatCPU(d time.Duration) string {
	d = d.Truncate(time.Millisecond)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%d.%03ds", d/time.Second, (d%time.Second)/time.Millisecond)
	}
	return fmt.Sprintf("%dmin %d.%03ds", d/time.Minute, (d%time.Minute)/time.Second, (d%time.Second)/time.Millisecond)
}
