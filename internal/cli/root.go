// Package cli implements tend's command line: the daemon's `run`, the
// systemctl-like control verbs, `logs`, and the /proc views. It talks to a
// running daemon only through internal/client.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/spawn"
)

// Env is what a command may touch of the outside world; tests replace it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// ExitError carries a process exit status out of a command (systemctl's
// codes: 1 failure, 3 inactive/not running, 4 no such unit, …). Msg, when
// set, is printed to stderr.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Main runs tend with argv and returns its exit status.
func Main(argv []string) int {
	if len(argv) > 1 && argv[1] == spawn.HelperArg {
		spawn.HelperMain(argv) // the exec helper: never returns
	}
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	return RunAs(env, callName(argv[0]), argv[1:])
}

// Run executes one tend command line (without argv[0]) against env.
func Run(env *Env, args []string) int { return RunAs(env, "tend", args) }

// RunAs executes a command line of tend called by name: "tend",
// "systemctl" or "journalctl" (multicall.go).
func RunAs(env *Env, name string, args []string) int {
	if name == "sv" {
		return svMain(env, args)
	}
	cmd := commandFor(env, name)
	if name == "journalctl" && len(args) == 1 && args[0] == "--version" {
		// logs parses its own flags (journalctl's optional values), so
		// cobra's --version never sees this one.
		fmt.Fprintln(env.Stdout, name, versionString())
		return 0
	}
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintf(env.Stderr, "%s: %s\n", name, ee.Msg)
		}
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
	return 1
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "tend",
		Short:         "Run and supervise services described by systemd unit files",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate(versionTemplate)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	for _, add := range commandGroups {
		for _, c := range add(env) {
			root.AddCommand(c)
		}
	}
	addUnitCompletion(env, root)
	return root
}

// commandGroups lists the constructors of every command family; each family
// lives in its own file.
var commandGroups = []func(*Env) []*cobra.Command{
	daemonCommands,  // run.go: run
	controlCommands, // control.go: start, stop, status, list-units, …
	installCommands, // install.go: enable, disable, mask, …
	logCommands,     // logs.go: logs
	viewCommands,    // views.go: ps, tree, top, fds, inspect
	timeCommands,    // calendar.go: calendar, timespan
	svCommands,      // sv.go: sv
}
