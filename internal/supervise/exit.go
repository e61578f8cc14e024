package supervise

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// exitStatus is how a process ended, in systemd's terms.
type exitStatus struct {
	code   string // exited, killed, dumped
	status int    // exit code or signal number
	// resources marks a process tend failed to prepare before forking
	// (a missing EnvironmentFile=): systemd's result is "resources".
	resources bool
	// oom marks a main process the kernel's OOM killer ended in the
	// unit's group: systemd's result is "oom-kill".
	oom bool
}

func fromWait(ws unix.WaitStatus) exitStatus {
	switch {
	case ws.Exited():
		return exitStatus{code: "exited", status: ws.ExitStatus()}
	case ws.Signaled() && ws.CoreDump():
		return exitStatus{code: "dumped", status: int(ws.Signal())}
	case ws.Signaled():
		return exitStatus{code: "killed", status: int(ws.Signal())}
	}
	// A pid watched through a pidfd has no status we can know.
	return exitStatus{code: "exited", status: 0}
}

// cleanSignals end a main process cleanly: systemd treats a daemon that
// dies of them as having shut down on request.
var cleanSignals = []int{int(unix.SIGHUP), int(unix.SIGINT), int(unix.SIGTERM), int(unix.SIGPIPE)}

// clean reports whether e counts as success. Main processes of services
// other than Type=oneshot may also end by one of cleanSignals; commands
// (ExecStartPre= and friends) and a oneshot's ExecStart= may not.
func (e exitStatus) clean(set unit.ExitStatusSet, main bool) bool {
	switch e.code {
	case "exited":
		return e.status == 0 || slices.Contains(set.Codes, e.status)
	case "killed":
		return (main && slices.Contains(cleanSignals, e.status)) || slices.Contains(set.Signals, e.status)
	}
	return false
}

func (e exitStatus) result() Result {
	if e.resources {
		return ResultResources
	}
	if e.oom {
		return ResultOOMKill
	}
	switch e.code {
	case "killed":
		return ResultSignal
	case "dumped":
		return ResultCoreDump
	}
	return ResultExitCode
}

// in reports whether e matches one of set's codes or signals.
func (e exitStatus) in(set unit.ExitStatusSet) bool {
	if e.code == "exited" {
		return slices.Contains(set.Codes, e.status)
	}
	return slices.Contains(set.Signals, e.status)
}

// String renders e as systemd logs it: "code=exited, status=203/EXEC".
func (e exitStatus) String() string {
	if e.code == codeUnknown {
		return "code=unknown, status=unknown"
	}
	if e.code == "exited" {
		if name := exitName(e.status); name != "" {
			return fmt.Sprintf("code=exited, status=%d/%s", e.status, name)
		}
		return fmt.Sprintf("code=exited, status=%d", e.status)
	}
	name := strings.TrimPrefix(unix.SignalName(unix.Signal(e.status)), "SIG")
	return fmt.Sprintf("code=%s, status=%d/%s", e.code, e.status, name)
}

// lsbExitNames are the LSB codes systemd names; spawn names its own.
var lsbExitNames = [...]string{"SUCCESS", "FAILURE", "INVALIDARGUMENT", "NOTIMPLEMENTED",
	"NOPERMISSION", "NOTINSTALLED", "NOTCONFIGURED", "NOTRUNNING"}

func exitName(status int) string {
	if status >= 0 && status < len(lsbExitNames) {
		return lsbExitNames[status]
	}
	return spawn.ExitStatusName(status)
}

// shallRestart applies Restart=, RestartPreventExitStatus= and
// RestartForceExitStatus= to how a run ended (systemd.service(5), table 2).
func shallRestart(svc *unit.Service, r Result, last *exitStatus) bool {
	if r == ResultStartLimitHit || r == ResultExecCondition {
		return false
	}
	if last != nil && last.in(svc.RestartPreventExitStatus) {
		return false
	}
	if last != nil && last.in(svc.RestartForceExitStatus) {
		return true
	}
	switch svc.Restart {
	case unit.RestartAlways:
		return true
	case unit.RestartOnSuccess:
		return r == ResultSuccess
	case unit.RestartOnFailure:
		return r != ResultSuccess
	case unit.RestartOnAbnormal:
		return r == ResultSignal || r == ResultCoreDump || r == ResultTimeout || r == ResultWatchdog
	case unit.RestartOnAbort:
		return r == ResultSignal || r == ResultCoreDump
	case unit.RestartOnWatchdog:
		return r == ResultWatchdog
	}
	return false
}
