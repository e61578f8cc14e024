package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/inspect"
)

func inspectCommand(env *Env) *cobra.Command {
	var output string
	d := &viewDaemon{}
	c := &cobra.Command{
		Use:   "inspect PID",
		Short: "Show everything about one process: identity, state, unit, resources, limits, namespaces, files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil || pid <= 0 {
				return &ExitError{Code: 1, Msg: "invalid process id " + strconv.Quote(args[0])}
			}
			d, err := inspect.Inspect(ctxOf(cmd), newCollector(env, d), pid)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if output == "json" {
				return inspect.WriteDetailJSON(env.Stdout, d)
			}
			return inspect.WriteDetail(env.Stdout, d, time.Now())
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	d.register(c)
	return c
}
