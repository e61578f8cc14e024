package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
)

// systemCommands are the verbs about the manager as a whole.
func systemCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{isSystemRunningCommand(env), listJobsCommand(env)}
}

func isSystemRunningCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "is-system-running",
		Short: "Check whether the manager is running: running, starting, degraded, stopping or offline",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, _ []string) error {
		state := "offline"
		units, err := x.c.ListUnits(ctx, nil, true)
		switch {
		case errors.Is(err, client.ErrNotRunning):
		case err != nil:
			return err
		default:
			state = systemState(units)
		}
		if !x.f.quiet {
			x.outf("%s\n", state)
		}
		if state != "running" {
			return &ExitError{Code: exitFailure}
		}
		return nil
	})
	f.add(cmd)
	return cmd
}

// systemState is systemctl's summary of the manager: starting or stopping
// while the default target's job runs, degraded when a unit failed,
// running otherwise.
func systemState(units []api.UnitStatus) string {
	failed := false
	for _, u := range units {
		if u.Name == "default.target" && u.Job != "" {
			if u.Job == "stop" {
				return "stopping"
			}
			return "starting"
		}
		failed = failed || u.ActiveState == "failed"
	}
	if failed {
		return "degraded"
	}
	return "running"
}

func listJobsCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "list-jobs [PATTERN...]",
		Short: "List the jobs in progress",
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		units, err := x.c.ListUnits(ctx, mangleAll(args), true)
		if err != nil {
			return err
		}
		jobs := []api.UnitStatus{}
		for _, u := range units {
			if u.Job != "" {
				jobs = append(jobs, u)
			}
		}
		if x.json() {
			return x.printJSON(jobs)
		}
		if len(jobs) == 0 {
			if !f.noLegend {
				x.outf("No jobs running.\n")
			}
			return nil
		}
		// tend's jobs have no numbers: the unit names them.
		var rows [][]string
		if !f.noLegend {
			rows = append(rows, []string{"UNIT", "TYPE", "STATE"})
		}
		for _, u := range jobs {
			rows = append(rows, []string{u.Name, u.Job, u.JobState})
		}
		writeTable(x.env.Stdout, make([]string, len(rows)), rows)
		if !f.noLegend {
			x.outf("\n%d %s listed.\n", len(jobs), plural(len(jobs), "job", "jobs"))
		}
		return nil
	})
	f.add(cmd)
	return cmd
}
