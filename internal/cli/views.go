package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/inspect"
	"github.com/tendproject/tend/internal/procfs"
)

// viewCommands are the /proc views: ps, tree, top, fds, inspect. They read
// /proc directly and work without a daemon; when one answers, it adds the
// units of processes the cgroups do not place.
func viewCommands(env *Env) []*cobra.Command {
	return []*cobra.Command{psCommand(env), treeCommand(env), topCommand(env), fdsCommand(env), inspectCommand(env)}
}

// procRoot is where the views read /proc; TEND_PROC overrides it so tests
// can point the commands at fixture trees.
func procRoot(env *Env) string {
	if env.Getenv != nil {
		if p := env.Getenv("TEND_PROC"); p != "" {
			return p
		}
	}
	return "/proc"
}

// viewDaemon says which tend the views ask for the units of processes
// their cgroups do not place (a non-root user instance has no cgroups),
// and which one top's stop and restart keys talk to.
type viewDaemon struct {
	user   bool
	socket string
}

func (d *viewDaemon) register(c *cobra.Command) {
	// ps has procps's -u/--user USER; there the instance flag is spelled out.
	name := "user"
	if c.Flags().Lookup("user") != nil {
		name = "user-instance"
	}
	c.Flags().BoolVar(&d.user, name, false, "ask the calling user's tend instance")
	c.Flags().StringVar(&d.socket, "socket", "", "path of the control socket (default /run/tend/tend.sock, or under $XDG_RUNTIME_DIR with --user)")
}

// client is the daemon's client. Nothing is dialled until a call; the
// views work without a daemon.
func (d *viewDaemon) client(env *Env) *client.Client {
	socket := d.socket
	if socket == "" {
		socket = client.DefaultSocket(d.user, env.Getenv)
	}
	return client.New(socket)
}

// newCollector reads procRoot; on the live /proc it also asks the daemon
// (a fixture tree, TEND_PROC, holds no live pids).
func newCollector(env *Env, d *viewDaemon) *inspect.Collector {
	var units inspect.UnitSource
	if procRoot(env) == "/proc" {
		units = viewClient{d.client(env)}
	}
	c := inspect.NewCollector(procfs.New(procRoot(env)).WithRawSyscalls(), units)
	if w, err := strconv.Atoi(env.Getenv("TEND_WORKERS")); err == nil {
		c.Workers = w
	}
	return c
}

// viewClient gives the client's SelfFDs the shape inspect.SelfFDSource
// asks for, so fds can name the daemon's descriptors.
type viewClient struct{ *client.Client }

func (c viewClient) SelfFDs(ctx context.Context) (int, map[int]string, error) {
	r, err := c.Client.SelfFDs(ctx)
	return r.PID, r.FDs, err
}

// psHelp is tend ps's help: the procps options it takes, and its own.
const psHelp = `List processes with the unit each belongs to.

Usage:
  tend ps [options]

Without format options tend ps prints ps -f's columns with a UNIT column
before the command; every procps format option prints exactly what procps
prints. Options are procps's, in its three styles:

UNIX:  -e -A (all)  -a -d -N  -p PIDS  -u USERS  -U USERS  -t TTYS  -C NAMES
       -s SIDS  -f -F -l -j -y -c -P  -L (threads)  -H (hierarchy)
       -o FORMAT (procps column names; key=HEADER, key:WIDTH)  -w -ww
BSD:   a x u j l f r h w T t TTY p PIDS U USERS o FORMAT k SORT  (aux, axjf, xf)
GNU:   --pid --ppid --sid --tty --user --User --format --sort --forest
       --cols N --deselect --no-headers --headers
tend:  --unit UNIT  --daemons  --zombies  --orphans  -o json
       --user-instance  --socket PATH (the daemon asked for units)

Columns: ` + "%s" + `
`

func psCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:                "ps [options]",
		Short:              "List processes with the unit each belongs to (procps options)",
		Long:               fmt.Sprintf(psHelp, strings.Join(inspect.ColumnKeys(), ",")),
		DisableFlagParsing: true, // procps's syntax is not cobra's: "aux", "-ef", "-o pid="
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(ctxOf(cmd), env, args)
		},
	}
}

func runPs(ctx context.Context, env *Env, args []string) error {
	d := &viewDaemon{}
	c := newCollector(env, d)
	c.ASCII = !inspect.UTF8Locale(env.Getenv)
	a, err := inspect.ParsePsArgs(args, inspect.PsArgsEnv{
		Screen:  screenWidth(env),
		Getenv:  env.Getenv,
		Lookup:  c.Users().Lookup,
		SelfTTY: inspect.SelfTTY(c),
	})
	var ue *inspect.PsUsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "error: %s\n%s", ue.Msg, inspect.PsUsage("tend ps"))
		return &ExitError{Code: 1}
	}
	if err != nil {
		return &ExitError{Code: 1, Msg: err.Error()}
	}
	switch {
	case a.Help:
		_, err := fmt.Fprintf(env.Stdout, psHelp, strings.Join(inspect.ColumnKeys(), ","))
		return err
	case a.Version:
		_, err := fmt.Fprintln(env.Stdout, "tend ps (procps options)")
		return err
	}
	if a.Socket != "" || a.UserIns {
		d.socket, d.user = a.Socket, a.UserIns
		c = newCollector(env, d)
		c.ASCII = !inspect.UTF8Locale(env.Getenv)
	}
	o := a.Options
	o.Units = mangleAll(o.Units) // "web" is web.service, as for systemctl
	t, err := inspect.Ps(ctx, c, o)
	if err != nil {
		return &ExitError{Code: 1, Msg: err.Error()}
	}
	if a.JSON {
		return t.WriteJSON(env.Stdout)
	}
	if err := t.WriteText(env.Stdout, !o.NoHeader); err != nil {
		return err
	}
	if len(t.Rows) == 0 {
		return &ExitError{Code: 1} // procps: nothing listed is a failure, without a message
	}
	return nil
}

// screenWidth is the width ps formats for: the terminal's when standard
// output is one, else unlimited, as procps decides it.
func screenWidth(env *Env) int {
	f, ok := env.Stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return inspect.Unlimited
	}
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		return w
	}
	return 80
}

// ctxOf returns the command's context or a background one in tests that
// call RunE directly.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
