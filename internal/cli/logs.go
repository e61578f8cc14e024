package cli

import "github.com/spf13/cobra"

func logCommands(env *Env) []*cobra.Command { return nil }
