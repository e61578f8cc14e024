package supervise

// SubState is the fine-grained state of a unit, named as systemd names a
// service's sub-states so `status` reads the same.
type SubState uint8

// Sub-states. The order groups them by ActiveState.
const (
	Dead SubState = iota
	Condition
	StartPre
	Start
	StartPost
	Running
	Exited
	Reload
	Stop
	StopWatchdog
	StopSigterm
	StopSigkill
	StopPost
	FinalSigterm
	FinalSigkill
	Failed
	AutoRestart
	// Socket units (systemd's socket.c): bound and watched; bound with
	// the activated service running (Running); running ExecStopPre=.
	Listening
	StopPre
	// Timer units (systemd's timer.c): waiting for the next elapse; the
	// triggered unit runs (Running); nothing left to wait for.
	Waiting
	Elapsed
	numSubStates
)

var subStateNames = [numSubStates]string{
	Dead: "dead", Condition: "condition", StartPre: "start-pre", Start: "start",
	StartPost: "start-post", Running: "running", Exited: "exited", Reload: "reload",
	Stop: "stop", StopWatchdog: "stop-watchdog", StopSigterm: "stop-sigterm", StopSigkill: "stop-sigkill",
	StopPost: "stop-post", FinalSigterm: "final-sigterm", FinalSigkill: "final-sigkill",
	Failed: "failed", AutoRestart: "auto-restart",
	Listening: "listening", StopPre: "stop-pre",
	Waiting: "waiting", Elapsed: "elapsed",
}

func (s SubState) String() string {
	if s < numSubStates {
		return subStateNames[s]
	}
	return "invalid"
}

// ActiveState is the coarse state every unit kind shares.
type ActiveState string

// Active states, as systemd names them.
const (
	Active       ActiveState = "active"
	Reloading    ActiveState = "reloading"
	Inactive     ActiveState = "inactive"
	FailedState  ActiveState = "failed"
	Activating   ActiveState = "activating"
	Deactivating ActiveState = "deactivating"
)

// Active maps a sub-state to its ActiveState.
func (s SubState) Active() ActiveState {
	switch s {
	case Dead:
		return Inactive
	case Failed:
		return FailedState
	case Condition, StartPre, Start, StartPost, AutoRestart:
		return Activating
	case Running, Exited, Listening, Waiting, Elapsed:
		return Active
	case Reload:
		return Reloading
	default:
		return Deactivating
	}
}

// stopping reports whether s is one of the states of an orderly stop.
func (s SubState) stopping() bool {
	switch s {
	case Stop, StopWatchdog, StopSigterm, StopSigkill, StopPost, FinalSigterm, FinalSigkill, StopPre:
		return true
	}
	return false
}

// starting reports whether s is one of the states of a start in progress.
func (s SubState) starting() bool {
	switch s {
	case Condition, StartPre, Start, StartPost:
		return true
	}
	return false
}

// Result says why a unit last left the active state, as systemd's Result
// property does.
type Result string

// Results.
const (
	ResultSuccess       Result = "success"
	ResultResources     Result = "resources"
	ResultTimeout       Result = "timeout"
	ResultExitCode      Result = "exit-code"
	ResultSignal        Result = "signal"
	ResultCoreDump      Result = "core-dump"
	ResultWatchdog      Result = "watchdog"
	ResultStartLimitHit Result = "start-limit-hit"
	ResultProtocol      Result = "protocol"
	ResultExecCondition Result = "exec-condition"
	ResultOOMKill       Result = "oom-kill"
	// Socket units.
	ResultTriggerLimitHit      Result = "trigger-limit-hit"
	ResultServiceStartLimitHit Result = "service-start-limit-hit"
)
