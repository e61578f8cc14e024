package cli

import "github.com/spf13/cobra"

func daemonCommands(env *Env) []*cobra.Command { return nil }
