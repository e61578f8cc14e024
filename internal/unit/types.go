package unit

import (
	"fmt"
	"time"

	"github.com/tendproject/tend/internal/sandbox"
)

// Kind is a unit's type, taken from its name's suffix.
type Kind string

// Unit kinds tend knows by suffix. Kinds tend does not run yet (mount,
// path, …) still load, so dependencies on them resolve and are reported.
const (
	KindService Kind = "service"
	KindSocket  Kind = "socket"
	KindTimer   Kind = "timer"
	KindTarget  Kind = "target"
	KindPath    Kind = "path"
	KindMount   Kind = "mount"
	KindSlice   Kind = "slice"
	KindScope   Kind = "scope"
	KindDevice  Kind = "device"
	KindSwap    Kind = "swap"
	KindAuto    Kind = "automount"
	// KindSvdir is a runit/daemontools service directory (no unit file:
	// tend makes one unit per directory of a scan directory, see
	// internal/svdir), named so that After=/Requires= can point at it.
	KindSvdir Kind = "svdir"
)

// Severity tells a warning (the unit still loads) from an error (the
// directive or the unit is rejected).
type Severity int

// Severities of a Diag.
const (
	Warning Severity = iota
	Error
)

// Diag is one problem found in a unit file, reported as file:line: message.
type Diag struct {
	File     string
	Line     int // 0 when the problem concerns the whole file
	Severity Severity
	Msg      string
}

// Error formats the diag as "file:line: message" ("file: message" when
// it concerns the whole file).
func (d Diag) Error() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Msg)
}

// Entry is one raw assignment as it appeared in a file (after continuation
// lines were joined), before any interpretation.
type Entry struct {
	Section string
	Key     string
	Value   string
	File    string
	Line    int
}

// LoadState mirrors systemd's LoadState property.
type LoadState string

// Load states.
const (
	Loaded     LoadState = "loaded"
	NotFound   LoadState = "not-found"
	BadSetting LoadState = "bad-setting"
	LoadError  LoadState = "error"
	Masked     LoadState = "masked"
)

// Unit is one fully loaded unit: fragment plus drop-ins, specifiers
// resolved, typed. A Unit is immutable once loaded; reload builds new ones.
type Unit struct {
	Name     string // canonical name, e.g. "web.service", "getty@tty1.service"
	Kind     Kind
	Load     LoadState
	Path     string   // fragment path; "" when not found or masked by /dev/null
	DropIns  []string // drop-in files applied, in order
	Aliases  []string // other names this unit is known by (symlinks, Alias=)
	Template string   // "getty@.service" for an instance, else ""
	Instance string   // "tty1" for an instance, else ""

	// Entries holds every assignment of every section in file order
	// (fragment first, then drop-ins), for `show`, `cat` and for kinds
	// whose typed form lives in other packages (sockets, timers).
	Entries []Entry
	// Unsupported names directives tend recognises as systemd's but does
	// not implement; the loader emits one warning per unit listing them.
	Unsupported []string
	Diags       []Diag

	Description   string
	Documentation []string
	// Deps are the [Unit] dependency lists; nil when the unit has none
	// (a Deps is 13 slice headers, 312 bytes, kept for every unit the
	// daemon holds). Read it with Dependencies, fill it with EnsureDeps.
	Deps *Deps
	// DefaultDependencies as set by the unit (default true).
	DefaultDependencies bool
	Conditions          []Condition // Condition*= and Assert*= in file order
	StartLimitInterval  time.Duration
	StartLimitBurst     int
	StartLimitAction    string
	RefuseManualStart   bool
	RefuseManualStop    bool
	StopWhenUnneeded    bool
	JobTimeout          time.Duration // 0 = infinity
	SourcePath          string

	Service *Service // non-nil iff Kind == KindService
	// Install is the [Install] section; nil when the unit has none (most
	// units the daemon holds: it is read only to enable and disable).
	Install *Install
}

// Dependencies returns u's dependency lists, empty when it has none.
func (u *Unit) Dependencies() Deps {
	if u.Deps == nil {
		return Deps{}
	}
	return *u.Deps
}

// EnsureDeps returns u's dependency lists to fill, made if u had none.
func (u *Unit) EnsureDeps() *Deps {
	if u.Deps == nil {
		u.Deps = &Deps{}
	}
	return u.Deps
}

// InstallSection is u's [Install] section, empty when it has none.
func (u *Unit) InstallSection() Install {
	if u.Install == nil {
		return Install{}
	}
	return *u.Install
}

// Deps are the dependency and ordering lists of [Unit]. Names are
// canonical unit names with specifiers resolved.
type Deps struct {
	Requires             []string
	Requisite            []string
	Wants                []string
	BindsTo              []string
	PartOf               []string
	Upholds              []string
	Conflicts            []string
	After                []string
	Before               []string
	OnFailure            []string
	OnSuccess            []string
	PropagatesReloadTo   []string
	ReloadPropagatedFrom []string
}

// Condition is one Condition*= or Assert*= line.
type Condition struct {
	Assert  bool   // Assert*= rather than Condition*=
	Kind    string // the part after Condition/Assert, e.g. "PathExists"
	Trigger bool   // "|" prefix: any one triggering condition suffices
	Negate  bool   // "!" prefix
	Arg     string // argument after prefixes, specifiers resolved
	File    string
	Line    int
}

// ServiceType is Type= of a service.
type ServiceType string

// Service types.
const (
	TypeSimple       ServiceType = "simple"
	TypeExec         ServiceType = "exec"
	TypeForking      ServiceType = "forking"
	TypeOneshot      ServiceType = "oneshot"
	TypeNotify       ServiceType = "notify"
	TypeNotifyReload ServiceType = "notify-reload"
	TypeIdle         ServiceType = "idle"
	TypeDBus         ServiceType = "dbus"
)

// RestartPolicy is Restart= of a service.
type RestartPolicy string

// Restart policies.
const (
	RestartNo         RestartPolicy = "no"
	RestartAlways     RestartPolicy = "always"
	RestartOnSuccess  RestartPolicy = "on-success"
	RestartOnFailure  RestartPolicy = "on-failure"
	RestartOnAbnormal RestartPolicy = "on-abnormal"
	RestartOnAbort    RestartPolicy = "on-abort"
	RestartOnWatchdog RestartPolicy = "on-watchdog"
)

// KillMode is KillMode= of a unit.
type KillMode string

// Kill modes.
const (
	KillControlGroup KillMode = "control-group"
	KillMixed        KillMode = "mixed"
	KillProcess      KillMode = "process"
	KillNone         KillMode = "none"
)

// Infinity is the value of a duration set to "infinity".
const Infinity = time.Duration(1<<63 - 1)

// Service is the [Service] section.
type Service struct {
	Type            ServiceType
	RemainAfterExit bool
	GuessMainPID    bool
	PIDFile         string // absolute path, specifiers resolved
	NotifyAccess    string // none, main, exec, all ("" = default for Type)
	// OOMPolicy is what an OOM kill in the unit's group does: stop (also
	// ""), kill or continue (systemd.service(5)).
	OOMPolicy string

	ExecCondition []Command
	ExecStartPre  []Command
	ExecStart     []Command
	ExecStartPost []Command
	ExecReload    []Command
	ExecStop      []Command
	ExecStopPost  []Command

	Restart                  RestartPolicy
	RestartSec               time.Duration // default 100ms
	RestartSteps             int
	RestartMaxDelay          time.Duration // 0 = unset
	TimeoutStart             time.Duration // default 90s; Infinity = none
	TimeoutStop              time.Duration // default 90s; Infinity = none
	TimeoutAbort             time.Duration // default = TimeoutStop
	RuntimeMax               time.Duration // Infinity = none
	Watchdog                 time.Duration
	SuccessExitStatus        ExitStatusSet
	RestartPreventExitStatus ExitStatusSet
	RestartForceExitStatus   ExitStatusSet
	Sockets                  []string

	Kill KillContext
	Exec ExecContext
	// Resources is nil when the unit sets none (ResourceSettings reads
	// it either way): most services set none, and it is 150 bytes.
	Resources *ResourceContext // resources.go
}

// ExitStatusSet is a set of exit codes and signals (SuccessExitStatus= and
// friends).
type ExitStatusSet struct {
	Codes   []int
	Signals []int // signal numbers
}

// KillContext is how a unit's processes are stopped.
type KillContext struct {
	Mode              KillMode // default control-group
	Signal            int      // default SIGTERM
	RestartKillSignal int      // default = Signal
	FinalKillSignal   int      // default SIGKILL
	WatchdogSignal    int      // default SIGABRT
	SendSIGKILL       bool     // default true
	SendSIGHUP        bool
}

// Command is one command line of an Exec*= directive.
type Command struct {
	Path string   // executable to run (argv[0] unless ArgvZero)
	Argv []string // argv as the process sees it; $VAR references are left for run time
	// Prefix flags, see systemd.service(5) "Table 1. Special executable prefixes".
	IgnoreFailure bool // "-"
	ArgvZero      bool // "@": Argv[0] is set separately from Path
	NoEnvExpand   bool // ":"
	FullPrivilege bool // "+"
	NoSetuid      bool // "!"
	AmbientOnly   bool // "!!"
	File          string
	Line          int
}

// Rlimit is one resource limit.
type Rlimit struct {
	Soft, Hard uint64 // RLIM_INFINITY = ^uint64(0)
}

// DirSpec is the list and mode of one of RuntimeDirectory= and friends.
type DirSpec struct {
	Paths []string // relative to the base directory
	Mode  uint32   // default 0755
	// Links are the "path:link" forms: link (relative to the base) is
	// made a symlink to path.
	Links []DirLink
}

// DirLink is one "path:link" of a *Directory= setting.
type DirLink struct{ Path, Link string }

// ExecContext holds the execution settings shared by every kind that
// starts processes.
type ExecContext struct {
	User                string
	Group               string
	SupplementaryGroups []string
	DynamicUser         bool

	Environment      []string // KEY=VALUE in order; later wins
	EnvironmentFiles []EnvFile
	PassEnvironment  []string
	UnsetEnvironment []string

	WorkingDirectory         string // may be "~"; "" = default
	WorkingDirectoryOptional bool   // "-" prefix
	RootDirectory            string
	UMask                    uint32 // default 0022
	Nice                     *int
	OOMScoreAdjust           *int
	Limits                   map[string]Rlimit // key: "NOFILE", "NPROC", …

	RuntimeDirectory         DirSpec
	StateDirectory           DirSpec
	CacheDirectory           DirSpec
	LogsDirectory            DirSpec
	ConfigurationDirectory   DirSpec
	RuntimeDirectoryPreserve string // no, yes, restart

	StandardInput string // null (default; data with StandardInputData=), tty, socket, data, file:…, …
	// StandardInputData is what StandardInput=data gives the process
	// (StandardInputText= and StandardInputData=, in order).
	StandardInputData []byte
	StandardOutput    string // journal (default), null, inherit, file:…, append:…, truncate:…, socket, tty
	StandardError     string // inherit (default: same as stdout), …
	TTYPath           string
	SyslogIdentifier  string
	SyslogFacility    string
	SyslogLevel       string
	SyslogLevelPrefix bool // default true

	// Proc is nil when the unit sets none of these (ProcSettings reads it
	// either way).
	Proc *ProcContext // scheduling, placement, credentials… (process.go)

	// Sandbox holds the privilege and sandboxing settings; nil when the
	// unit sets none (SandboxSettings reads it either way).
	Sandbox *sandbox.Config
}

// EnvFile is one EnvironmentFile= entry.
type EnvFile struct {
	Path     string
	Optional bool // "-" prefix
}

// Install is the [Install] section.
type Install struct {
	WantedBy        []string
	RequiredBy      []string
	UpheldBy        []string
	Alias           []string
	Also            []string
	DefaultInstance string
}

// SandboxSettings is ec.Sandbox, or no sandboxing when the unit set none.
func (ec *ExecContext) SandboxSettings() *sandbox.Config {
	if ec.Sandbox != nil {
		return ec.Sandbox
	}
	return &sandbox.Config{}
}

// ProcSettings is ec.Proc, or the defaults when the unit set none.
func (ec *ExecContext) ProcSettings() *ProcContext {
	if ec.Proc != nil {
		return ec.Proc
	}
	return &ProcContext{}
}

// ResourceSettings is s.Resources, or no limits when the unit set none.
func (s *Service) ResourceSettings() *ResourceContext {
	if s.Resources != nil {
		return s.Resources
	}
	return &ResourceContext{}
}
