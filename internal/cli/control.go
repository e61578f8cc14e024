package cli

import "github.com/spf13/cobra"

func controlCommands(env *Env) []*cobra.Command { return nil }
