package daemon

import (
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/procfs"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// properties renders a unit as systemctl show does: runtime properties
// under systemd's names, then the unit's own settings (last value wins).
func properties(st supervise.Status) map[string]string {
	def := st.Def
	p := map[string]string{}
	// List settings accumulate (an empty assignment resets them); their
	// values are joined once at the end, so a unit with many entries
	// costs linear time, not quadratic.
	lists := map[string][]string{}
	for _, e := range def.Entries {
		if !isListKey(e.Key) {
			p[e.Key] = e.Value
			continue
		}
		if e.Value == "" {
			lists[e.Key] = lists[e.Key][:0]
		} else {
			lists[e.Key] = append(lists[e.Key], e.Value)
		}
	}
	for k, vs := range lists {
		p[k] = strings.Join(vs, " ")
	}
	names := append([]string{def.Name}, def.Aliases...)
	set := func(k, v string) { p[k] = v }
	set("Id", def.Name)
	set("Names", strings.Join(names, " "))
	set("Description", def.Description)
	set("LoadState", string(def.Load))
	set("ActiveState", string(st.Active))
	set("SubState", st.Sub)
	set("FragmentPath", def.Path)
	set("DropInPaths", strings.Join(def.DropIns, " "))
	set("Result", string(st.Result))
	set("MainPID", strconv.Itoa(st.MainPID))
	set("ControlPID", strconv.Itoa(st.ControlPID))
	set("ExecMainPID", strconv.Itoa(st.ExecMainPID))
	set("ExecMainCode", execMainCode(st.ExecMainCode))
	set("ExecMainStatus", strconv.Itoa(st.ExecMainStat))
	set("StatusText", st.StatusText)
	set("StatusErrno", strconv.Itoa(st.Errno))
	set("NRestarts", strconv.Itoa(st.NRestarts))
	set("InvocationID", st.InvocationID)
	set("ControlGroup", st.Cgroup)
	set("TasksCurrent", strconv.Itoa(st.Tasks))
	set("MemoryCurrent", strconv.FormatUint(st.MemoryBytes, 10))
	set("CPUUsageNSec", strconv.FormatUint(st.CPUNanos, 10))
	limitProperties(st, set)
	set("StateChangeTimestamp", timestamp(st.Since))
	set("Job", st.Job)
	if svc := def.Service; svc != nil {
		set("Type", string(svc.Type))
		set("Restart", string(svc.Restart))
		set("RestartUSec", usec(svc.RestartSec))
		set("TimeoutStartUSec", usec(svc.TimeoutStart))
		set("TimeoutStopUSec", usec(svc.TimeoutStop))
		set("RemainAfterExit", yesNo(svc.RemainAfterExit))
		set("KillMode", string(svc.Kill.Mode))
		set("PIDFile", svc.PIDFile)
		set("NotifyAccess", svc.NotifyAccess)
		set("WatchdogUSec", usec(st.WatchdogUSec))
		set("WatchdogTimestamp", timestamp(st.WatchdogTimestamp))
		set("WatchdogSignal", strconv.Itoa(svc.Kill.WatchdogSignal))
		abort := svc.TimeoutAbort
		if abort == 0 {
			abort = svc.TimeoutStop
		}
		set("TimeoutAbortUSec", usec(abort))
		set("RuntimeMaxUSec", usec(svc.RuntimeMax))
		set("StatusErrno", strconv.Itoa(st.Errno))
		execProperties(st, svc, set)
	}
	if st.Timer != nil {
		timerProperties(st.Timer, set)
	}
	set("Documentation", strings.Join(def.Documentation, " "))
	return p
}

func isListKey(k string) bool {
	switch k {
	case "Wants", "Requires", "After", "Before", "Requisite", "BindsTo", "PartOf",
		"Conflicts", "WantedBy", "RequiredBy", "Also", "Alias", "Environment", "OnFailure", "OnSuccess", "Upholds":
		return true
	}
	return false
}

// execMainCode maps our code names to the numbers systemd shows (CLD_*).
func execMainCode(c string) string {
	switch c {
	case "exited":
		return "1"
	case "killed":
		return "2"
	case "dumped":
		return "3"
	}
	return "0"
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("Mon 2006-01-02 15:04:05 MST")
}

func usec(d time.Duration) string {
	if d == unit.Infinity {
		return "infinity"
	}
	return unit.FormatTimespan(d)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// processes lists pids with their parent and command line (a kernel
// thread's, or a zombie's, is its [comm]).
func processes(pids []int) []api.Process {
	r := procfs.New("/proc").NewReader()
	out := make([]api.Process, 0, len(pids))
	for _, pid := range pids {
		pr := api.Process{PID: pid}
		if args, err := r.Cmdline(pid); err == nil {
			pr.Command = strings.Join(args, " ")
		}
		if st, err := r.Stat(pid); err == nil {
			pr.PPID = st.PPID
			if pr.Command == "" {
				pr.Command = "[" + st.Comm + "]"
			}
		}
		out = append(out, pr)
	}
	return out
}

// changedOnDisk reports whether a unit's files changed since it was loaded.
func changedOnDisk(def *unit.Unit, loadedAt time.Time) bool {
	if loadedAt.IsZero() || def.Kind == unit.KindSvdir || def.Load == unit.NotFound {
		// A service directory is read at each start, never reloaded; a
		// unit not found has no file a reload would read.
		return false
	}
	for _, p := range append([]string{def.Path}, def.DropIns...) {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || fi.ModTime().After(loadedAt) {
			return true
		}
	}
	return false
}

func wireEntry(e journal.Entry) api.LogEntry {
	return api.LogEntry{
		Cursor: journal.FormatCursor(e), Time: e.Realtime, Monotonic: uint64(e.Monotonic / time.Microsecond),
		BootID: e.BootID, Unit: e.Unit, PID: e.PID, UID: e.UID, Priority: e.Priority,
		Facility: e.Facility, Identifier: e.Identifier, Stream: e.Stream.String(), Message: string(e.Message),
		Hostname: e.Origin.Hostname, SourceAddress: e.Origin.Address, SenderTime: e.Origin.Time,
		MsgID: e.Origin.MsgID, StructuredData: e.Origin.StructuredData,
	}
}

func journalQuery(q api.LogQuery) journal.Query {
	jq := journal.Query{
		Units: q.Units, Since: q.Since, Until: q.Until, Lines: q.Lines, Grep: q.Grep,
		CaseSensitive: q.CaseSensitive, Boot: q.Boot, Reverse: q.Reverse,
		Cursor: q.Cursor, AfterCursor: q.AfterCursor, Matches: q.Matches,
	}
	hi := q.PriorityMax
	if hi == 0 && q.PriorityMin == 0 {
		hi = 7
	}
	if q.PriorityMin != 0 || q.PriorityMax != 0 {
		jq.Priorities = journal.PriorityMask(q.PriorityMin, hi)
	}
	return jq
}
