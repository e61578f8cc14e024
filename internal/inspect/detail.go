package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/procfs"
)

// Detail is everything tend inspect shows about one process. Fields that
// could not be read are listed in Unreadable with the reason.
type Detail struct {
	Process    *Process            `json:"process"`
	GIDs       [4]int              `json:"gids"`
	UIDs       [4]int              `json:"uids"`
	Groups     []int               `json:"groups,omitempty"`
	Umask      string              `json:"umask,omitempty"`
	Exe        string              `json:"exe,omitempty"`
	Cwd        string              `json:"cwd,omitempty"`
	Syscall    string              `json:"syscall,omitempty"` // what it is blocked in
	Cgroups    []procfs.CgroupLine `json:"cgroups,omitempty"`
	Limits     []procfs.Limit      `json:"limits,omitempty"`
	Namespaces []procfs.Namespace  `json:"namespaces,omitempty"`
	FDCount    map[string]int      `json:"fd_types,omitempty"`
	CapEff     string              `json:"cap_eff,omitempty"`
	Seccomp    int                 `json:"seccomp"`
	PCPU       float64             `json:"pcpu"`
	PMEM       float64             `json:"pmem"`
	Unreadable map[string]string   `json:"unreadable,omitempty"`
}

// Inspect reads one process in full.
func Inspect(ctx context.Context, c *Collector, pid int) (*Detail, error) {
	snap, err := c.Snapshot(ctx, NeedArgs|NeedStatus|NeedCgroup|NeedStatm|NeedWchan, []int{pid})
	if err != nil {
		return nil, err
	}
	p := snap.Get(pid)
	if p == nil {
		return nil, fmt.Errorf("no such process: %d", pid)
	}
	d := &Detail{Process: p, Unreadable: map[string]string{},
		PCPU: float64(PCPU(p, snap)) / 10, PMEM: float64(PMEM(p, snap.MemTotal)) / 10}
	r := c.FS.NewReader()
	note := func(what string, err error) bool {
		if err != nil {
			d.Unreadable[what] = reason(err)
			return false
		}
		return true
	}
	if st, err := r.Status(pid); note("status", err) {
		d.UIDs, d.GIDs, d.Groups, d.Seccomp = st.UIDs, st.GIDs, st.Groups, st.Seccomp
		d.CapEff = fmt.Sprintf("%016x", st.CapEff)
		if st.Umask >= 0 {
			d.Umask = fmt.Sprintf("%04o", st.Umask)
		}
	}
	var err2 error
	d.Exe, err2 = os.Readlink(c.FS.Path(strconv.Itoa(pid), "exe"))
	note("exe", err2)
	d.Cwd, err2 = os.Readlink(c.FS.Path(strconv.Itoa(pid), "cwd"))
	note("cwd", err2)
	if p.Kernel {
		d.Syscall = "kernel thread (no system calls)"
	} else if sc, err := r.Syscall(pid); note("syscall", err) {
		d.Syscall = describeSyscall(sc)
	}
	d.Cgroups, err2 = r.Cgroups(pid)
	note("cgroup", err2)
	d.Limits, err2 = r.Limits(pid)
	note("limits", err2)
	d.Namespaces, err2 = r.Namespaces(pid)
	note("namespaces", err2)
	if fds, err := r.FDs(pid); note("fd", err) {
		d.FDCount = map[string]int{}
		for i := range fds {
			k := fds[i].Kind()
			if kind, _, ok := fds[i].LinkInode(); ok && kind != "socket" {
				k = kind
			}
			d.FDCount[k]++
		}
	}
	return d, nil
}

func reason(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "process exited while being read"
	}
	return err.Error()
}

func describeSyscall(sc procfs.Syscall) string {
	switch {
	case sc.Running:
		return "running (not in a system call)"
	case sc.Number < 0:
		return "blocked outside a system call (page fault or kernel work)"
	}
	name := syscallName(sc.Number)
	return fmt.Sprintf("%s (nr %d, args %#x %#x %#x)", name, sc.Number, sc.Args[0], sc.Args[1], sc.Args[2])
}

// WriteDetail prints d as one screen of labelled lines.
func WriteDetail(w io.Writer, d *Detail, now time.Time) error {
	p := d.Process
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-12s %s\n", k+":", v) }
	line("Process", fmt.Sprintf("%d %s", p.PID, CommandLine(p)))
	line("Identity", fmt.Sprintf("ppid %d, pgid %d, sid %d, tty %s", p.PPID, p.PGID, p.SID, p.TTY))
	if _, bad := d.Unreadable["status"]; !bad {
		line("Users", fmt.Sprintf("uid %s, gid %s, groups %s", idQuad(d.UIDs), idQuad(d.GIDs), dash(joinInts(d.Groups))))
		line("Security", fmt.Sprintf("umask %s, effective caps %s, seccomp %d", d.Umask, d.CapEff, d.Seccomp))
	}
	line("User", p.User)
	line("State", fmt.Sprintf("%s (%s)", p.Stat, stateName(p.State)))
	blocked := dash(p.Wchan)
	if d.Syscall != "" {
		blocked += "; " + d.Syscall
	}
	line("Waiting in", blocked)
	line("Unit", dash(p.Unit))
	line("Cgroup", dash(p.Cgroup))
	line("Started", fmt.Sprintf("%s (%s ago)", p.Start.Local().Format(time.DateTime), now.Sub(p.Start).Round(time.Second)))
	line("CPU", fmt.Sprintf("%s total, %.1f%% of lifetime, nice %d, %d threads", CPUTime(p.CPUTicks), d.PCPU, p.Nice, p.Threads))
	line("Memory", fmt.Sprintf("rss %d KiB (%.1f%%), shared %d KiB, virtual %d KiB", p.RSS, d.PMEM, p.Shared, p.VSZ))
	line("Exe", dash(d.Exe))
	line("Cwd", dash(d.Cwd))
	if len(d.FDCount) > 0 {
		line("Open files", countSummary(d.FDCount))
	}
	if len(d.Namespaces) > 0 {
		var ns []string
		for _, n := range d.Namespaces {
			ns = append(ns, fmt.Sprintf("%s:%d", n.Type, n.Inode))
		}
		line("Namespaces", strings.Join(ns, " "))
	}
	for _, l := range d.Limits {
		if l.Soft == -1 && l.Hard == -1 {
			continue
		}
		line("Limit", fmt.Sprintf("%s %s/%s %s", l.Name, limitString(l.Soft), limitString(l.Hard), l.Units))
	}
	keys := make([]string, 0, len(d.Unreadable))
	for k := range d.Unreadable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line("Unreadable", k+": "+d.Unreadable[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteDetailJSON prints d as JSON.
func WriteDetailJSON(w io.Writer, d *Detail) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // STAT letters such as "S<" stay readable
	return enc.Encode(d)
}

func idQuad(q [4]int) string {
	if q[0] == q[1] && q[1] == q[2] && q[2] == q[3] {
		return strconv.Itoa(q[0])
	}
	return fmt.Sprintf("%d/%d/%d/%d (real/effective/saved/fs)", q[0], q[1], q[2], q[3])
}

func limitString(v int64) string {
	if v < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(v, 10)
}

func countSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	total := 0
	for k, n := range m {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func stateName(s string) string {
	switch s {
	case "R":
		return "running"
	case "S":
		return "sleeping"
	case "D":
		return "uninterruptible sleep"
	case "Z":
		return "zombie"
	case "T":
		return "stopped"
	case "t":
		return "stopped by tracer"
	case "I":
		return "idle"
	case "X":
		return "dead"
	}
	return s
}
