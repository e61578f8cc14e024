// Command tend is a service manager for systemd-style unit files: daemon,
// control client and init in one binary.
//
// Names are resolved by Go's own resolver, never the C library's: the
// binary is static (static_cgo.go).
//
//go:debug netdns=go
package main

import (
	"os"

	"github.com/tendproject/tend/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
