package spawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/sandbox"
	"golang.org/x/sys/unix"
)

// HelperArg is argv[1] of the exec helper: `tend HelperArg <instr-fd>
// <status-fd>`. The tend binary's main must hand such invocations to
// HelperMain before doing anything else.
const HelperArg = "__tend_exec_helper"

// rlimitNames maps Limit*= names to resources.
var rlimitNames = map[string]int{
	"CPU": unix.RLIMIT_CPU, "FSIZE": unix.RLIMIT_FSIZE, "DATA": unix.RLIMIT_DATA,
	"STACK": unix.RLIMIT_STACK, "CORE": unix.RLIMIT_CORE, "RSS": unix.RLIMIT_RSS,
	"NPROC": unix.RLIMIT_NPROC, "NOFILE": unix.RLIMIT_NOFILE, "MEMLOCK": unix.RLIMIT_MEMLOCK,
	"AS": unix.RLIMIT_AS, "LOCKS": unix.RLIMIT_LOCKS, "SIGPENDING": unix.RLIMIT_SIGPENDING,
	"MSGQUEUE": unix.RLIMIT_MSGQUEUE, "NICE": unix.RLIMIT_NICE, "RTPRIO": unix.RLIMIT_RTPRIO,
	"RTTIME": unix.RLIMIT_RTTIME,
}

// instructions is what the helper is told to do, sent as JSON through
// an inherited pipe.
type instructions struct {
	Path      string
	Argv, Env []string
	Dir       string
	Chroot    string
	UMask     uint32
	Limits    []limit
	Nice      *int
	OOMScore  *int
	Join      []string // cgroup.procs files to write "0" to
	Cred      *syscall.Credential
	// OwnPID names variables to set to the helper's own pid in Env
	// (LISTEN_PID, WATCHDOG_PID): only the child knows its pid.
	OwnPID []string
	Proc   *procInstr // process settings (process.go)
	TTY    *ttyInstr  // a controlling terminal on stdin (tty.go)
	// Sandbox is what the unit's sandboxing settings ask for (nil: none).
	Sandbox *sandbox.Plan
}

type limit struct {
	Name       string
	Resource   int
	Soft, Hard uint64
}

// report is the helper's answer on failure; success is the status pipe
// closing on exec.
type report struct {
	Status int
	Errno  int
	Msg    string
}

func (p *plan) instructions() (*instructions, error) {
	in := &instructions{Path: p.path, Argv: p.argv, Env: p.env, Dir: p.dir, UMask: p.ec.UMask,
		Nice: p.ec.Nice, OOMScore: p.ec.OOMScoreAdjust, Cred: p.cred, OwnPID: p.ownPIDVars(), Sandbox: p.sandbox}
	if !p.s.Command.FullPrivilege {
		in.Chroot = p.ec.RootDirectory
	}
	var err error
	if in.Proc, err = resolveProc(p.ec.ProcSettings(), p.path); err != nil {
		return nil, err
	}
	in.TTY = resolveTTY(p.ec)
	for name, l := range p.ec.Limits {
		res, ok := rlimitNames[name]
		if !ok {
			return nil, setupErr(ExitLimits, p.path, fmt.Errorf("unknown resource limit %q", name))
		}
		in.Limits = append(in.Limits, limit{name, res, l.Soft, l.Hard})
	}
	sort.Slice(in.Limits, func(i, j int) bool { return in.Limits[i].Resource < in.Limits[j].Resource })
	if g := p.s.Cgroup; g != nil {
		in.Join = g.JoinFiles()
	}
	return in, nil
}

func (p *plan) startHelper(r *reaper.Reaper, onExit func(reaper.Exit)) (int, error) {
	in, err := p.instructions()
	if err != nil {
		return 0, err
	}
	instrR, instrW, err := os.Pipe()
	if err != nil {
		return 0, setupErr(ExitFDs, p.path, err)
	}
	defer instrW.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		instrR.Close()
		return 0, setupErr(ExitFDs, p.path, err)
	}
	defer statR.Close()
	mountFiles, err := p.userNSFiles(len(p.files))
	if err != nil {
		instrR.Close()
		statW.Close()
		return 0, err
	}
	defer closeAll(mountFiles)
	files := append(append(append([]*os.File{}, p.files...), mountFiles...), instrR, statW)
	self := p.s.SelfExe
	if self == "" {
		self = "/proc/self/exe"
	}
	argv := []string{self, HelperArg, strconv.Itoa(len(files) - 2), strconv.Itoa(len(files) - 1)}
	attr := &syscall.ProcAttr{Dir: "/", Files: fds(files), Sys: p.sysProcAttr()}
	attr.Sys.Chroot = "" // the helper needs its own binary; it chroots itself
	p.userNSAttr(attr.Sys)

	// The helper's exit must not reach onExit when Start reports a setup
	// failure, so deliveries wait for Start's verdict (the helper has
	// written it before it can exit, so the wait is short).
	verdict := make(chan bool, 1)
	gated := func(e reaper.Exit) {
		if ok := <-verdict; ok {
			onExit(e)
		}
	}
	var cloned bool
	pid, err := r.Start(func(pidfd *int) (int, error) {
		if p.s.NoPidFD {
			pidfd = nil
		}
		pid, c, err := forkExec(self, argv, attr, pidfd)
		cloned = c
		return pid, err
	}, gated)
	instrR.Close()
	statW.Close()
	runtime.KeepAlive(files)
	if err != nil {
		return 0, setupErr(ExitExec, self, fmt.Errorf("exec helper: %w", err))
	}
	if err := json.NewEncoder(instrW).Encode(in); err != nil {
		p.log.Debug("exec helper did not take its instructions", "err", err)
	}
	instrW.Close()
	b, err := io.ReadAll(statR)
	if err != nil || len(b) > 0 {
		verdict <- false
		return 0, decodeReport(b, err, p.path)
	}
	verdict <- true
	p.place(pid, cloned, false)
	return pid, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func decodeReport(b []byte, readErr error, path string) error {
	if readErr != nil {
		return setupErr(ExitExec, path, fmt.Errorf("exec helper: %w", readErr))
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return setupErr(ExitExec, path, fmt.Errorf("exec helper: bad report: %w", err))
	}
	var err error = errors.New(rep.Msg)
	if rep.Errno != 0 {
		err = fmt.Errorf("%s: %w", rep.Msg, syscall.Errno(rep.Errno))
		if rep.Msg == "" {
			err = syscall.Errno(rep.Errno)
		}
	}
	return setupErr(rep.Status, path, err)
}

// HelperMain is the exec helper: it reads its instructions, applies
// them, and execs the target. It never returns; on failure it reports to
// tend and exits with the systemd EXIT_* status of the failed step.
// args is os.Args.
func HelperMain(args []string) {
	// nice is per thread on Linux, and exec keeps only the calling
	// thread: set it and exec on the same one.
	runtime.LockOSThread()
	if len(args) != 4 || args[1] != HelperArg {
		fmt.Fprintln(os.Stderr, "tend exec helper: bad arguments")
		os.Exit(ExitExec)
	}
	instrFD, err1 := strconv.Atoi(args[2])
	statFD, err2 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "tend exec helper: bad descriptors")
		os.Exit(ExitExec)
	}
	syscall.CloseOnExec(statFD)
	status := os.NewFile(uintptr(statFD), "status")
	released := false // tend took the start as done: a failure is only the exit status
	release := func() {
		if !released {
			released = true
			status.Close()
		}
	}
	fail := func(code int, msg string, err error) {
		rep := report{Status: code, Msg: msg}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			rep.Errno = int(errno)
		} else if err != nil {
			rep.Msg = fmt.Sprintf("%s: %v", msg, err)
		}
		if released {
			// Said where the service's output goes, the only place left.
			fmt.Fprintf(os.Stderr, "tend: %s: %v\n", msg, err)
		} else {
			_ = json.NewEncoder(status).Encode(rep)
		}
		os.Exit(code)
	}
	var in instructions
	instr := os.NewFile(uintptr(instrFD), "instructions")
	if err := json.NewDecoder(instr).Decode(&in); err != nil {
		fail(ExitExec, "read instructions", err)
	}
	instr.Close()
	if code, msg, err := apply(&in, release); err != nil {
		fail(code, msg, err)
	}
	for _, name := range in.OwnPID {
		in.Env = slices.DeleteFunc(in.Env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
		in.Env = append(in.Env, name+"="+strconv.Itoa(os.Getpid()))
	}
	resetSignals()
	// IgnoreSIGPIPE= defaults to yes, as on the plain path, where the
	// child inherits the daemon's "ignore".
	if in.Proc == nil || !in.Proc.SIGPIPEDefault {
		ignoreSIGPIPE()
	}
	if in.Sandbox != nil {
		if code, msg, err := lockDown(in.Sandbox); err != nil {
			fail(code, msg, err)
		}
	}
	err := syscall.Exec(in.Path, in.Argv, in.Env)
	fail(ExitExec, "exec "+in.Path, err)
}
