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
	"runtime"

	"github.com/tendproject/tend/internal/cli"
)

// The main goroutine keeps the main thread to itself, so no other
// goroutine runs there. A fork that joins a unit's v1 stats groups first
// (spawn's forkExecBorn) moves the thread it runs on, and the v1 memory
// controller charges the whole process to the group of its leader, the
// main thread: that fork declines the main thread and would hand over to
// the forker's thread whenever the manager's loop happened to run there.
func init() { runtime.LockOSThread() }

func main() {
	os.Exit(cli.Main(os.Args))
}
