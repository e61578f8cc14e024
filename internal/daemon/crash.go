package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"

	"github.com/tendproject/tend/internal/supervise"
)

// stateFileName is the manager's state file in the runtime directory
// (supervise/persist.go): what a manager started after a crash takes
// back.
const stateFileName = "state"

// spoolDirName is the journal's spool directory in the runtime
// directory (journal/spool.go).
const spoolDirName = "spool"

// restoreState takes back the state a crashed manager left, and reports
// whether there was one. A state file that cannot be trusted is set
// aside (state.bad, for a post-mortem) and the units start afresh.
func (d *daemon) restoreState() bool {
	path := filepath.Join(d.cfg.Paths.Runtime, stateFileName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false
	}
	st, err := supervise.ReadStateFile(path)
	if err == nil && st.Instance != d.cfg.Paths.Runtime {
		// Restore would refuse it unit by unit; refused here, the units
		// start, rather than none being restored and none started.
		err = fmt.Errorf("state file is another instance's (%s, this is %s)", st.Instance, d.cfg.Paths.Runtime)
	}
	if err != nil {
		d.log.Error("state of the previous manager unusable; starting units afresh", "err", err)
		_ = os.Rename(path, path+".bad")
		return false
	}
	d.log.Info("taking back the units of the previous manager", "units", len(st.Units))
	var fds map[int]*os.File
	d.holder.awaitKept()
	if d.holder != nil {
		fds = d.holder.listenerFDs(&st)
	}
	for _, a := range d.mgr.Restore(st, false, fds) {
		d.reattachOutput(a)
	}
	return true
}

// reattachOutput reads an adopted service's journal pipes again. The
// fd holder kept a read end of each (fdholder.go): what the service
// wrote while no manager ran waits in the pipe and is read first, in
// order. Without a holder, the read ends died with the crashed manager,
// but the service still holds the write ends as its stdout and stderr,
// and opening those through /proc gives a new read end of the same
// pipe: what the service writes from now on reaches the journal. (What
// it wrote while no reader existed got EPIPE, or SIGPIPE killed it.)
func (d *daemon) reattachOutput(a supervise.Adopted) {
	ec := &a.Unit.Service.Exec
	id := identifier(a.Unit, firstCommand(a.Unit))
	seen := map[uint64]bool{}
	for _, s := range []struct {
		fd     int
		spec   string
		stream journal.Stream
	}{{1, ec.StandardOutput, journal.StreamStdout}, {2, ec.StandardError, journal.StreamStderr}} {
		if s.fd == 2 && (s.spec == "" || s.spec == "inherit") {
			s.spec = ec.StandardOutput
		}
		if !toJournal(s.spec) {
			continue
		}
		fd, held, err := d.adoptedPipe(a.Unit.Name, s.stream, fmt.Sprintf("/proc/%d/fd/%d", a.PID, s.fd))
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || seen[st.Ino] {
			unix.Close(fd)
			continue
		}
		seen[st.Ino] = true
		uid := os.Getuid()
		if name := ec.User; name != "" {
			uid = -1
			if ui, err := spawn.LookupUser(name); err == nil {
				uid = ui.UID
			}
		}
		src := journal.Source{Unit: a.Unit.Name, PID: a.PID, UID: uid, Stream: s.stream, Identifier: id,
			Facility: facility(ec.SyslogFacility), Priority: level(ec.SyslogLevel), LevelPrefix: ec.SyslogLevelPrefix}
		if err := d.journal.AdoptPipes([]journal.PipeState{{FD: fd, Source: src, PID: a.PID, Held: held}}); err != nil {
			d.log.Warn("cannot read an adopted service's output", "unit", a.Unit.Name, "err", err)
		}
	}
}

// adoptedPipe returns a read end of the pipe at proc (a process's
// stdout or stderr): the fd holder's copy if it kept one, else one
// opened through /proc. held says the holder keeps the pipe already
// under the name the journal gives it.
func (d *daemon) adoptedPipe(unit string, stream journal.Stream, proc string) (fd int, held bool, err error) {
	var st unix.Stat_t
	if d.holder != nil && unix.Stat(proc, &st) == nil {
		if name, f := d.holder.takePipe(st.Ino); f != nil {
			held = name == journal.HeldName(unit, stream, st.Ino)
			if !held {
				d.holder.q.Release(name) // held again under the new name
			}
			fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
			f.Close()
			return fd, held && err == nil, err
		}
	}
	fd, err = unix.Open(proc, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	return fd, false, err
}

// drainHeld reads what the fd holder kept and no adopted service
// claimed, and closes the rest.
func (d *daemon) drainHeld() {
	if d.holder == nil {
		return
	}
	d.holder.awaitKept()
	d.holder.drainRest(d.journal, d.log)
	d.holder.closeKept()
}

// toJournal reports whether StandardOutput=/StandardError= spec sends
// the stream to a journal pipe (as logSink.open does).
func toJournal(spec string) bool {
	kind, _, _ := strings.Cut(spec, ":")
	switch kind {
	case "", "journal", "syslog", "kmsg", "journal+console", "syslog+console", "kmsg+console":
		return true
	}
	return false
}

func firstCommand(u *unit.Unit) unit.Command {
	if len(u.Service.ExecStart) > 0 {
		return u.Service.ExecStart[0]
	}
	return unit.Command{}
}
