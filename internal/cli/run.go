package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/daemon"
)

func daemonCommands(env *Env) []*cobra.Command {
	var (
		user                  bool
		units                 []string
		target                string
		exitWith              string
		logLevel              string
		timeout               time.Duration
		runtime               string
		jdir, stateDir        string
		cpuprof, tracefile    string
		heapprof              string
		panicHook             bool
		syslogAt              string
		forward               string
		logGroup              []string
		inetdConf, xinetdConf []string
		svdirs                []string
		crontab               []string
		syslogConf            []string
		loghost               daemon.LogHost
		kmsg                  bool
		fdHolder              bool
		holderGrace           time.Duration
		jopts                 journalFlags
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the service manager in the foreground",
		Long: `Run the service manager in the foreground: load the unit files, start the
default target (or --target) in dependency order, supervise, and on SIGTERM or
SIGINT stop every unit in reverse order and exit.

As root without --units it reads the standard unit directories
(/etc/tend/units, /etc/systemd/system, /run/systemd/system, /lib/systemd/system,
/usr/lib/systemd/system, …). Run as another user, or with --user, it is that
user's instance (XDG directories, socket in $XDG_RUNTIME_DIR/tend).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !user && os.Getuid() != 0 {
				user = true
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return &ExitError{Code: 2, Msg: fmt.Sprintf("--log-level: %v", err)}
			}
			dirs := make([]string, 0, len(units))
			for _, u := range units {
				abs, err := filepath.Abs(u)
				if err != nil {
					return err
				}
				dirs = append(dirs, abs)
			}
			cfg := daemon.Config{
				User:            user,
				UnitDirs:        dirs,
				Paths:           paths(daemon.DefaultPaths(user, env.Getenv), runtime, jdir, stateDir, syslogAt, cmd.Flags().Changed("syslog-socket")),
				Target:          mangle(target),
				ExitWith:        exitWithName(exitWith),
				ShutdownTimeout: timeout,
				Forward:         forward,
				Journal:         jopts.options(),
				LogGroups:       logGroups(logGroup, cmd.Flags().Changed("log-group")),
				Inetd:           legacyFiles(inetdConf, cmd.Flags().Changed("inetd-conf")),
				Xinetd:          legacyFiles(xinetdConf, cmd.Flags().Changed("xinetd-conf")),
				Svdirs:          legacyFiles(svdirs, cmd.Flags().Changed("svdir")),
				Crontab:         legacyFiles(crontab, cmd.Flags().Changed("crontab")),
				SyslogConf:      legacyFiles(syslogConf, cmd.Flags().Changed("syslog-conf")),
				LogHost:         loghost,
				NoHolder:        !fdHolder,
				HolderGrace:     holderGrace,
				Kmsg:            kmsgDefault(kmsg, cmd.Flags().Changed("kmsg"), user, len(units) > 0),
				Logger:          slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl})),
				Getenv:          env.Getenv,
				Version:         versionString(),
				DebugPanicHook:  panicHook,
				HeapProfile:     heapprof,
			}
			if heapprof != "" {
				// Per-object costs of a few hundred bytes need finer
				// sampling than the default one per 512 KiB.
				goruntime.MemProfileRate = 4096
			}
			if cpuprof != "" {
				stop, err := startCPUProfile(cpuprof)
				if err != nil {
					return err
				}
				defer stop()
			}
			if tracefile != "" {
				stop, err := startTrace(tracefile)
				if err != nil {
					return err
				}
				defer stop()
			}
			code, err := daemon.Run(context.Background(), cfg)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&user, "user", false, "run the calling user's instance")
	f.StringArrayVar(&units, "units", nil, "read units from `DIR` instead of the standard directories (repeatable)")
	f.StringVar(&target, "target", "default.target", "`UNIT` to start at boot")
	f.StringVar(&exitWith, "exit-with", "", "exit when `UNIT` stops, with its exit status (container mode)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&timeout, "shutdown-timeout", 90*time.Second, "bound on the orderly stop at exit")
	f.StringVar(&runtime, "runtime-dir", "", "keep the control socket and runtime state in `DIR` (default /run/tend, or $XDG_RUNTIME_DIR/tend)")
	f.StringVar(&syslogAt, "syslog-socket", "", "capture syslog datagrams on `PATH` (default /dev/log for the system instance; \"\" for none)")
	f.StringVar(&forward, "forward-syslog", "", "send every journal entry to a remote syslog server, RFC 5424 over `URL` (udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT)")
	f.StringArrayVar(&syslogConf, "syslog-conf", nil, "route journal entries to the files, pipes, terminals and servers named by the selector lines of syslog.conf `FILE` (repeatable; globs; default /etc/syslog.conf, /etc/rsyslog.conf and /etc/rsyslog.d/*.conf where they exist, for the system instance without --units; \"\" for none)")
	f.StringArrayVar(&loghost.Listen, "syslog-listen", nil, "receive other machines' syslog messages into the journal on `URL`: udp://ADDR:PORT, tcp://ADDR:PORT (RFC 6587) or tls://ADDR:PORT (RFC 5425) (repeatable)")
	f.StringVar(&loghost.TLSCert, "syslog-tls-cert", "", "certificate `FILE` (PEM) of tls:// syslog listeners")
	f.StringVar(&loghost.TLSKey, "syslog-tls-key", "", "private key `FILE` (PEM) of tls:// syslog listeners")
	f.StringVar(&loghost.TLSClientCA, "syslog-tls-client-ca", "", "require tls:// syslog clients to present a certificate signed by a CA in `FILE` (PEM)")
	f.StringVar(&loghost.RateLimit, "syslog-rate-limit", "", "syslog messages accepted per sender (pid on /dev/log, address on the network), `BURST/INTERVAL` (default 10000/30s; 0 for no limit)")
	f.BoolVar(&kmsg, "kmsg", false, "read the kernel's log (/dev/kmsg) into the journal (default on for the system instance without --units)")
	f.StringArrayVar(&logGroup, "log-group", nil, "members of `GROUP` may read every unit's logs (repeatable; default adm and systemd-journal where they exist; \"\" for none)")
	f.StringArrayVar(&inetdConf, "inetd-conf", nil, "read inetd.conf `FILE` into socket units (repeatable; default /etc/inetd.conf for the system instance without --units; \"\" for none)")
	f.StringArrayVar(&xinetdConf, "xinetd-conf", nil, "read xinetd.conf `FILE` and its includedir into socket units (repeatable; default /etc/xinetd.conf for the system instance without --units; \"\" for none)")
	f.StringArrayVar(&svdirs, "svdir", nil, "supervise every runit/daemontools service directory in scan directory `DIR`, as runsvdir does (repeatable; default /etc/service and /var/service where they exist, for the system instance without --units; \"\" for none)")
	f.StringArrayVar(&crontab, "crontab", nil, "read crontab `PATH` (a file, or a directory of them; with a user field as in /etc/cron.d for the system instance, the user's own for a user instance) into timer units (repeatable; default /etc/crontab, /etc/cron.d and /var/spool/cron/crontabs for the system instance without --units, $XDG_CONFIG_HOME/tend/crontab for a user instance without --units; \"\" for none)")
	jopts.register(f)
	f.BoolVar(&fdHolder, "fd-holder", true, "keep the log pipes and listeners in a holder process that outlives a crash of tend (false: for benchmark harnesses that wait for tend to have no child left)")
	_ = f.MarkHidden("fd-holder")
	f.DurationVar(&holderGrace, "fd-holder-grace", daemon.DefaultHolderGrace, "after a crash of tend, how long the fd holder keeps the log pipes and listeners for the next tend run before it exits (0: for ever)")
	f.StringVar(&cpuprof, "cpu-profile", "", "write a CPU profile of the daemon to `FILE` (for performance work)")
	_ = f.MarkHidden("cpu-profile")
	f.StringVar(&tracefile, "trace", "", "write an execution trace of the daemon to `FILE` (go tool trace; for performance work)")
	_ = f.MarkHidden("trace")
	f.StringVar(&heapprof, "heap-profile", "", "write a heap profile of the daemon to `FILE` once boot settles and after each daemon-reload (for memory work)")
	_ = f.MarkHidden("heap-profile")
	f.BoolVar(&panicHook, "debug-panic-hook", false, "serve POST /v1/debug/panic, which makes tend panic (tests of panic recovery only)")
	_ = f.MarkHidden("debug-panic-hook")
	f.StringVar(&stateDir, "state-dir", "", "keep state that outlives tend (timer stamps) in `DIR` (default /var/lib/tend, $XDG_STATE_HOME/tend, or RUNTIME/state with --runtime-dir)")
	f.StringVar(&jdir, "journal-dir", "", "keep the journal in `DIR` (default /var/log/tend/journal, or $XDG_STATE_HOME/tend/journal)")
	return []*cobra.Command{cmd}
}

// kmsgDefault: the host's system instance reads the kernel log unless told
// not to; others only when asked.
func kmsgDefault(v, set, user, ownUnits bool) bool {
	if set {
		return v
	}
	return !user && !ownUnits
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func startTrace(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { trace.Stop(); f.Close() }, nil
}

// paths applies --runtime-dir, --journal-dir and --state-dir to the
// defaults. An instance with a runtime directory of its own keeps its
// state there too unless told otherwise, so it never shares timer
// stamps with the standard instance.
func paths(p daemon.Paths, runtime, journal, state, syslogAt string, syslogSet bool) daemon.Paths {
	if syslogSet {
		p.Syslog = syslogAt
	}
	if runtime != "" {
		if abs, err := filepath.Abs(runtime); err == nil {
			runtime = abs
		}
		p.Runtime = runtime
		p.Socket = filepath.Join(runtime, "tend.sock")
		p.CgroupBase = daemon.CgroupBaseFor(runtime)
		p.State = filepath.Join(runtime, "state")
	}
	if state != "" {
		if abs, err := filepath.Abs(state); err == nil {
			state = abs
		}
		p.State = state
	}
	if journal != "" {
		if abs, err := filepath.Abs(journal); err == nil {
			journal = abs
		}
		p.Journal = journal
	}
	return p
}

// logGroups is --log-group's value for the daemon: nil (the defaults)
// unless given, and never nil once given, even as --log-group "".
func logGroups(names []string, set bool) []string {
	if !set {
		return nil
	}
	return append([]string{}, names...)
}

// legacyFiles is the list of --inetd-conf or --xinetd-conf: nil when the
// flag was not given (the defaults apply), else the absolute paths given
// (possibly none: "" disables).
func legacyFiles(names []string, set bool) []string {
	if !set {
		return nil
	}
	out := []string{}
	for _, n := range names {
		if n == "" {
			continue
		}
		if abs, err := filepath.Abs(n); err == nil {
			n = abs
		}
		out = append(out, n)
	}
	return out
}

func exitWithName(s string) string {
	if s == "" {
		return ""
	}
	return mangle(s)
}
