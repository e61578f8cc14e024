package svdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Service is what a service directory holds, read as runsv reads it.
// Files that runsv looks at each time (finish, check, control/X, env/) are
// looked at again by the helpers at the moment they matter; the fields
// say what was there when the directory was read.
type Service struct {
	Name string // the directory's name in its scan directory
	Dir  string // its path
	// Down is set when a file named down exists: the service is not
	// started when its supervisor starts (it is "normally down").
	Down bool
	// Finish is set when ./finish exists and is readable (runsv's test);
	// it runs after each exit of ./run with FinishArgs.
	Finish bool
	// Check is set when ./check exists; sv runs it (not the supervisor)
	// for "sv check" and "sv -w N up/start/restart".
	Check bool
	// Conf is set when ./conf exists. It is a convention of Void-style
	// run scripts, which source it themselves ([ -r conf ] && . ./conf);
	// the supervisor must not apply it.
	Conf bool
	// EnvDir is DIR/env when it is a directory: variables for ./run and
	// ./finish with envdir semantics (ReadEnvDir), read at each start.
	EnvDir string
	// Log is the log/ subservice, whose ./run reads the service's output
	// on its stdin; nil without log/.
	Log *Service
}

// Read reads the service directory dir. It fails when dir is not a
// directory, when ./run is missing or cannot be executed (runsv would
// retry it every second; tend says why at once), and the same for
// log/run when log/ exists.
func Read(dir string) (*Service, error) {
	s, err := readOne(dir)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(dir, "log")
	fi, err := os.Stat(logDir)
	switch {
	case err == nil && fi.IsDir():
		if s.Log, err = readOne(logDir); err != nil {
			return nil, err
		}
		s.Log.Name = s.Name + "/log"
	case err == nil:
		return nil, fmt.Errorf("service directory %s: log is not a directory", dir)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("service directory %s: %w", dir, err)
	}
	return s, nil
}

func readOne(dir string) (*Service, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("service directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("service directory %s: not a directory", dir)
	}
	if err := checkRun(filepath.Join(dir, "run")); err != nil {
		return nil, fmt.Errorf("service directory %s: %w", dir, err)
	}
	s := &Service{Name: filepath.Base(dir), Dir: dir}
	s.Down = exists(filepath.Join(dir, "down"))
	s.Finish = unix.Access(filepath.Join(dir, "finish"), unix.R_OK) == nil
	s.Check = exists(filepath.Join(dir, "check"))
	s.Conf = exists(filepath.Join(dir, "conf"))
	if fi, err := os.Stat(filepath.Join(dir, "env")); err == nil && fi.IsDir() {
		s.EnvDir = filepath.Join(dir, "env")
	}
	return s, nil
}

func checkRun(run string) error {
	fi, err := os.Stat(run)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no run file")
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("run is not a regular file")
	}
	if fi.Mode().Perm()&0o111 == 0 || unix.Access(run, unix.X_OK) != nil {
		return errors.New("run is not executable")
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// ControlScript returns the path of the control/X override runsv would
// run for c in the service directory dir (see Command.Script), or "" when
// there is none: it must exist and be executable by its owner, and it is
// looked up when the command arrives. It runs with the service's pid (or
// "") as its one argument and its stdout on the log pipe; exit status 0
// means "handled, do not signal". The log service has no overrides.
func ControlScript(dir string, c Command) string {
	p := filepath.Join(dir, "control", string(c.Script()))
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm()&0o100 == 0 {
		return ""
	}
	return p
}

// FinishArgs returns the arguments runsv gives ./finish after ./run ended
// with ws: the exit code, or -1 when it did not exit normally; then the
// low byte of the wait status (0 after an exit, the signal number after a
// kill, plus 128 with a core dump). Daemontools has no ./finish.
func FinishArgs(ws unix.WaitStatus) []string {
	code := "-1"
	if ws.Exited() {
		code = strconv.Itoa(ws.ExitStatus())
	}
	return []string{code, strconv.Itoa(int(uint32(ws) & 0xff))}
}

// FinishArgsNotStarted are ./finish's arguments when ./run could not be
// started at all: runsv's child exits 111 then.
var FinishArgsNotStarted = []string{"111", "0"}

// UnitName is the name tend shows for the service directory called name
// in a scan directory: "NAME.svdir", and "NAME:log.svdir" for its log/
// subservice. A suffix of its own keeps a directory apart from a unit
// file of the same name (sshd.svdir and sshd.service can both exist, and
// After= can name either), and says which engine runs it. Bytes a unit
// name cannot hold (and ':', which marks the log, and a dot that
// would start, end or double one) are written \xNN, as
// systemd-escape does.
func UnitName(name string, log bool) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-',
			c == '.' && i > 0 && name[i-1] != '.' && i < len(name)-1:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	if log {
		b.WriteString(":log")
	}
	b.WriteString(".svdir")
	return b.String()
}
