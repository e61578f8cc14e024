package supervise

import (
	"slices"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

// ExecRun is how one command of a service's Exec*= lists ended in the
// current (or last) activation: what `status` prints as its Process: lines
// and `show` as the pid and status of ExecStartPre={ … } and friends.
type ExecRun struct {
	Kind    string // ExecCondition, ExecStartPre, ExecStart, ExecStartPost, ExecReload, ExecStop, ExecStopPost
	Index   int    // which command of that list
	Command unit.Command
	PID     int
	Code    string // exited, killed, dumped
	Status  int    // exit code or signal number
	Exited  time.Time
}

// maxExecRuns bounds the history of a unit whose lists are very long:
// one entry per command is kept, and no more than this many.
const maxExecRuns = 32

// execHistory keeps one ExecRun per command of the activation named by
// invocation; a new activation starts it afresh.
type execHistory struct {
	invocation invocationID
	runs       []ExecRun
}

// phaseKinds names the list a control process of each state runs.
var phaseKinds = map[SubState]string{
	Condition: "ExecCondition", StartPre: "ExecStartPre", Start: "ExecStart",
	StartPost: "ExecStartPost", Reload: "ExecReload", Stop: "ExecStop", StopPost: "ExecStopPost",
}

// noteExit records how the process pid of u ended, if it ran a command of
// the unit's lists: a control process of the current phase, or a main
// process tend spawned from ExecStart=. It must run before the exit is
// acted on (the phase's command list is still in place). A control
// process that outlived its phase (killed after a timeout) is not
// recorded: which command it ran is gone with the phase.
func (h *execHistory) noteExit(u *service, r role, pid int, st exitStatus, now time.Time) {
	svc := u.def.Service
	if svc == nil {
		return
	}
	run := ExecRun{PID: pid, Code: st.code, Status: st.status, Exited: now}
	switch {
	case r == roleMain && pid == u.mainPID && u.mainOrigin == mainSpawned:
		run.Kind = "ExecStart"
		if svc.Type == unit.TypeOneshot && len(u.cmds) > 0 {
			run.Index, run.Command = u.cmdIdx, u.currentCmd()
		} else if len(svc.ExecStart) > 0 {
			run.Command = svc.ExecStart[0]
		}
	case r == roleControl && pid == u.controlPID && len(u.cmds) > 0 && phaseKinds[u.state] != "":
		run.Kind, run.Index, run.Command = phaseKinds[u.state], u.cmdIdx, u.currentCmd()
	default:
		return
	}
	if h.invocation != u.invocation {
		h.invocation, h.runs = u.invocation, nil
	}
	h.runs = slices.DeleteFunc(h.runs, func(e ExecRun) bool { return e.Kind == run.Kind && e.Index == run.Index })
	if len(h.runs) >= maxExecRuns {
		h.runs = h.runs[1:]
	}
	h.runs = append(h.runs, run)
}

// of returns the runs of the activation invocation, oldest first.
func (h *execHistory) of(invocation invocationID) []ExecRun {
	if h.invocation != invocation {
		return nil
	}
	return slices.Clone(h.runs)
}
