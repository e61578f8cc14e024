package supervise

import (
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// A service that restarts keeps its main process's log pipes: the
// replacement gets the same write ends as stdout and stderr, while the
// read ends stay where they are, in the journal's ingest loop (and the fd
// holder). The restart then creates no pipes, registers nothing with the
// ingest loop or the holder, and the old pipes do not reach their end
// (and their spool files are not made and removed) at the moment the
// replacement needs the CPU to start. tend holds the write ends while no
// process runs; they are closed when the service ends without a restart
// (it enters dead or failed), which lets the reader see the end once
// every process that inherited them is gone too.
//
// What the old process left unread in a pipe is stored with the new
// process's pid: the pid a reader knows when it reads the lines.

// keptOutput is a service's kept main output and the definition it was
// opened for (a reload that changes the definition opens new pipes).
type keptOutput struct {
	def *unit.Unit
	out Output
}

// output opens the stdout and stderr of a process of u that runs cmd, or
// hands out the kept ones of u's main process.
func (m *Manager) output(u *service, cmd unit.Command, r role) (Output, error) {
	if m.opts.Logs == nil {
		return Output{}, nil
	}
	keeps := r == roleMain && u.svc().Type != unit.TypeOneshot
	return u.kept.output(u.def, keeps, func() (Output, error) { return m.opts.Logs.Output(u.def, cmd) })
}

// output returns the kept output when it was opened for def, or opens
// one, which it keeps when keeps is set and the files may be reused.
func (k *keptOutput) output(def *unit.Unit, keeps bool, open func() (Output, error)) (Output, error) {
	if keeps && k.def == def && k.def != nil {
		return k.out, nil
	}
	if keeps {
		k.drop() // opened for another definition
	}
	out, err := open()
	if err != nil {
		return Output{}, &spawn.SetupError{Status: spawn.ExitStdout, Step: "STDOUT", Err: err}
	}
	if keeps && out.Reusable {
		*k = keptOutput{def: def, out: out}
	}
	return out, nil
}

// ran finishes out once its process started as pid (0: it did not):
// the log reader learns the pid, and tend closes its copies of the write
// ends unless they are kept for the next run. A kept output whose
// process could not start is closed too: the end of the reads then
// follows the failure, as for an output that is not kept.
func (k *keptOutput) ran(out Output, pid int) {
	if out.SetPID != nil {
		out.SetPID(pid) // 0 when the start failed: the log reader then drains and closes
	}
	kept := k.def != nil && k.out.Stdout == out.Stdout && k.out.Stderr == out.Stderr
	if kept && pid != 0 {
		return
	}
	if kept {
		*k = keptOutput{}
	}
	closeOutput(out)
}

// drop closes the kept output, if any.
func (k *keptOutput) drop() {
	if k.def == nil {
		return
	}
	closeOutput(k.out)
	*k = keptOutput{}
}
