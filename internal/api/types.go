// Package api is tend's control API: JSON over HTTP on a unix socket, with
// access decided by the caller's peer credentials. It defines the wire types
// shared with internal/client and the Manager interface the daemon
// implements; it imports nothing above it.
package api

import (
	"context"
	"time"
)

// Manager is what the daemon exposes to the API. Implementations must be
// safe for concurrent use. Errors that concern a unit name wrap ErrNoSuchUnit
// or ErrRefused where that applies so the API can map them to status codes.
type Manager interface {
	// Jobs: mode is "replace" (default), "fail", "isolate", "ignore-dependencies".
	// When wait is true the call returns after the jobs finished.
	Start(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	Stop(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	Restart(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	TryRestart(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	Reload(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	ReloadOrRestart(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)
	// Kill sends sig to "main", "control" or "all" processes of each unit.
	Kill(ctx context.Context, names []string, who string, sig int) error
	ResetFailed(ctx context.Context, names []string) error

	// ListUnits returns loaded units matching patterns (globs; empty = all).
	ListUnits(ctx context.Context, patterns []string, all bool) ([]UnitStatus, error)
	ListUnitFiles(ctx context.Context, patterns []string) ([]UnitFile, error)
	Status(ctx context.Context, name string) (UnitStatus, error)
	// Show returns systemd-style properties of a unit (name → value).
	Show(ctx context.Context, name string) (map[string]string, error)
	// Cat returns the fragment and drop-ins, each with its path.
	Cat(ctx context.Context, name string) ([]UnitText, error)
	ListDependencies(ctx context.Context, name string, q DepQuery) (DepTree, error)
	DaemonReload(ctx context.Context) (ReloadReport, error)
	// DaemonReexec asks the manager to re-execute its binary with its
	// state; it returns once the old process no longer accepts
	// connections, so the next request is answered by the new one.
	DaemonReexec(ctx context.Context) error

	// Install operations on unit files (enable, disable, reenable, mask,
	// unmask, preset); they return the symlinks created and removed.
	UnitFiles(ctx context.Context, op string, names []string, opts InstallOptions) (InstallChanges, error)
	IsEnabled(ctx context.Context, names []string) ([]string, error)

	// Logs streams journal entries; the channel closes when done (or at
	// ctx's end with Follow).
	Logs(ctx context.Context, q LogQuery) (<-chan LogEntry, error)
	JournalManager

	// ProcessUnits maps pids to the unit they belong to, for the /proc views.
	ProcessUnits(ctx context.Context) (map[int]string, error)
	// SelfFDs returns the daemon's pid and names its descriptors by role
	// ("journal: web.service stdout"), for `tend fds`. The server, which
	// runs in the daemon, adds its own (control socket, connections).
	SelfFDs(ctx context.Context) (SelfFDs, error)
	// Info describes the instance as a whole: since when it runs and where
	// its unit files are, for `status` without units and for `edit`.
	Info(ctx context.Context) (ManagerInfo, error)
}

// ManagerInfo is the answer of GET /v1/manager.
type ManagerInfo struct {
	Since time.Time `json:"since"` // when the manager started
	// ConfigDir receives the files `edit` writes (the highest-precedence
	// persistent unit directory, as enable's symlinks), RuntimeDir those
	// of `edit --runtime` ("" when the instance has none). SearchPath is
	// the whole unit search path, highest precedence first.
	ConfigDir  string   `json:"config_dir"`
	RuntimeDir string   `json:"runtime_dir,omitempty"`
	SearchPath []string `json:"search_path"`
	// PID and Version are the manager process's (they change with a
	// daemon-reexec of a new binary).
	PID     int    `json:"pid,omitempty"`
	Version string `json:"version,omitempty"`
}

// SelfFDs is the answer of GET /v1/self/fds: the daemon's pid and, for
// each of its descriptors that has one, the part of tend that holds it.
type SelfFDs struct {
	PID int            `json:"pid"`
	FDs map[int]string `json:"fds"`
}

// JobOptions modify a job request.
type JobOptions struct {
	Mode   string `json:"mode,omitempty"`
	NoWait bool   `json:"no_wait,omitempty"`
}

// JobResult is the outcome of one job: "done", "failed", "canceled",
// "timeout", "dependency", "skipped", "queued" (with NoWait).
type JobResult struct {
	Unit   string `json:"unit"`
	Job    string `json:"job"` // start, stop, restart, reload
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// UnitStatus is everything `status` and `list-units` show of one unit.
type UnitStatus struct {
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	LoadState     string    `json:"load_state"`   // loaded, not-found, bad-setting, error, masked
	ActiveState   string    `json:"active_state"` // active, reloading, inactive, failed, activating, deactivating
	SubState      string    `json:"sub_state"`    // running, exited, dead, start-pre, auto-restart, …
	UnitFileState string    `json:"unit_file_state,omitempty"`
	FragmentPath  string    `json:"fragment_path,omitempty"`
	DropIns       []string  `json:"drop_ins,omitempty"`
	Since         time.Time `json:"since,omitzero"` // last change of ActiveState
	Result        string    `json:"result,omitempty"`
	MainPID       int       `json:"main_pid,omitempty"`
	ControlPID    int       `json:"control_pid,omitempty"`
	// ExecMainCode is "exited", "killed" or "dumped"; ExecMainStatus the
	// exit code or signal number of the last main process.
	ExecMainCode   string     `json:"exec_main_code,omitempty"`
	ExecMainStatus int        `json:"exec_main_status,omitempty"`
	StatusText     string     `json:"status_text,omitempty"` // notify STATUS=
	NRestarts      int        `json:"n_restarts"`
	Job            string     `json:"job,omitempty"`       // kind of the pending job: start, stop, …
	JobState       string     `json:"job_state,omitempty"` // waiting, running
	Documentation  []string   `json:"documentation,omitempty"`
	Tasks          int        `json:"tasks,omitempty"`
	MemoryBytes    uint64     `json:"memory_bytes,omitempty"`
	MemoryMax      int64      `json:"memory_max,omitempty"` // limit in force; 0 = none or unknown
	TasksMax       int64      `json:"tasks_max,omitempty"`
	CPUNanos       uint64     `json:"cpu_nanos,omitempty"`
	Cgroup         string     `json:"cgroup,omitempty"`
	Processes      []Process  `json:"processes,omitempty"`
	Warnings       []string   `json:"warnings,omitempty"` // load diagnostics, "changed on disk", …
	NeedReload     bool       `json:"need_daemon_reload,omitempty"`
	Logs           []LogEntry `json:"logs,omitempty"` // last lines, for status
	// ExecRuns are how the commands of the current (or last) activation
	// ended, oldest first (status's Process: lines); Status only.
	ExecRuns []ExecRun `json:"exec_runs,omitempty"`
	// Triggers are the units a socket (or timer) starts, TriggeredBy
	// the sockets and timers that start this unit, with their states.
	Triggers    []UnitRef `json:"triggers,omitempty"`
	TriggeredBy []UnitRef `json:"triggered_by,omitempty"`
	// Socket units: their listeners ("ADDRESS (Kind)"), the connections
	// accepted in all, open now, and refused (MaxConnections=,
	// IPAddressDeny=, …).
	Listen       []Listener `json:"listen,omitempty"`
	NAccepted    uint64     `json:"n_accepted,omitempty"`
	NConnections uint64     `json:"n_connections,omitempty"`
	NRefused     uint64     `json:"n_refused,omitempty"`
	// Timer units: what they trigger and when.
	Timer *TimerInfo `json:"timer,omitempty"`
}

// TimerInfo is a timer unit's schedule, under systemd's property names.
type TimerInfo struct {
	Unit string `json:"unit"`
	// NextElapse is the next elapse on the wall clock, the earlier of
	// the calendar and the monotonic one (what list-timers shows);
	// NextElapseRealtime is the calendar one, NextElapseMonotonic the
	// monotonic one in microseconds since boot (0: none).
	NextElapse          time.Time        `json:"next_elapse,omitzero"`
	NextElapseRealtime  time.Time        `json:"next_elapse_realtime,omitzero"`
	NextElapseMonotonic uint64           `json:"next_elapse_monotonic_usec,omitempty"`
	LastTrigger         time.Time        `json:"last_trigger,omitzero"`
	Persistent          bool             `json:"persistent,omitempty"`
	AccuracyUSec        uint64           `json:"accuracy_usec"`
	RandomizedDelayUSec uint64           `json:"randomized_delay_usec,omitempty"`
	Calendar            []TimerCalendar  `json:"calendar,omitempty"`
	Monotonic           []TimerMonotonic `json:"monotonic,omitempty"`
}

// TimerCalendar is one OnCalendar= line, normalized, with its next elapse.
type TimerCalendar struct {
	Spec string    `json:"spec"`
	Next time.Time `json:"next,omitzero"`
}

// TimerMonotonic is one OnActiveSec=… line: its base as systemd names it
// ("OnBootUSec"), its span and next elapse since boot, in microseconds.
type TimerMonotonic struct {
	Base     string `json:"base"`
	SpanUSec uint64 `json:"span_usec"`
	NextUSec uint64 `json:"next_usec,omitempty"`
}

// UnitRef names a related unit with its state.
type UnitRef struct {
	Name        string `json:"name"`
	ActiveState string `json:"active_state,omitempty"`
}

// Listener is one listener of a socket unit.
type Listener struct {
	Kind    string `json:"kind"` // Stream, Datagram, SequentialPacket, FIFO, Special, Netlink
	Address string `json:"address"`
}

// ExecRun is how one command of a unit's Exec*= lists ended.
type ExecRun struct {
	Kind   string    `json:"kind"`  // ExecStartPre, ExecStart, ExecReload, …
	Index  int       `json:"index"` // which command of that list
	Path   string    `json:"path"`
	Argv   []string  `json:"argv"`
	PID    int       `json:"pid"`
	Code   string    `json:"code"`   // exited, killed, dumped
	Status int       `json:"status"` // exit code or signal number
	Exited time.Time `json:"exited,omitzero"`
}

// Process is one process of a unit.
type Process struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	Command string `json:"command"`
}

// UnitFile is one row of list-unit-files.
type UnitFile struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	State  string `json:"state"` // enabled, disabled, static, masked, alias, indirect, generated, linked
	Preset string `json:"preset,omitempty"`
}

// UnitText is one file of `cat`.
type UnitText struct {
	Path string `json:"path"`
	Text string `json:"text"`
}

// DepQuery selects what list-dependencies follows.
type DepQuery struct {
	// Kind is "" (Requires=, Wants=, … as systemctl's default),
	// "reverse" (RequiredBy=, WantedBy=, …), "after" (After=: the units
	// ordered before this one) or "before" (Before=).
	Kind string `json:"kind,omitempty"`
	// All expands every unit, not only targets.
	All bool `json:"all,omitempty"`
}

// Dependency kinds of DepQuery.
const (
	DepRequires = ""
	DepReverse  = "reverse"
	DepAfter    = "after"
	DepBefore   = "before"
)

// DepTree is a node of list-dependencies.
type DepTree struct {
	Name        string    `json:"name"`
	ActiveState string    `json:"active_state"`
	Children    []DepTree `json:"children,omitempty"`
}

// ReloadReport says what daemon-reload changed.
type ReloadReport struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// Changed lists running units whose definition changed on disk; they
	// keep running with the old definition until restarted.
	Changed []string `json:"changed,omitempty"`
	Errors  []string `json:"errors,omitempty"` // file:line: message
}

// InstallOptions modify unit-file operations.
type InstallOptions struct {
	Runtime bool `json:"runtime,omitempty"` // under /run instead of /etc
	Now     bool `json:"now,omitempty"`     // also start/stop
	Force   bool `json:"force,omitempty"`
}

// InstallChanges lists what an install operation did.
type InstallChanges struct {
	Created []Symlink `json:"created,omitempty"`
	Removed []string  `json:"removed,omitempty"`
	// Warnings are non-fatal notes, e.g. a unit without [Install] section.
	Warnings []string `json:"warnings,omitempty"`
}

// Symlink is one symlink created: Path → Target.
type Symlink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// LogQuery selects journal entries.
type LogQuery struct {
	Units         []string  `json:"units,omitempty"` // globs allowed
	Since         time.Time `json:"since,omitzero"`
	Until         time.Time `json:"until,omitzero"`
	Lines         int       `json:"lines,omitempty"` // last N (0 = all)
	Follow        bool      `json:"follow,omitempty"`
	Grep          string    `json:"grep,omitempty"`
	CaseSensitive bool      `json:"case_sensitive,omitempty"`
	PriorityMin   int       `json:"priority_min,omitempty"` // 0 emerg … 7 debug
	PriorityMax   int       `json:"priority_max,omitempty"` // 0 = unset means 7
	Boot          string    `json:"boot,omitempty"`
	Reverse       bool      `json:"reverse,omitempty"`
	Cursor        string    `json:"cursor,omitempty"`
	AfterCursor   string    `json:"after_cursor,omitempty"`
	// Matches are journalctl match expressions (words such as "_PID=12"
	// and "+"); an entry must satisfy each.
	Matches [][]string `json:"matches,omitempty"`
}

// LogEntry is one journal entry on the wire.
type LogEntry struct {
	Cursor     string    `json:"cursor"`
	Time       time.Time `json:"time"`
	Monotonic  uint64    `json:"monotonic_usec,omitempty"`
	BootID     string    `json:"boot_id,omitempty"`
	Unit       string    `json:"unit,omitempty"`
	PID        int       `json:"pid,omitempty"`
	UID        int       `json:"uid,omitempty"`
	Priority   int       `json:"priority"`
	Facility   int       `json:"facility,omitempty"`
	Identifier string    `json:"identifier,omitempty"`
	Stream     string    `json:"stream,omitempty"` // stdout, stderr, syslog, tend, kernel
	// What a syslog sender said about itself (journal.Origin).
	Hostname       string    `json:"hostname,omitempty"`
	SourceAddress  string    `json:"source_address,omitempty"`
	SenderTime     time.Time `json:"sender_time,omitzero"`
	MsgID          string    `json:"msgid,omitempty"`
	StructuredData string    `json:"structured_data,omitempty"`
	Message        string    `json:"message"` // may hold arbitrary bytes
}
