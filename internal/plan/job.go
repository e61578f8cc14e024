package plan

import "fmt"

// JobKind is what a job does to its unit.
type JobKind int

// Job kinds, named as systemctl names them.
const (
	// Start activates the unit.
	Start JobKind = iota
	// Stop deactivates the unit.
	Stop
	// Restart stops the unit if it runs and starts it again.
	Restart
	// TryRestart restarts the unit only if it is active; the transaction
	// turns it into Restart or drops it, using the State function.
	TryRestart
	// Reload asks the running unit to reload its configuration.
	Reload
	// ReloadOrRestart reloads the unit if it supports reloading and
	// restarts it otherwise; an inactive unit is started. The transaction
	// resolves it into Reload, Restart or Start.
	ReloadOrRestart
	// VerifyActive fails unless the unit is active when the job runs; it
	// is what Requisite= pulls in.
	VerifyActive
)

var jobKindNames = [...]string{
	Start:           "start",
	Stop:            "stop",
	Restart:         "restart",
	TryRestart:      "try-restart",
	Reload:          "reload",
	ReloadOrRestart: "reload-or-restart",
	VerifyActive:    "verify-active",
}

// String returns the kind as systemctl spells it ("start", "try-restart", …).
func (k JobKind) String() string {
	if k >= 0 && int(k) < len(jobKindNames) {
		return jobKindNames[k]
	}
	return fmt.Sprintf("JobKind(%d)", int(k))
}

// ParseJobKind is the inverse of [JobKind.String].
func ParseJobKind(s string) (JobKind, error) {
	for k, n := range jobKindNames {
		if n == s {
			return JobKind(k), nil
		}
	}
	return 0, fmt.Errorf("unknown job kind %q", s)
}

// stopLike reports whether the kind takes the unit down. For ordering,
// such jobs run in reverse dependency order and before start-like jobs
// of units they are ordered against.
func (k JobKind) stopLike() bool { return k == Stop }

// Mode says how a transaction treats dependencies and other jobs, as
// systemctl's --job-mode does.
type Mode int

// Job modes.
const (
	// Replace queues the jobs, replacing conflicting queued jobs.
	Replace Mode = iota
	// Fail refuses the transaction if it conflicts with queued jobs (the
	// plan does not know queued jobs: the supervisor enforces this) and
	// leaves running units alone unless the request needs them stopped.
	Fail
	// Isolate starts the unit and its dependencies and stops every other
	// unit, except those with IgnoreOnIsolate=yes.
	Isolate
	// IgnoreDependencies queues only the requested jobs, with neither
	// requirement nor ordering dependencies.
	IgnoreDependencies
	// IgnoreRequirements queues only the requested jobs but keeps the
	// ordering between them.
	IgnoreRequirements
)

var modeNames = [...]string{
	Replace:            "replace",
	Fail:               "fail",
	Isolate:            "isolate",
	IgnoreDependencies: "ignore-dependencies",
	IgnoreRequirements: "ignore-requirements",
}

// String returns the mode as systemctl spells it.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses a --job-mode value; "" means Replace.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Replace, nil
	}
	for m, n := range modeNames {
		if n == s {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("unknown job mode %q", s)
}

// State is a unit's ActiveState as systemd names it.
type State string

// Active states.
const (
	Active       State = "active"
	Inactive     State = "inactive"
	Failed       State = "failed"
	Activating   State = "activating"
	Deactivating State = "deactivating"
	Reloading    State = "reloading"
)

// up reports whether the unit runs or is getting there, which is what
// try-restart, reload and isolate care about.
func (s State) up() bool {
	return s == Active || s == Activating || s == Reloading
}

// Job is one job of a [Transaction].
type Job struct {
	Unit string
	Kind JobKind
	// Anchor marks the jobs that were asked for; the others were pulled in.
	Anchor bool
	// Required is true when the job matters to an anchor: it is an anchor
	// or was pulled in by a chain of Requires=, BindsTo=, Requisite=,
	// Conflicts= or stop propagation from one. Jobs pulled in by Wants= or
	// Upholds= are not required; their failure stays their own.
	Required bool
	// After lists indices (into Transaction.Jobs) of jobs that must finish
	// before this one runs. Jobs are listed so that every index in After is
	// smaller than the job's own.
	After []int
	// Dependents lists indices of jobs that fail with result "dependency"
	// when this job fails: for a start-like job, the start-like jobs of
	// units that have Requires=, BindsTo= or Requisite= on this unit; for a
	// stop job, the start-like jobs of units that conflict with it.
	Dependents []int
}

// Skip is a unit a transaction pulled in but gave no job, with the reason.
type Skip struct {
	Unit   string
	Reason string
}

// Transaction is the set of jobs one request turns into, ordered. At most
// one job exists per unit. A job may run once every job in its After list
// has finished; jobs not ordered against each other may run in parallel.
type Transaction struct {
	Mode Mode
	Jobs []Job
	// Skipped lists units the request reached that get no job: units
	// managed outside tend, or units pulled in by Wants= that do not load.
	Skipped []Skip
	// Warnings are for the log and the caller: how an ordering cycle was
	// broken ("ordering cycle found: a.service → b.service → a.service;
	// dropped job for b.service", each arrow pointing at the job the
	// previous one waits for) or which of two conflicting jobs was dropped.
	Warnings []string
}

// Index returns the index of the job for unit name, or -1.
func (t *Transaction) Index(name string) int {
	for i, j := range t.Jobs {
		if j.Unit == name {
			return i
		}
	}
	return -1
}
