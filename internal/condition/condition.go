// Package condition evaluates Condition*= and Assert*= settings of units
// the way systemd.unit(5) defines them, against an [Env] that names the
// root paths and identity to test, so tests can use fixture trees.
package condition

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Env is what conditions are tested against. Zero fields mean "look it
// up": paths default to the host's, values are read from them.
type Env struct {
	Root string // file system root for path conditions and /etc files; "" = "/"
	Proc string // procfs mount; "" = "/proc"
	Sys  string // sysfs mount; "" = "/sys"

	Hostname      string // "" = read Proc/sys/kernel/hostname
	MachineID     string // "" = read Root/etc/machine-id
	KernelRelease string // "" = read Proc/sys/kernel/osrelease

	// Identity of the service manager, for ConditionUser= and
	// ConditionGroup=. User is the name of UID; "" = look it up in
	// Root/etc/passwd.
	UID, GID int
	User     string
	Groups   []int

	Environ        []string // the manager's environment (KEY=VALUE), for ConditionEnvironment=
	CredentialsDir string   // where the manager's credentials are, for ConditionCredential=
	FirstBoot      bool     // whether this boot is the machine's first

	CPUs        int    // CPUs the manager may run on; 0 = sched affinity of this process
	MemoryBytes uint64 // physical memory; 0 = MemTotal of Proc/meminfo, or our cgroup's limit if lower

	// KernelCmdline returns the kernel command line; nil = read
	// Proc/cmdline, or Proc/1/cmdline inside a container (as systemd does).
	KernelCmdline func() ([]byte, error)
	// Virtualization returns what the machine runs in; nil = [Detect].
	Virtualization func() Virt
}

// Result is the outcome of [Eval].
type Result struct {
	// OK is true when the unit may start: every condition and assertion
	// holds.
	OK bool
	// Failed points (into the slice given to Eval) at the condition that
	// did not hold, the first triggering one when none of the triggering
	// conditions held; nil when OK.
	Failed *unit.Condition
	// Assert tells a failed assertion (the start job fails) from a failed
	// condition (the unit is skipped).
	Assert bool
	// Reason says in words what did not hold, e.g.
	// "ConditionPathExists=/etc/foo was not met".
	Reason string
	// Err is set when a condition could not be evaluated at all (unknown
	// kind, malformed argument); the unit must not start then, and Assert
	// tells whether it was an assertion.
	Err error
}

// ErrUnknown is wrapped by Result.Err for condition kinds tend does not know.
var ErrUnknown = errors.New("unknown condition")

// Eval tests conds: first all Condition*= entries, then all Assert*=
// entries. Within each group every non-triggering entry must hold and, if
// there are triggering ("|") entries, at least one of them must hold; "!"
// negates an entry.
func Eval(conds []unit.Condition, env Env) Result {
	e := newEvaluator(env)
	for _, assert := range []bool{false, true} {
		if r := e.group(conds, assert); !r.OK {
			return r
		}
	}
	return Result{OK: true}
}

// group evaluates the conditions (assert=false) or assertions of conds.
func (e *evaluator) group(conds []unit.Condition, assert bool) Result {
	var firstTrigger *unit.Condition
	triggerHeld := false
	for i := range conds {
		c := &conds[i]
		if c.Assert != assert {
			continue
		}
		ok, err := e.test(c)
		if err != nil {
			return Result{Failed: c, Assert: assert, Err: err,
				Reason: fmt.Sprintf("%s: %v", Describe(*c), err)}
		}
		if c.Trigger {
			if firstTrigger == nil {
				firstTrigger = c
			}
			triggerHeld = triggerHeld || ok
			continue
		}
		if !ok {
			return Result{Failed: c, Assert: assert, Reason: Describe(*c) + " was not met"}
		}
	}
	if firstTrigger != nil && !triggerHeld {
		return Result{Failed: firstTrigger, Assert: assert,
			Reason: "none of the triggering " + groupName(assert) + " were met"}
	}
	return Result{OK: true}
}

func groupName(assert bool) string {
	if assert {
		return "assertions"
	}
	return "conditions"
}

// test evaluates one condition, applying negation.
func (e *evaluator) test(c *unit.Condition) (bool, error) {
	f, ok := e.byKind[c.Kind]
	if !ok {
		return false, fmt.Errorf("%w %q", ErrUnknown, c.Kind)
	}
	held, err := f(strings.TrimSpace(c.Arg))
	if err != nil {
		return false, err
	}
	return held != c.Negate, nil
}

// Describe renders a condition as it is written in a unit file, e.g.
// "ConditionPathExists=|!/etc/foo".
func Describe(c unit.Condition) string {
	var b strings.Builder
	if c.Assert {
		b.WriteString("Assert")
	} else {
		b.WriteString("Condition")
	}
	b.WriteString(c.Kind)
	b.WriteByte('=')
	if c.Trigger {
		b.WriteByte('|')
	}
	if c.Negate {
		b.WriteByte('!')
	}
	b.WriteString(c.Arg)
	return b.String()
}
