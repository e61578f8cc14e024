// Package spawn starts one process exactly as a unit says: credentials,
// environment, argv expansion, working directory, umask, resource
// limits, nice level, OOM score, standard streams, inherited sockets, a
// new session and cgroup placement.
//
// It forks with syscall.ForkExec and never waits: the reaper owns every
// exit. Settings ForkExec cannot express go through a small exec helper,
// the tend binary re-executed with HelperArg, which applies them and then
// execs the target; processes that need none of them pay no extra exec.
package spawn

import (
	"golang.org/x/sys/unix"

	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/nowait"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/sandbox"
	"github.com/tendproject/tend/internal/unit"
)

// defaultUMask is the umask tend runs with (the daemon sets it at start);
// a unit asking for another one goes through the helper.
const defaultUMask = 0o022

// Spec is everything needed to start one process.
type Spec struct {
	Unit    string
	Command unit.Command      // Argv may contain $VAR/${VAR}: expanded unless NoEnvExpand
	Exec    *unit.ExecContext // nil = defaults
	// Env is the manager-provided environment (LANG, MAINPID,
	// NOTIFY_SOCKET, LISTEN_FDS, WATCHDOG_USEC, INVOCATION_ID…), see
	// BuildEnv.
	Env                   []string
	Stdin, Stdout, Stderr *os.File   // nil = /dev/null
	ExtraFiles            []*os.File // become fds 3… (socket activation)
	Cgroup                *cgroup.Group
	Dirs                  Dirs
	// SelfExe is the tend binary run as the exec helper; default
	// /proc/self/exe. Tests set it to os.Args[0].
	SelfExe string
	// Forker, if set, forks the process from a thread with a small
	// descriptor table (forker.go); nil forks on the calling thread.
	Forker *Forker
	// Getenv looks up tend's own environment for PassEnvironment=;
	// nil = os.LookupEnv.
	Getenv func(string) (string, bool)
	// Etc holds passwd and group for User=/Group=; default /etc.
	Etc string
	// Accounts, if set, is the account database to use instead of
	// reading Etc on every start.
	Accounts *Accounts
	Logger   *slog.Logger
	// NoPidFD: the reaper learns of the child's exit from SIGCHLD only,
	// without a pidfd (reaper.Start). SIGCHLD comes for every child
	// anyway; the pidfd only brings the news sooner, at the price of
	// making it in the clone, watching it (epoll_ctl), a wake-up of the
	// pidfd goroutine and a second wait4 sweep per exit: not worth it for
	// one short-lived process per connection (Accept=yes instances).
	NoPidFD bool
}

// plan is a Spec resolved into what the fork needs.
type plan struct {
	s    Spec
	ec   *unit.ExecContext
	path string
	argv []string
	// exe, exeArgv and exeEnv are what the fork executes: path, argv
	// and env, or the trampoline that sets the pid variables in exeEnv
	// and then executes path (tramp is set).
	exe     string
	exeArgv []string
	exeEnv  []string
	tramp   bool
	env     []string
	dir     string
	cred    *syscall.Credential
	files   []*os.File
	// devnull is the /dev/null of the standard streams left unset;
	// ownDevnull is set when it is the plan's own (see devNull).
	devnull, ownDevnull *os.File
	stdin               *os.File // StandardInput=data, owned by the plan
	helper              bool
	sandbox             *sandbox.Plan // nil: no sandboxing
	log                 *slog.Logger
}

// Start starts the process described by s and registers onExit with the
// reaper. onExit runs once, on the reaper's goroutine, and must not
// block. If the process cannot be set up, Start returns a *SetupError
// (e.g. Status 203 when the executable cannot be run), no process is
// left running and onExit is never called.
func Start(r *reaper.Reaper, s Spec, onExit func(reaper.Exit)) (pid int, err error) {
	p, err := newPlan(s)
	if err != nil {
		return 0, err
	}
	defer p.close()
	return p.start(r, onExit)
}

func (p *plan) start(r *reaper.Reaper, onExit func(reaper.Exit)) (int, error) {
	if p.helper {
		return p.startHelper(r, onExit)
	}
	pid, err := p.startDirect(r, onExit)
	if err != nil && p.tramp {
		// The child failed before the program: in the fork's own steps,
		// which the helper reports with more detail, or in executing the
		// trampoline, which has been seen to fail rarely (EACCES) under a
		// heavy fork load. Either way the helper does it all again.
		p.log.Debug("pid trampoline failed; starting through the exec helper", "unit", p.s.Unit, "err", err)
		return p.startHelper(r, onExit)
	}
	return pid, err
}

func newPlan(s Spec) (*plan, error) {
	p := &plan{s: s, ec: s.Exec, log: s.Logger}
	if p.ec == nil {
		p.ec = &unit.ExecContext{UMask: defaultUMask}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if s.Etc == "" {
		p.s.Etc = "/etc"
	}
	p.path = s.Command.Path
	user, err := p.credentials()
	if err != nil {
		return nil, err
	}
	if p.env, err = BuildEnv(p.s, user); err != nil {
		return nil, &SetupError{Status: ExitFailure, BeforeFork: true, Path: p.path, Err: err}
	}
	p.argv = s.Command.Argv
	if len(p.argv) == 0 {
		p.argv = []string{p.path}
	}
	if !s.Command.NoEnvExpand {
		p.argv = ExpandArgv(p.argv, p.env)
	}
	if p.path, err = p.resolvePath(); err != nil {
		return nil, setupErr(ExitExec, s.Command.Path, err)
	}
	uid, gid := 0, 0
	if p.cred != nil {
		uid, gid = int(p.cred.Uid), int(p.cred.Gid)
	}
	if err := PrepareDirs(p.ec, s.Dirs, uid, gid); err != nil {
		var se *SetupError
		if errors.As(err, &se) {
			se.Path = p.path
		}
		return nil, err
	}
	if len(p.ec.ProcSettings().Credentials) > 0 {
		if err := prepareCredentials(p.ec.ProcSettings().Credentials, CredentialsDir(s.Dirs, s.Unit), uid, gid); err != nil {
			return nil, setupErr(ExitCredentials, p.path, err)
		}
	}
	if err := p.workingDir(user); err != nil {
		return nil, err
	}
	if err := p.buildSandbox(); err != nil {
		return nil, err
	}
	if err := p.openFiles(); err != nil {
		p.close()
		return nil, err
	}
	p.exe, p.exeArgv, p.exeEnv = p.path, p.argv, p.env
	p.helper = p.needsHelper() || p.sandbox != nil || (len(p.ownPIDVars()) > 0 && !p.useTrampoline())
	return p, nil
}

// credentials resolves User=, Group= and SupplementaryGroups= unless the
// command's "+" or "!" prefix keeps tend's own. The returned user (also
// for "!") provides USER, HOME… to the environment.
func (p *plan) credentials() (*UserInfo, error) {
	ec, cmd := p.ec, p.s.Command
	if ec.DynamicUser && !cmd.FullPrivilege {
		if u, ok, err := p.dynamicUser(); ok || err != nil {
			return u, err
		}
	}
	if cmd.FullPrivilege || (ec.User == "" && ec.Group == "" && len(ec.SupplementaryGroups) == 0) {
		return nil, nil
	}
	var user *UserInfo
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), NoSetGroups: true}
	if ec.User != "" {
		u, err := p.user(ec.User)
		if err != nil {
			return nil, setupErr(ExitUser, p.path, err)
		}
		user = u
		cred.Uid, cred.Gid, cred.NoSetGroups = uint32(u.UID), uint32(u.GID), false
		for _, g := range u.Groups {
			cred.Groups = append(cred.Groups, uint32(g))
		}
	}
	if ec.Group != "" {
		gid, err := p.group(ec.Group)
		if err != nil {
			return nil, setupErr(ExitGroup, p.path, err)
		}
		cred.Gid = uint32(gid)
	}
	for _, name := range ec.SupplementaryGroups {
		gid, err := p.group(name)
		if err != nil {
			return nil, setupErr(ExitGroup, p.path, err)
		}
		cred.Groups, cred.NoSetGroups = append(cred.Groups, uint32(gid)), false
	}
	if !cmd.NoSetuid { // "!": the program changes credentials itself
		p.cred = cred
	}
	return user, nil
}

// resolvePath finds the executable: absolute paths as they are (inside
// RootDirectory= if set), bare names in DefaultPath, as systemd does.
func (p *plan) resolvePath() (string, error) {
	path := p.path
	if path == "" {
		return "", errors.New("empty command")
	}
	root := ""
	if p.ec.RootDirectory != "" && !p.s.Command.FullPrivilege {
		root = p.ec.RootDirectory
	}
	if filepath.IsAbs(path) {
		if root != "" && p.bindsInRoot(path) {
			return path, nil // bound in when the helper mounts; exec checks it
		}
		return path, checkExecutable(filepath.Join(root, path))
	}
	var firstErr error
	for _, d := range searchPath(p.ec) {
		cand := filepath.Join(d, path)
		err := checkExecutable(filepath.Join(root, cand))
		if err == nil {
			return cand, nil
		}
		if firstErr == nil && !errors.Is(err, syscall.ENOENT) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("%s: %w", path, syscall.ENOENT)
}

// searchPath lists where a bare command name is looked up:
// ExecSearchPath=, else DefaultPath.
func searchPath(ec *unit.ExecContext) []string {
	if len(ec.ProcSettings().ExecSearchPath) > 0 {
		return ec.ProcSettings().ExecSearchPath
	}
	return filepath.SplitList(DefaultPath)
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}

// workingDir resolves WorkingDirectory= ("~" is the user's home, root's
// without User=) and checks it exists; a "-" prefix makes a missing one
// fall back to "/". The default is "/", as for systemd's system services.
func (p *plan) workingDir(user *UserInfo) error {
	wd := p.ec.WorkingDirectory
	switch wd {
	case "":
		p.dir = "/"
		return nil
	case "~":
		if user == nil {
			u, err := p.user("0")
			if err != nil {
				return setupErr(ExitChdir, p.path, err)
			}
			user = u
		}
		wd = user.Home
	}
	root := ""
	if p.ec.RootDirectory != "" && !p.s.Command.FullPrivilege {
		root = p.ec.RootDirectory
	}
	fi, err := os.Stat(filepath.Join(root, wd))
	switch {
	case err == nil && !fi.IsDir():
		err = syscall.ENOTDIR
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
	}
	if err != nil {
		if p.ec.WorkingDirectoryOptional {
			p.dir = "/"
			return nil
		}
		return setupErr(ExitChdir, p.path, fmt.Errorf("%s: %w", wd, err))
	}
	p.dir = wd
	return nil
}

// openFiles assembles fds 0, 1, 2 and the extra files; nil standard
// streams are /dev/null.
func (p *plan) openFiles() error {
	std := []*os.File{p.s.Stdin, p.s.Stdout, p.s.Stderr}
	if std[0] == nil {
		f, err := p.inputFile()
		if err != nil {
			return setupErr(ExitStdin, p.path, err)
		}
		if f != nil {
			p.stdin, std[0] = f, f
		}
	}
	for i, f := range std {
		if f != nil {
			continue
		}
		if p.devnull == nil {
			n, own, err := devNull()
			if err != nil {
				return setupErr([]int{ExitStdin, ExitStdout, ExitStderr}[i], p.path, err)
			}
			if own {
				p.ownDevnull = n
			}
			p.devnull = n
		}
		std[i] = p.devnull
	}
	p.files = append(std, p.s.ExtraFiles...)
	return nil
}

// inputFile opens the standard input StandardInput= asks for, when the
// plan provides it itself: data, or file:PATH (opened for reading). Nil
// means /dev/null (a terminal is opened by the helper, see tty.go).
func (p *plan) inputFile() (*os.File, error) {
	in := p.ec.StandardInput
	if in == "data" {
		return dataFile(p.ec.StandardInputData)
	}
	if path, ok := strings.CutPrefix(in, "file:"); ok {
		fd, err := nowait.Open(path, unix.O_RDONLY|unix.O_NOCTTY, 0)
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), path), nil
	}
	return nil, nil
}

// sharedDevNull is /dev/null, opened once for the life of the process
// and only ever given to children (dup'ed into 0, 1 or 2 by the fork): an
// open, the fcntl of os.NewFile and a close saved on every start, on the
// path between a crashed service's exit and its replacement's fork. A
// shared file offset and status flags mean nothing for /dev/null.
var sharedDevNull = sync.OnceValues(openDevNull)

// devNull returns the shared /dev/null, or, if it could not be opened,
// one of the caller's own (own: the caller closes it).
func devNull() (f *os.File, own bool, err error) {
	if f, err := sharedDevNull(); err == nil {
		return f, false, nil
	}
	f, err = openDevNull()
	return f, true, err
}

// openDevNull opens /dev/null with a plain open(2): os.OpenFile would
// register the (pollable) device with Go's poller and back again.
func openDevNull() (*os.File, error) {
	fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	return os.NewFile(uintptr(fd), os.DevNull), nil
}

func (p *plan) close() {
	p.devnull = nil
	if p.ownDevnull != nil {
		p.ownDevnull.Close()
		p.ownDevnull = nil
	}
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
}

// dataFile is StandardInput=data's descriptor: a memory file holding
// data, sealed against any change and positioned at its start, so the
// process reads the data and then EOF however large it is (a pipe would
// need a writer for more than its buffer).
func dataFile(data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("stdin-data", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("standard input data: %w", err)
	}
	f := os.NewFile(uintptr(fd), "stdin-data")
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("standard input data: %w", err)
		}
		rest = rest[n:]
	}
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("standard input data: %w", err)
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("standard input data: %w", err)
	}
	return f, nil
}

// needsHelper reports whether settings beyond ForkExec's reach are set,
// the cgroup can only be joined from inside the child (v1), which must
// happen before the program's first fork, or tend ignores a signal the
// child must not inherit ignored. (A process that needs its own pid in
// its environment goes through the helper too unless the trampoline can
// set it: see pidexec.go.)
func (p *plan) needsHelper() bool {
	ec := p.ec
	if ec.UMask != defaultUMask || len(ec.Limits) > 0 || ec.Nice != nil || ec.OOMScoreAdjust != nil {
		return true
	}
	proc := *ec.ProcSettings()
	proc.SIGPIPEDefault = false // tend's own disposition at the fork does that (setSIGPIPE)
	if proc.Set() || resolveTTY(ec) != nil {
		return true
	}
	if signalIgnored() {
		return true
	}
	if g := p.s.Cgroup; g != nil {
		if _, ok := g.CloneFD(); (!ok && len(g.JoinFiles()) > 0) || g.JoinFirst() {
			return true
		}
	}
	return false
}

// ownPIDVars names the variables the child must set to its own pid:
// sd_listen_fds(3) checks LISTEN_PID when sockets are passed
// (LISTEN_FDS=), sd_watchdog_enabled(3) checks WATCHDOG_PID when a
// watchdog runs (WATCHDOG_USEC=).
func (p *plan) ownPIDVars() []string {
	var vars []string
	for _, kv := range p.env {
		switch {
		case strings.HasPrefix(kv, "LISTEN_FDS="):
			vars = append(vars, "LISTEN_PID")
		case strings.HasPrefix(kv, "WATCHDOG_USEC="):
			vars = append(vars, "WATCHDOG_PID")
		}
	}
	return vars
}

func (p *plan) sysProcAttr() *syscall.SysProcAttr {
	sys := &syscall.SysProcAttr{Setsid: true}
	if !p.s.Command.FullPrivilege {
		sys.Chroot = p.ec.RootDirectory
	}
	if g := p.s.Cgroup; g != nil {
		if fd, ok := g.CloneFD(); ok {
			sys.UseCgroupFD, sys.CgroupFD = true, fd
		}
	}
	return sys
}

func fds(files []*os.File) []uintptr {
	out := make([]uintptr, len(files))
	for i, f := range files {
		out[i] = f.Fd()
	}
	return out
}

// forkExec runs ForkExec, asking for a pidfd of the child in pidfd unless
// it is nil (see reaper.Start). If the clone may have failed on what only
// newer kernels have — clone3's CLONE_INTO_CGROUP (any error: the cgroup
// may refuse it for several reasons), CLONE_PIDFD (ENOSYS, EINVAL) — it
// retries without either. It reports whether the child was cloned into
// the cgroup.
func forkExec(path string, argv []string, attr *syscall.ProcAttr, pidfd *int) (int, bool, error) {
	return withEmptyMask(func() (int, bool, error) { return forkExecOnce(path, argv, attr, pidfd) })
}

func forkExecOnce(path string, argv []string, attr *syscall.ProcAttr, pidfd *int) (int, bool, error) {
	attr.Sys.PidFD = pidfd
	pid, err := syscall.ForkExec(path, argv, attr)
	pidfdRefused := pidfd != nil && (errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL))
	if err == nil || (!attr.Sys.UseCgroupFD && !pidfdRefused) {
		return pid, attr.Sys.UseCgroupFD, err
	}
	attr.Sys.UseCgroupFD, attr.Sys.PidFD = false, nil
	pid, err2 := syscall.ForkExec(path, argv, attr)
	if err2 != nil {
		return 0, false, err2
	}
	return pid, false, nil
}

func (p *plan) startDirect(r *reaper.Reaper, onExit func(reaper.Exit)) (int, error) {
	attr := &syscall.ProcAttr{Dir: p.dir, Env: p.exeEnv, Files: fds(p.files), Sys: p.sysProcAttr()}
	attr.Sys.Credential = p.cred
	var cloned, born bool
	b := p.birth(attr.Sys)
	pid, err := r.Start(func(pidfd *int) (int, error) {
		setSIGPIPE(p.ec.ProcSettings().SIGPIPEDefault)
		if p.s.NoPidFD {
			pidfd = nil
		}
		pid, c, bn, err := p.s.Forker.forkExec(p.exe, p.exeArgv, attr, pidfd, b)
		cloned, born = c, bn
		return pid, err
	}, onExit)
	runtime.KeepAlive(p.files)
	if err != nil {
		return 0, setupErr(ExitExec, p.path, err)
	}
	p.place(pid, cloned, born)
	return pid, nil
}

// birth is what the forker's thread joins so that a child cloned into
// its v2 group is born in its v1 stats groups too (cgroup.Group.Birth).
func (p *plan) birth(sys *syscall.SysProcAttr) birth {
	g := p.s.Cgroup
	if g == nil || !sys.UseCgroupFD || g.JoinFirst() {
		return birth{}
	}
	enter, leave := g.Birth()
	return birth{enter: enter, leave: leave}
}

// place completes cgroup placement after the fork.
func (p *plan) place(pid int, cloned, born bool) {
	g := p.s.Cgroup
	switch {
	case g == nil:
	case cloned && born:
		g.PlacedLimits(pid)
	case cloned:
		// The v1 stats groups are the bulk of it on hybrid machines:
		// queued on the forker's thread, they run when it has no fork
		// to do (Forker.later). A unit with limits joins before its
		// program (JoinFirst).
		g.PlacedLimits(pid)
		if g.JoinFirst() || !p.s.Forker.later(g.StatsSteps(pid)...) {
			g.PlacedStats(pid)
		}
	default:
		if err := g.Add(pid); err != nil {
			p.log.Warn("process not placed in its cgroup", "unit", p.s.Unit, "pid", pid, "err", err)
		}
	}
}
