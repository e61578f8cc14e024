package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/client"
)

// addUnitCompletion makes the shell complete unit names for every verb
// whose arguments are units, and for --unit/-u, by asking the instance the
// command would talk to (its --socket, --user and TEND_SOCKET).
func addUnitCompletion(env *Env, root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.ValidArgsFunction == nil && strings.Contains(c.Use, "UNIT") {
			c.ValidArgsFunction = func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
				return completeUnits(env, cmd, prefix)
			}
		}
		if c.Flags().Lookup("unit") != nil {
			c.RegisterFlagCompletionFunc("unit", func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
				return completeUnits(env, cmd, prefix)
			})
		}
	}
}

// completeUnits lists the loaded units starting with prefix; nothing (and
// no file names) when no instance answers.
func completeUnits(env *Env, cmd *cobra.Command, prefix string) ([]string, cobra.ShellCompDirective) {
	sock, _ := cmd.Flags().GetString("socket")
	user, _ := cmd.Flags().GetBool("user")
	if sock == "" {
		sock = client.DefaultSocket(user, env.Getenv)
	}
	c := client.New(sock)
	defer c.Close()
	// A shell waits for the answer while the user types: give up soon.
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	units, err := c.ListUnits(ctx, []string{prefix + "*"}, true)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	out := make([]string, 0, len(units))
	for _, u := range units {
		out = append(out, u.Name+"\t"+u.Description)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
