package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/nowait"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// logSink connects the supervisor's processes to the journal.
type logSink struct {
	j        *journal.Journal
	accounts *spawn.Accounts // for User='s uid
}

// Output gives a process its stdout and stderr as StandardOutput= and
// StandardError= say: journal pipes by default, files, or nothing.
func (s *logSink) Output(u *unit.Unit, cmd unit.Command) (supervise.Output, error) {
	ec := &u.Service.Exec
	var out supervise.Output
	var pipes []*journal.Pipe
	id := identifier(u, cmd)
	owner := &streamOwner{accounts: s.accounts}
	if !cmd.FullPrivilege {
		owner.user = ec.User
	}
	stdout, err := s.open(u, id, owner, ec.StandardOutput, journal.StreamStdout, &pipes)
	if err != nil {
		return out, err
	}
	stderrSpec := ec.StandardError
	var stderr *os.File
	if stderrSpec == "" || stderrSpec == "inherit" {
		stderr, err = s.open(u, id, owner, ec.StandardOutput, journal.StreamStderr, &pipes)
	} else {
		stderr, err = s.open(u, id, owner, stderrSpec, journal.StreamStderr, &pipes)
	}
	if err != nil {
		if stdout != nil {
			stdout.Close()
		}
		return out, err
	}
	out.Stdout, out.Stderr = stdout, stderr
	if len(pipes) > 0 {
		out.SetPID = func(pid int) {
			for _, p := range pipes {
				p.SetPID(pid)
			}
		}
		// Only pipes can serve the next process as well: a file or a
		// terminal is opened anew for each, as its settings say.
		out.Reusable = onlyPipes(pipes, stdout, stderr)
	}
	return out, nil
}

// onlyPipes reports whether every file of files that is not nil is the
// write end of one of pipes.
func onlyPipes(pipes []*journal.Pipe, files ...*os.File) bool {
	for _, f := range files {
		if f != nil && !slices.ContainsFunc(pipes, func(p *journal.Pipe) bool { return p.W == f }) {
			return false
		}
	}
	return true
}

// streamOwner is the uid a process's journal streams are credited to,
// looked up (in passwd and group: two stats and a copy) only when one is
// opened: an inetd instance, whose stdio is its connection, has none.
type streamOwner struct {
	accounts *spawn.Accounts
	user     string // User=; "" for tend's own uid
	uid      int
	known    bool
}

func (o *streamOwner) get() int {
	if !o.known {
		o.uid, o.known = os.Getuid(), true
		if o.user != "" {
			o.uid = -1
			if ui, err := o.accounts.User(o.user); err == nil {
				o.uid = ui.UID
			}
		}
	}
	return o.uid
}

func (s *logSink) open(u *unit.Unit, id string, owner *streamOwner, spec string, stream journal.Stream, pipes *[]*journal.Pipe) (*os.File, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "kmsg", "kmsg+console":
		// Each write to /dev/kmsg is one kernel log record.
		if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
			return f, nil
		}
		return s.open(u, id, owner, "journal", stream, pipes) // no kernel log here: the journal
	case "", "journal", "syslog", "journal+console", "syslog+console":
		ec := &u.Service.Exec
		p, err := s.j.Pipe(journal.Source{
			Unit:        u.Name,
			UID:         owner.get(),
			Stream:      stream,
			Identifier:  id,
			Facility:    facility(ec.SyslogFacility),
			Priority:    level(ec.SyslogLevel),
			LevelPrefix: ec.SyslogLevelPrefix,
		})
		if err != nil {
			return nil, err
		}
		*pipes = append(*pipes, p)
		return p.W, nil
	case "null", "socket", "fd": // the supervisor gives the socket (StandardOutput=socket, fd:NAME)
		return nil, nil
	case "tty":
		// The terminal of TTYPath=; with StandardInput=tty the exec
		// helper puts the controlling terminal here instead.
		path := spawn.TTYPath(&u.Service.Exec)
		return openOutputFile(path, os.O_WRONLY|syscall.O_NOCTTY, "TTYPath="+path)
	case "inherit":
		// The same as standard input: its terminal, or its socket (the
		// supervisor gives it), else /dev/null.
		if strings.HasPrefix(u.Service.Exec.StandardInput, "tty") {
			return s.open(u, id, owner, "tty", stream, pipes)
		}
		return nil, nil
	case "console":
		if stream == journal.StreamStderr {
			return dupFile(os.Stderr)
		}
		return dupFile(os.Stdout)
	case "file", "append", "truncate":
		flags := os.O_WRONLY | os.O_CREATE
		switch kind {
		case "append":
			flags |= os.O_APPEND
		case "truncate":
			flags |= os.O_TRUNC
		}
		directive := "StandardOutput"
		if stream == journal.StreamStderr {
			directive = "StandardError"
		}
		if !filepath.IsAbs(arg) {
			return nil, fmt.Errorf("%s=%s: path must be absolute", directive, spec)
		}
		return openOutputFile(arg, flags, directive+"="+spec)
	}
	return nil, fmt.Errorf("StandardOutput=%s is not supported", spec)
}

// openOutputFile opens a file:, append: or truncate: output, or the
// terminal of a tty output. tend opens it, not the child: a FIFO nobody
// reads would hold the open, and the manager's loop with it, until a
// reader came (systemd's child waits there instead), a serial line until
// its carrier. So the open does not wait: such a start fails, saying
// why, and is retried as Restart= says. The child gets the file in
// blocking mode, as it would have opened it.
func openOutputFile(path string, flags int, setting string) (*os.File, error) {
	fd, err := nowait.Open(path, flags, 0o644)
	if errors.Is(err, syscall.ENXIO) {
		return nil, fmt.Errorf("%s: a FIFO that no process reads, or a socket or absent device, which tend cannot open: %w", setting, err)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := dupCloexec(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Event writes one of tend's own messages about a unit into its log.
func (s *logSink) Event(unitName string, pid int, prio int, msg string) {
	_ = s.j.Append(ownEntry(unitName, pid, prio, msg))
}

// Events writes several of tend's own messages, one write per run of
// messages about the same unit (journal.AppendBatch).
func (s *logSink) Events(evs []supervise.LogEvent) {
	es := make([]journal.Entry, len(evs))
	for i, ev := range evs {
		es[i] = ownEntry(ev.Unit, 0, ev.Priority, ev.Message)
	}
	_ = s.j.AppendBatch(es)
}

// ownEntry is one of tend's own messages as the journal stores it.
func ownEntry(unitName string, pid int, prio int, msg string) journal.Entry {
	return journal.Entry{
		Unit:       unitName,
		PID:        pid,
		Priority:   prio,
		Facility:   3,
		Identifier: "tend",
		Stream:     journal.StreamTend,
		Message:    []byte(msg),
	}
}

// identifier is SyslogIdentifier=, else the base name of the process's
// argv[0], as journald records it.
func identifier(u *unit.Unit, cmd unit.Command) string {
	if id := u.Service.Exec.SyslogIdentifier; id != "" {
		return id
	}
	if len(cmd.Argv) > 0 {
		return filepath.Base(cmd.Argv[0])
	}
	if cmd.Path != "" {
		return filepath.Base(cmd.Path)
	}
	return strings.TrimSuffix(u.Name, "."+string(u.Kind))
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
	"local5": 21, "local6": 22, "local7": 23,
}

var levels = map[string]int{
	"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7,
}

func facility(s string) int {
	if f, ok := facilities[s]; ok {
		return f
	}
	return 3
}

func level(s string) int {
	if l, ok := levels[s]; ok {
		return l
	}
	return 6
}

// The journal routes beyond reading entries (api.JournalManager): they act
// on this instance's journal, never on a default directory.

// mayRead returns the filter that decides which entries the caller of ctx
// may read, by the rules of logFilter; nil lets every entry through.
func (a *apiManager) mayRead(ctx context.Context) func(journal.Entry) bool {
	acc := api.AccessFromContext(ctx)
	switch {
	case acc.AllLogs:
		return nil
	case !acc.OwnLogs:
		return func(journal.Entry) bool { return false }
	}
	return func(e journal.Entry) bool { return e.UID == int(acc.UID) }
}

func (a *apiManager) LogBoots(context.Context) ([]api.LogBoot, error) {
	boots := a.d.journal.Boots()
	out := make([]api.LogBoot, len(boots))
	for i, b := range boots {
		out[i] = api.LogBoot{ID: b.ID, First: b.First, Last: b.Last}
	}
	return out, nil
}

func (a *apiManager) LogDiskUsage(context.Context) (api.LogDiskUsage, error) {
	n, err := a.d.journal.DiskUsage()
	return api.LogDiskUsage{Dir: a.d.journal.Dir(), Bytes: n}, err
}

func (a *apiManager) LogVacuum(_ context.Context, req api.LogVacuumRequest) (api.LogVacuumResult, error) {
	freed, err := a.d.journal.Vacuum(req.SizeBytes, req.Age())
	return api.LogVacuumResult{Dir: a.d.journal.Dir(), FreedBytes: freed}, err
}

func (a *apiManager) LogFieldValues(ctx context.Context, field string) ([]string, error) {
	host, _ := os.Hostname()
	return a.d.journal.FieldValues(ctx, journal.Query{}, field, host, a.mayRead(ctx))
}

// checkLogQuery rejects a query the journal cannot run (a bad match,
// pattern or regular expression) before any entry is streamed.
func checkLogQuery(q journal.Query) error {
	if err := journal.CheckQuery(q); err != nil {
		return fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	return nil
}
