// Command tend is a service manager for systemd-style unit files: daemon,
// control client and init in one binary.
package main

import (
	"os"

	"github.com/tendproject/tend/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
