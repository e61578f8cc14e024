package spawn

import "fmt"

// Exit statuses a process gets when tend fails to set it up, as listed
// in systemd.exec(5) "Process Exit Codes". Supervisors report them like
// any exit status (e.g. "status=203/EXEC").
const (
	// ExitFailure is the status of a process tend could not prepare
	// before forking (SetupError.BeforeFork): no EXIT_* code names such
	// a step, and it must not read as a success.
	ExitFailure                = 1
	ExitChdir                  = 200
	ExitNice                   = 201
	ExitFDs                    = 202
	ExitExec                   = 203
	ExitMemory                 = 204
	ExitLimits                 = 205
	ExitOOMAdjust              = 206
	ExitSignalMask             = 207
	ExitStdin                  = 208
	ExitStdout                 = 209
	ExitChroot                 = 210
	ExitIOPrio                 = 211
	ExitSecureBits             = 213
	ExitSetScheduler           = 214
	ExitCPUAffinity            = 215
	ExitGroup                  = 216
	ExitUser                   = 217
	ExitCapabilities           = 218
	ExitCgroup                 = 219
	ExitSetsid                 = 220
	ExitStderr                 = 222
	ExitPersonality            = 230
	ExitNetwork                = 225
	ExitNamespace              = 226
	ExitNoNewPrivileges        = 227
	ExitSeccomp                = 228
	ExitRuntimeDirectory       = 233
	ExitChown                  = 235
	ExitStateDirectory         = 238
	ExitCacheDirectory         = 239
	ExitLogsDirectory          = 240
	ExitConfigurationDirectory = 241
	ExitNUMAPolicy             = 242
	ExitCredentials            = 243
)

var exitNames = map[int]string{
	ExitChdir: "CHDIR", ExitNice: "NICE", ExitFDs: "FDS", ExitExec: "EXEC",
	ExitMemory: "MEMORY", ExitLimits: "LIMITS", ExitOOMAdjust: "OOM_ADJUST",
	ExitSignalMask: "SIGNAL_MASK", ExitStdin: "STDIN", ExitStdout: "STDOUT",
	ExitChroot: "CHROOT", ExitGroup: "GROUP", ExitUser: "USER",
	ExitCapabilities: "CAPABILITIES", ExitCgroup: "CGROUP", ExitSetsid: "SETSID",
	ExitStderr: "STDERR", ExitNetwork: "NETWORK", ExitNamespace: "NAMESPACE",
	ExitNoNewPrivileges: "NO_NEW_PRIVILEGES", ExitSeccomp: "SECCOMP", ExitRuntimeDirectory: "RUNTIME_DIRECTORY", ExitChown: "CHOWN",
	ExitStateDirectory: "STATE_DIRECTORY", ExitCacheDirectory: "CACHE_DIRECTORY",
	ExitLogsDirectory: "LOGS_DIRECTORY", ExitConfigurationDirectory: "CONFIGURATION_DIRECTORY",
	ExitIOPrio: "IOPRIO", ExitSecureBits: "SECUREBITS", ExitSetScheduler: "SETSCHEDULER",
	ExitCPUAffinity: "CPUAFFINITY", ExitPersonality: "PERSONALITY", ExitNUMAPolicy: "NUMA_POLICY",
	ExitCredentials: "CREDENTIALS",
}

// ExitStatusName names a setup exit status the way systemd prints it
// after the number ("EXEC" for 203), or "" for other statuses.
func ExitStatusName(status int) string { return exitNames[status] }

// SetupError reports a process that could not be started as the unit
// says. Status is the systemd EXIT_* code the process would have exited
// with, never 0. BeforeFork marks a failure in preparing the process
// (e.g. a missing EnvironmentFile=), which systemd reports as a
// "resources" failure of the unit; its Status is ExitFailure.
type SetupError struct {
	Status     int
	BeforeFork bool
	Step       string // e.g. "EXEC", "CHDIR"; "" before the fork
	Path       string // the executable
	Err        error
}

// Error formats the failure like systemd's log line.
func (e *SetupError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("failed to prepare spawning %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("failed at step %s spawning %s: %v", e.Step, e.Path, e.Err)
}

// Unwrap returns the cause, so errors.Is(err, syscall.ENOENT) works.
func (e *SetupError) Unwrap() error { return e.Err }

func setupErr(status int, path string, err error) *SetupError {
	return &SetupError{Status: status, Step: exitNames[status], Path: path, Err: err}
}
