package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/fdholder"
)

// fdholderCommand is the fd holder process `tend run` starts
// (internal/fdholder); it is not for users, so it is hidden.
func fdholderCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "fdholder",
		Short:  "Hold tend's log pipes and listeners across a crash (started by tend run)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			// The listening socket is descriptor 3, from tend run.
			return fdholder.Main(os.NewFile(3, "fdholder.sock"))
		},
	}
}
