package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
)

// controlCommands are systemctl's verbs that act on units and read their
// state: start, stop, …, status, list-units, show, cat, is-active, ….
func controlCommands(env *Env) []*cobra.Command {
	cmds := []*cobra.Command{
		jobCommand(env, "start", "Start (activate) one or more units"),
		jobCommand(env, "stop", "Stop (deactivate) one or more units"),
		jobCommand(env, "restart", "Start or restart one or more units"),
		jobCommand(env, "try-restart", "Restart one or more units if they are running"),
		jobCommand(env, "reload", "Reload one or more units"),
		jobCommand(env, "reload-or-restart", "Reload units that support it, restart the others"),
		killCommand(env),
		resetFailedCommand(env),
		daemonReloadCommand(env),
		reloadLogsCommand(env),
		daemonReexecCommand(env),
		editCommand(env),
		listSocketsCommand(env),
		listTimersCommand(env),
	}
	cmds = append(cmds, systemCommands(env)...)
	return append(cmds, queryCommands(env)...)
}

// jobCalls maps a job verb to the client method that runs it.
func jobCall(x *ctl, verb string) func(context.Context, []string, api.JobOptions) ([]api.JobResult, error) {
	switch verb {
	case "start":
		return x.c.Start
	case "stop":
		return x.c.Stop
	case "restart":
		return x.c.Restart
	case "try-restart":
		return x.c.TryRestart
	case "reload":
		return x.c.Reload
	}
	return x.c.ReloadOrRestart
}

func jobCommand(env *Env, verb, short string) *cobra.Command {
	f := &ctlFlags{}
	var mode string
	cmd := &cobra.Command{
		Use:   verb + " UNIT...",
		Short: short,
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names, err := x.expand(ctx, args)
		if err != nil {
			return x.verbError(verb, strings.Join(mangleAll(args), " "), err)
		}
		res, err := jobCall(x, verb)(ctx, names, api.JobOptions{Mode: mode, NoWait: x.f.noBlock})
		if err != nil {
			return x.verbError(verb, names[0], err)
		}
		if x.json() {
			if err := x.printJSON(res); err != nil {
				return err
			}
			if jobsFailed(res) {
				return &ExitError{Code: exitFailure}
			}
			return nil
		}
		x.warnChanged(ctx, res)
		return x.reportJobs(ctx, res)
	})
	f.add(cmd)
	cmd.Flags().StringVar(&mode, "job-mode", "", "how to treat queued jobs: replace, fail, isolate, ignore-dependencies")
	return cmd
}

// reportJobs prints why jobs failed, as systemctl does, and returns exit
// status 1 when any did.
func (x *ctl) reportJobs(ctx context.Context, res []api.JobResult) error {
	failed := false
	for _, r := range res {
		msg := ""
		switch {
		case jobOK(r.Result):
			continue
		case r.Result == "dependency":
			msg = fmt.Sprintf("A dependency job for %s failed. See 'tend logs -xe' for details.", r.Unit)
		case r.Result == "canceled":
			msg = fmt.Sprintf("Job for %s canceled.", r.Unit)
		case r.Result == "timeout":
			msg = fmt.Sprintf("Job for %s timed out.", r.Unit)
		default:
			msg = x.failedJobMessage(ctx, r)
		}
		x.errf("%s\n", msg)
		failed = true
	}
	if failed {
		return &ExitError{Code: exitFailure}
	}
	return nil
}

// warnChanged tells about units whose files changed on disk since they
// were loaded: the job ran with the old definition.
func (x *ctl) warnChanged(ctx context.Context, res []api.JobResult) {
	if x.f.quiet {
		return
	}
	for _, r := range res {
		if st, err := x.c.Status(ctx, r.Unit); err == nil && st.NeedReload {
			x.errf(changedOnDisk, r.Unit)
		}
	}
}

// jobOK says whether a job result is a success (or not yet known).
func jobOK(result string) bool {
	switch result {
	case "done", "skipped", "queued", "":
		return true
	}
	return false
}

func jobsFailed(res []api.JobResult) bool {
	for _, r := range res {
		if !jobOK(r.Result) {
			return true
		}
	}
	return false
}

// failedJobMessage explains a failed job from the unit's Result, which
// says what went wrong better than the job's own result.
func (x *ctl) failedJobMessage(ctx context.Context, r api.JobResult) string {
	why := ""
	if st, err := x.c.Status(ctx, r.Unit); err == nil {
		why = resultReason(st.Result)
	}
	if why == "" && r.Error != "" {
		why = ": " + r.Error
	}
	return fmt.Sprintf("Job for %s failed%s.\nSee \"tend status %s\" and \"tend logs -xeu %s\" for details.",
		r.Unit, why, r.Unit, r.Unit)
}

// resultReason turns a unit's Result into the clause systemctl appends to
// "Job for x failed".
func resultReason(result string) string {
	switch result {
	case "exit-code":
		return " because the control process exited with error code"
	case "timeout":
		return " because a timeout was exceeded"
	case "signal":
		return " because a fatal signal was delivered to the control process"
	case "core-dump":
		return " because a fatal signal was delivered causing the control process to dump core"
	case "start-limit-hit":
		return " because it was started too often in a short time"
	case "resources":
		return " because of unavailable resources or another system error"
	case "oom-kill":
		return " because the control process was killed for lack of memory"
	case "protocol":
		return " because the service did not follow its readiness protocol"
	case "watchdog":
		return " because the watchdog timed out"
	}
	return ""
}

func killCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var sig, whom string
	cmd := &cobra.Command{
		Use:   "kill UNIT...",
		Short: "Send a signal to the processes of units",
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		num, err := parseSignal(sig)
		if err != nil {
			return &ExitError{Code: exitFailure, Msg: err.Error()}
		}
		names, err := x.expand(ctx, args)
		if err == nil {
			err = x.c.Kill(ctx, names, whom, num)
		}
		if err != nil {
			return x.verbError("kill", strings.Join(mangleAll(args), " "), err)
		}
		return nil
	})
	f.add(cmd)
	cmd.Flags().StringVarP(&sig, "signal", "s", "SIGTERM", "signal to send, by name (TERM, SIGHUP) or number")
	cmd.Flags().StringVar(&whom, "kill-whom", "all", "which processes: main, control or all")
	cmd.Flags().StringVar(&whom, "kill-who", "all", "the older name of --kill-whom")
	return cmd
}

// parseSignal accepts "9", "KILL" and "SIGKILL".
func parseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal number %d out of range", n)
		}
		return n, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n := unix.SignalNum(name); n != 0 {
		return int(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func resetFailedCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "reset-failed [UNIT...]",
		Short: "Reset the failed state of units (all when none is named)",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names, err := x.expand(ctx, args)
		if err == nil {
			err = x.c.ResetFailed(ctx, names)
		}
		if err != nil {
			return x.verbError("reset failed state of", strings.Join(mangleAll(args), " "), err)
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

func daemonReexecCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "daemon-reexec",
		Short: "Re-execute the manager's binary, keeping every unit, process and log pipe",
		Long: `Re-execute the manager's binary from disk (upgrading it: copy the new binary
over the old path, then run daemon-reexec). Services keep running with the same
pids; their output, sockets and watchdogs carry on. Returns once the new manager
answers.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, _ []string) error {
		if err := x.c.DaemonReexec(ctx); err != nil {
			return &ExitError{Code: exitFailure, Msg: "failed to re-execute daemon: " + err.Error()}
		}
		// Queued in the listening socket the new process inherited.
		if _, err := x.c.Info(ctx); err != nil {
			return &ExitError{Code: exitFailure, Msg: "the re-executed daemon does not answer: " + err.Error()}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

// reloadLogsCommand reopens the syslog.conf files, for logrotate's
// postrotate: unlike a SIGHUP it returns once they are reopened.
func reloadLogsCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "reload-logs",
		Short: "Reopen the log files syslog.conf names (after logrotate)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, _ []string) error {
		res, err := x.c.ReloadLogs(ctx)
		if err != nil {
			return &ExitError{Code: exitFailure, Msg: "failed to reopen the log files: " + err.Error()}
		}
		if x.json() {
			return x.printJSON(res)
		}
		for _, e := range res.Errors {
			x.errf("%s\n", e)
		}
		if len(res.Errors) > 0 {
			return &ExitError{Code: exitFailure}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

func daemonReloadCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "daemon-reload",
		Short: "Reload unit files and drop-ins",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, _ []string) error {
		rep, err := x.c.DaemonReload(ctx)
		if err != nil {
			if statusOf(err) == 403 {
				x.errf("Failed to reload daemon: %v\n", err)
				return &ExitError{Code: exitNoSuchUnit}
			}
			return &ExitError{Code: exitFailure, Msg: "failed to reload daemon: " + err.Error()}
		}
		if x.json() {
			return x.printJSON(rep)
		}
		for _, e := range rep.Errors {
			x.errf("%s\n", e)
		}
		for _, u := range rep.Changed {
			x.warnf("Warning: %s changed on disk and keeps running with its old definition until restarted.\n", u)
		}
		return nil
	})
	f.add(cmd)
	return cmd
}
