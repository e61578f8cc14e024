package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// execProperties renders a service's command lines the way systemctl show
// does, one "{ path=… ; argv[]=… ; … }" per command, specifiers expanded;
// several commands of one directive are separate lines of the value (the
// client prints each as its own KEY=… line).
func execProperties(st supervise.Status, svc *unit.Service, set func(k, v string)) {
	for _, d := range []struct {
		key  string
		cmds []unit.Command
	}{
		{"ExecCondition", svc.ExecCondition}, {"ExecStartPre", svc.ExecStartPre},
		{"ExecStart", svc.ExecStart}, {"ExecStartPost", svc.ExecStartPost},
		{"ExecReload", svc.ExecReload}, {"ExecStop", svc.ExecStop}, {"ExecStopPost", svc.ExecStopPost},
	} {
		lines := make([]string, len(d.cmds))
		for i, c := range d.cmds {
			pid, code, status, stop := 0, "(null)", "0/0", "[n/a]"
			if r, ok := execRun(st.ExecRuns, d.key, i); ok {
				pid, code, status = r.PID, r.Code, execRunStatus(r)
				stop = "[" + r.Exited.Format("Mon 2006-01-02 15:04:05 MST") + "]"
				lines[i] = fmt.Sprintf("{ path=%s ; argv[]=%s ; ignore_errors=%s ; start_time=[n/a] ; stop_time=%s ; pid=%d ; code=%s ; status=%s }",
					c.Path, strings.Join(c.Argv, " "), yesNo(c.IgnoreFailure), stop, pid, code, status)
				continue
			}
			// The main process's record is the one tend keeps (the last
			// command of ExecStart= is the main process).
			if d.key == "ExecStart" && i == len(d.cmds)-1 && st.ExecMainPID > 0 {
				pid = st.ExecMainPID
				if st.ExecMainCode != "" {
					code, status = st.ExecMainCode, strconv.Itoa(st.ExecMainStat)+"/0"
					if st.ExecMainCode == "exited" {
						status = strconv.Itoa(st.ExecMainStat) + "/" + exitStatusName(st.ExecMainStat)
					}
				}
			}
			lines[i] = fmt.Sprintf("{ path=%s ; argv[]=%s ; ignore_errors=%s ; start_time=[n/a] ; stop_time=[n/a] ; pid=%d ; code=%s ; status=%s }",
				c.Path, strings.Join(c.Argv, " "), yesNo(c.IgnoreFailure), pid, code, status)
		}
		set(d.key, strings.Join(lines, "\n"))
	}
}

// execRun finds the run of command i of the list key.
func execRun(runs []supervise.ExecRun, key string, i int) (supervise.ExecRun, bool) {
	for _, r := range runs {
		if r.Kind == key && r.Index == i {
			return r, true
		}
	}
	return supervise.ExecRun{}, false
}

// execRunStatus is show's status=N/NAME: the exit code's name, or the
// signal's.
func execRunStatus(r supervise.ExecRun) string {
	if r.Code == "exited" {
		return strconv.Itoa(r.Status) + "/" + exitStatusName(r.Status)
	}
	return strconv.Itoa(r.Status) + "/" + strings.TrimPrefix(unix.SignalName(unix.Signal(r.Status)), "SIG")
}

// exitStatusName is the symbolic name systemd gives an exit code in
// status=N/NAME, or the number alone.
func exitStatusName(code int) string {
	switch code {
	case 0:
		return "SUCCESS"
	case 1:
		return "FAILURE"
	}
	return strconv.Itoa(code)
}
