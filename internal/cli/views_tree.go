package cli

import (
	"encoding/json"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/inspect"
	"github.com/tendproject/tend/internal/unit"
)

func treeCommand(env *Env) *cobra.Command {
	var o inspect.TreeOptions
	var output string
	d := &viewDaemon{}
	c := &cobra.Command{
		Use:   "tree [PID|UNIT]",
		Short: "Show processes as a tree, with each unit's processes under its name",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := pidOrUnit(args[0], &o.PID, &o.Unit); err != nil {
					return err
				}
			}
			roots, err := inspect.Tree(ctxOf(cmd), newCollector(env, d), o)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if output == "json" {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(roots)
			}
			return inspect.RenderTree(env.Stdout, roots, o)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.ShowPIDs, "show-pids", "p", false, "show pids (disables compaction)")
	f.BoolVarP(&o.ShowArgs, "arguments", "a", false, "show command-line arguments")
	f.BoolVarP(&o.ByPID, "numeric-sort", "n", false, "sort siblings by pid")
	f.BoolVarP(&o.ASCII, "ascii", "A", false, "draw with ASCII characters")
	f.BoolVarP(&o.ThreadNames, "thread-names", "t", false, "show threads' own names")
	f.BoolVar(&o.NoUnits, "no-units", false, "do not insert unit nodes")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	d.register(c)
	return c
}

// pidOrUnit sorts an argument into a pid or a unit name.
func pidOrUnit(arg string, pid *int, unitName *string) error {
	if n, err := strconv.Atoi(arg); err == nil {
		if n <= 0 {
			return &ExitError{Code: 1, Msg: "invalid process id " + strconv.Quote(arg)}
		}
		*pid = n
		return nil
	}
	*unitName = mangle(arg) // "web" is web.service, as for systemctl
	if unit.ValidName(*unitName) != nil {
		return &ExitError{Code: 1, Msg: strconv.Quote(arg) + " is neither a process id nor a unit name (web.service)"}
	}
	return nil
}
