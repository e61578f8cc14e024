package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/unit"
)

// Exit statuses of the control verbs, as systemctl(1) uses them (LSB).
const (
	exitFailure    = 1 // generic failure; is-failed: no unit failed
	exitNotRunning = 3 // status, is-active: unit not active
	exitNoSuchUnit = 4 // status: unknown unit; also "permission denied"
	exitNotLoaded  = 5 // start and friends: unit not loaded
)

// ctlFlags are the flags every control and install verb takes. They live
// on each command rather than on the root so that this file family does
// not reach into root.go.
type ctlFlags struct {
	user     bool
	socket   string
	output   string
	noBlock  bool
	quiet    bool
	noPager  bool
	noLegend bool
	root     string // unit-file verbs only: work on the files below this root
}

func (f *ctlFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&f.user, "user", false, "talk to the calling user's tend instead of the system's")
	fs.StringVar(&f.socket, "socket", "", "path of the control socket (default $TEND_SOCKET, else /run/tend/tend.sock, or tend/tend.sock in the runtime directory with --user)")
	fs.StringVarP(&f.output, "output", "o", "", "output format: json or json-pretty (default: text)")
	fs.BoolVar(&f.noBlock, "no-block", false, "do not wait for jobs to finish")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print less: no states, no symlink messages, no warnings")
	fs.BoolVar(&f.noPager, "no-pager", false, "accepted for compatibility; tend never pages")
	fs.BoolVar(&f.noLegend, "no-legend", false, "leave out column headers and the footer")
}

// addRoot adds --root to the verbs that work on unit files.
func (f *ctlFlags) addRoot(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.root, "root", "", "work on the unit files below this directory, without the daemon")
}

// ctl is one invocation of a control verb: where to print, how, and the
// client of the daemon.
type ctl struct {
	env   *Env
	f     *ctlFlags
	c     *client.Client
	color bool
}

func newCtl(env *Env, f *ctlFlags) (*ctl, error) {
	switch f.output {
	case "", "text", "json", "json-pretty":
	default:
		return nil, &ExitError{Code: exitFailure, Msg: fmt.Sprintf("unknown output format %q (json, json-pretty)", f.output)}
	}
	sock := f.socket
	if sock == "" {
		sock = client.DefaultSocket(f.user, env.Getenv)
	}
	return &ctl{env: env, f: f, c: client.New(sock), color: useColor(env)}, nil
}

// runCtl wraps a verb body: it builds the ctl, gives the body a context that
// ends on SIGINT/SIGTERM, and closes the client afterwards.
func runCtl(env *Env, f *ctlFlags, body func(ctx context.Context, x *ctl, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		x, err := newCtl(env, f)
		if err != nil {
			return err
		}
		defer x.c.Close()
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = body(ctx, x, args)
		if errors.Is(err, client.ErrNotRunning) {
			// Said plainly, without the "tend:" prefix of other errors.
			x.errf("%v\n", err)
			return &ExitError{Code: exitFailure}
		}
		return err
	}
}

func (x *ctl) json() bool { return strings.HasPrefix(x.f.output, "json") }

// printJSON writes v as JSON: one line for json, indented for json-pretty.
func (x *ctl) printJSON(v any) error {
	enc := json.NewEncoder(x.env.Stdout)
	if x.f.output == "json-pretty" {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func (x *ctl) outf(format string, args ...any) { fmt.Fprintf(x.env.Stdout, format, args...) }
func (x *ctl) errf(format string, args ...any) { fmt.Fprintf(x.env.Stderr, format, args...) }

// warnf prints a warning to stderr unless --quiet.
func (x *ctl) warnf(format string, args ...any) {
	if !x.f.quiet {
		x.errf(format, args...)
	}
}

// useColor says whether stdout is a terminal that wants color.
func useColor(env *Env) bool {
	if env.Getenv("NO_COLOR") != "" || env.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(env.Stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// mangle completes a unit name the way systemctl does ("web" is
// "web.service").
func mangle(name string) string { return unit.CompleteName(name) }

func mangleAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = mangle(n)
	}
	return out
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// expand completes names and replaces globs by the loaded units that
// match them, keeping the order given.
func (x *ctl) expand(ctx context.Context, names []string) ([]string, error) {
	var out, globs []string
	for _, n := range mangleAll(names) {
		if isGlob(n) {
			globs = append(globs, n)
		} else {
			out = append(out, n)
		}
	}
	if len(globs) == 0 {
		return out, nil
	}
	units, err := x.c.ListUnits(ctx, globs, true)
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		out = append(out, u.Name)
	}
	return out, nil
}

// status of a client error, 0 when it is not an answer of the daemon.
func statusOf(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// unitOf returns the unit an error concerns, or def.
func unitOf(err error, def string) string {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Unit != "" {
		return ce.Unit
	}
	var ue *api.UnitError
	if errors.As(err, &ue) && ue.Unit != "" {
		return ue.Unit
	}
	return def
}

// verbError reports a failed verb the way systemctl does ("Failed to start
// x.service: Unit x.service not found.") and returns the exit status.
func (x *ctl) verbError(verb, unit string, err error) error {
	unit = unitOf(err, unit)
	switch statusOf(err) {
	case http.StatusNotFound:
		what := "not found"
		if verb == "stop" || verb == "kill" {
			what = "not loaded"
		}
		x.errf("Failed to %s %s: Unit %s %s.\n", verb, unit, unit, what)
		return &ExitError{Code: exitNotLoaded}
	case http.StatusForbidden:
		x.errf("Failed to %s %s: %v\n", verb, unit, err)
		return &ExitError{Code: exitNoSuchUnit}
	}
	if errors.Is(err, client.ErrNotRunning) {
		return err
	}
	x.errf("Failed to %s %s: %v\n", verb, unit, err)
	return &ExitError{Code: exitFailure}
}

// requireArgs is cobra.MinimumNArgs with systemctl's wording.
func requireArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &ExitError{Code: exitFailure, Msg: fmt.Sprintf("%s: too few arguments", cmd.Name())}
		}
		return nil
	}
}
