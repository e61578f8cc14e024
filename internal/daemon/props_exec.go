package daemon

import (
	"fmt"
	"strconv"
	"strings"

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
			pid, code, status := 0, "(null)", "0/0"
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
