package cli

import (
	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/inspect"
)

func fdsCommand(env *Env) *cobra.Command {
	var output string
	d := &viewDaemon{}
	c := &cobra.Command{
		Use:   "fds PID|UNIT",
		Short: "List open files, with the process at the other end of pipes and sockets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pid int
			var unit string
			if err := pidOrUnit(args[0], &pid, &unit); err != nil {
				return err
			}
			col := newCollector(env, d)
			var lists []*inspect.FDList
			if unit != "" {
				var err error
				if lists, err = inspect.FDsOfUnit(ctxOf(cmd), col, unit); err != nil {
					return &ExitError{Code: 1, Msg: err.Error()}
				}
			} else {
				l, err := inspect.FDs(ctxOf(cmd), col, pid)
				if err != nil {
					return &ExitError{Code: 1, Msg: err.Error()}
				}
				lists = []*inspect.FDList{l}
			}
			if output == "json" {
				return inspect.WriteFDsJSON(env.Stdout, lists)
			}
			return inspect.WriteFDs(env.Stdout, lists)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	d.register(c)
	return c
}
