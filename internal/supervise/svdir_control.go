package supervise

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/unit"
)

// svdirCtl is a control/X override that runs, and the commands that
// arrived meanwhile: runsv waits for the override before it interprets
// the command, so later commands wait too.
type svdirCtl struct {
	pid   int
	cmd   svdir.Command // the command the running override decides; 0 for one whose status is ignored
	queue []svdir.Command
}

// svdirCommand applies one control byte (from supervise/control, sv,
// or a job) as runsv's ctrl() does. When an override control/X exists
// it runs first and the command is applied when it ends.
func (m *Manager) svdirCommand(u *svdirUnit, c svdir.Command) {
	if u.ctl.pid != 0 {
		u.ctl.queue = append(u.ctl.queue, c)
		return
	}
	if c == svdir.CmdExit && u.isLog {
		return // runsv: x is ignored on the log service
	}
	script := ""
	if !u.isLog {
		switch c {
		case svdir.CmdDown, svdir.CmdExit:
			if u.pid != 0 && !u.finishing {
				script = svdir.ControlScript(u.dir(), svdir.CmdTerm)
			}
		default:
			script = svdir.ControlScript(u.dir(), c)
		}
	}
	if script != "" && m.svdirOverride(u, script, c) {
		return
	}
	m.svdirApply(u, c, false)
}

// svdirOverride starts control/X with the pid as argument; its stdout
// goes where the service's does.
func (m *Manager) svdirOverride(u *svdirUnit, script string, c svdir.Command) bool {
	arg := ""
	if u.pid != 0 {
		arg = strconv.Itoa(u.pid)
	}
	pid, err := m.svdirSpawn(u, []string{"./control/" + filepath.Base(script), arg}, roleControl)
	if err != nil {
		m.event(u.rt, prioWarn, "%s: cannot run control/%s: %v", u.name, filepath.Base(script), err)
		return false
	}
	u.ctl.pid, u.ctl.cmd = pid, c
	return true
}

// svdirControlDone continues the command its override was for: exit 0
// means the override handled it (no signal is sent).
func (m *Manager) svdirControlDone(u *svdirUnit, pid int, st exitStatus) {
	if pid != u.ctl.pid {
		return
	}
	u.ctl.pid = 0
	if c := u.ctl.cmd; c != 0 {
		u.ctl.cmd = 0
		m.svdirApply(u, c, st.code == "exited" && st.status == 0)
	}
	for u.ctl.pid == 0 && len(u.ctl.queue) > 0 {
		c := u.ctl.queue[0]
		u.ctl.queue = u.ctl.queue[1:]
		m.svdirCommand(u, c)
	}
	if u.exiting && u.pid == 0 && u.ctl.pid == 0 {
		m.svdirDown(u)
	}
}

// svdirApply is runsv's ctrl() once any override has run; handled says
// the override asked for no signal.
func (m *Manager) svdirApply(u *svdirUnit, c svdir.Command, handled bool) {
	switch c {
	case svdir.CmdUp, svdir.CmdOnce:
		u.want = svdir.WantUp
		if c == svdir.CmdOnce {
			u.want = svdir.WantDown
		}
		u.reason = ""
		// During the restart pause, u waits for the pause to end; o runs
		// at once (runsv, asleep in the pause, would run it just after).
		if u.pid == 0 && (u.state != AutoRestart || c == svdir.CmdOnce) {
			m.svdirRun(u)
			return
		}
	case svdir.CmdDown, svdir.CmdExit:
		u.want = svdir.WantDown
		if c == svdir.CmdExit {
			u.want, u.exiting = svdir.WantExit, true
		}
		switch {
		case u.pid != 0 && !u.finishing:
			if !handled {
				m.svdirSignal(u, svdir.CmdTerm.Signal())
				u.term = true
			}
			m.svdirSignal(u, svdir.CmdCont.Signal())
			u.paused = false
			if script := svdir.ControlScript(u.dir(), c); script != "" && !u.isLog {
				m.svdirOverride(u, script, 0)
			}
		case u.pid == 0:
			m.svdirDown(u) // ends the restart pause too
			return
		}
	case svdir.CmdTerm:
		if u.pid != 0 && !handled {
			m.svdirSignal(u, c.Signal())
			u.term = !u.finishing
		}
	case svdir.CmdPause, svdir.CmdCont:
		if u.pid != 0 && !handled {
			m.svdirSignal(u, c.Signal())
		}
		u.paused = c == svdir.CmdPause && u.pid != 0
	default:
		if u.pid != 0 && !handled {
			m.svdirSignal(u, c.Signal())
		}
	}
	m.svdirSettle(u)
}

func (m *Manager) svdirSignal(u *svdirUnit, sig syscall.Signal) {
	if u.pid != 0 {
		_ = m.procs.kill(u.pid, sig)
	}
}

// SvdirControl hands a command read from a supervise/control FIFO to the
// manager loop (the daemon forwards the hub's commands here).
func (m *Manager) SvdirControl(c svdir.Control) {
	m.box.put(evCall{done: make(chan struct{}), fn: func() {
		if u := m.svdirByDir()[c.Dir]; u != nil {
			m.svdirCommand(u, c.Cmd)
		}
	}})
}

// SvdirAdd takes over the service directories of names (units already in
// the plan): it opens their supervise/ (so sv can talk to them at once)
// and starts those without a down file, as runsvdir's runsv does. A
// directory that cannot be opened (another supervisor holds it) fails
// its unit and leaves the others alone.
func (m *Manager) SvdirAdd(ctx context.Context, names []string) error {
	var err error
	if e := m.do(ctx, func() {
		var units, closed []*svdirUnit
		for _, n := range names {
			v, ok := m.units[n]
			if !ok {
				continue
			}
			u, ok := v.eng.(*svdirUnit)
			if !ok {
				continue
			}
			if u.sup == nil && u.pid == 0 {
				// A directory back under the name of one let go of
				// meanwhile keeps its unit: it starts afresh.
				u.removed, u.exiting, u.want = false, false, svdir.WantUp
			}
			if u.sup == nil {
				closed = append(closed, u)
			}
			units = append(units, u)
		}
		// supervise/ is opened (and written) ahead of each start, on
		// workers; a directory that cannot be taken fails its unit,
		// and with it its start job, saying why.
		m.svdirOpenAhead(closed)
		var start []string
		for _, u := range units {
			if u.want == svdir.WantUp && u.state.Active() == Inactive {
				start = append(start, u.name)
			}
		}
		if len(start) > 0 {
			_, _, _, err = m.submitJobs(plan.Start, start, plan.Replace, nil)
		}
	}); e != nil {
		return e
	}
	return err
}

// SvdirExit stops the directories of names as runsvdir stops a runsv
// whose directory went away (as 'x': the service, then its log, which
// reads end-of-file), and waits until they are down with their
// supervise/ released. The units stay until the plan drops them.
func (m *Manager) SvdirExit(ctx context.Context, names []string) error {
	if err := m.do(ctx, func() {
		for _, n := range names {
			if v, ok := m.units[n]; ok {
				if u, ok := v.eng.(*svdirUnit); ok {
					u.exiting, u.removed = true, true
				}
			}
		}
	}); err != nil {
		return err
	}
	if _, err := m.Jobs(ctx, plan.Stop, names, plan.Replace, false); err != nil {
		return err
	}
	return m.do(ctx, func() {
		for _, n := range names {
			if v, ok := m.units[n]; ok {
				if u, ok := v.eng.(*svdirUnit); ok && u.pid == 0 {
					m.svdirLetGo(u)
				}
			}
		}
	})
}

// SvdirShutdown prepares the service directories for tend's shutdown,
// which stops them as runsv stops on its way out (sv exit): none is
// taken over again; a main service's stop sends TERM and, once it and
// what it left are gone, its log service reads its pipe to the end and
// exits by itself (bounded by the stop timeout), so no line written
// before the end is lost. A main service already down lets its logger
// go at once.
func (m *Manager) SvdirShutdown(ctx context.Context) error {
	return m.do(ctx, func() {
		for _, v := range m.units {
			u, ok := v.eng.(*svdirUnit)
			if !ok {
				continue
			}
			u.removed = true
			if u.isLog {
				continue
			}
			u.exiting = true
			if u.pid == 0 && u.ctl.pid == 0 && u.state != AutoRestart {
				m.svdirLetGo(u)
			}
		}
	})
}

// SvdirCloseAll releases every supervise/ (at the manager's end), so
// sv reports that no supervisor runs.
func (m *Manager) SvdirCloseAll(ctx context.Context) error {
	return m.do(ctx, func() {
		for _, u := range m.svdirByDir() {
			m.svdirClose(u)
		}
		for _, v := range m.units {
			u, ok := v.eng.(*svdirUnit)
			if !ok {
				continue
			}
			u.out.drop()
			if u.pipe != nil {
				u.pipe.close()
				u.pipe = nil
			}
		}
	})
}

// spawnSvdir starts argv[0] (./run, ./finish, ./control/X) in the
// service directory with env/ applied, its stdout on the log pipe when
// there is a log service (stdin from it for the log service itself),
// and the rest to the journal, stdout and stderr through one pipe.
func (p realProcesses) spawnSvdir(u *svdirUnit, argv []string, r role) (int, error) {
	m := p.m
	dir := u.dir()
	env := append([]string{}, m.opts.BaseEnv...)
	if fi, err := os.Stat(filepath.Join(dir, "env")); err == nil && fi.IsDir() {
		vars, err := svdir.ReadEnvDir(filepath.Join(dir, "env"))
		if err != nil {
			return 0, err
		}
		env = svdir.ApplyEnv(env, vars)
	}
	cmd := unit.Command{Path: filepath.Join(dir, argv[0]), Argv: argv, NoEnvExpand: true}
	spec := spawn.Spec{
		Unit: u.name, Command: cmd, Env: env, Cgroup: u.cg, Dirs: m.opts.Dirs, SelfExe: m.opts.SelfExe, Forker: m.opts.Forker,
		// runsv leaves SIGPIPE's default action to ./run and ./finish.
		Exec: &unit.ExecContext{UMask: 0o022, WorkingDirectory: dir, Proc: &unit.ProcContext{SIGPIPEDefault: true}},
	}
	pipe, err := m.svdirLogPipe(u)
	if err != nil {
		return 0, err
	}
	var out Output
	if m.opts.Logs != nil {
		// ./run keeps its journal pipes across restarts, as a unit's main
		// process does (output.go); ./finish and control/X, whose lines
		// carry their own names, get pipes of their own.
		keeps := r == roleMain && argv[0] == svdirRunScript
		if out, err = u.out.output(u.def, keeps, func() (Output, error) { return m.opts.Logs.Output(svdirDef(u.def), cmd) }); err != nil {
			return 0, err
		}
		spec.Stdout, spec.Stderr = out.Stdout, out.Stdout
	}
	switch {
	case pipe != nil && u.isLog:
		spec.Stdin = pipe.r
	case pipe != nil && pipe.w != nil:
		spec.Stdout = pipe.w
	}
	pid, err := m.startProcess(spec)
	u.out.ran(out, pid)
	return pid, err
}
