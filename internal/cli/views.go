package cli

import "github.com/spf13/cobra"

func viewCommands(env *Env) []*cobra.Command { return nil }
