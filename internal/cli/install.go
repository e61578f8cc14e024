package cli

import "github.com/spf13/cobra"

func installCommands(env *Env) []*cobra.Command { return nil }
