package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/fdholder/holderproc"
)

// fdholderCommand is the fd holder process `tend run` starts
// (internal/fdholder); it is not for users, so it is hidden. The holder
// package's init takes the process over before this runs, but for a
// system without /proc, where it cannot tell how it was called.
func fdholderCommand() *cobra.Command {
	return &cobra.Command{
		Use:    holderproc.Command,
		Short:  "Hold tend's log pipes and listeners across a crash (started by tend run)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if holderproc.Main(holderproc.Listener) != 0 {
				return errors.New("the fd holder failed")
			}
			return nil
		},
	}
}
