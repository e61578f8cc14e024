package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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

func psCommand(env *Env) *cobra.Command {
	var o inspect.PsOptions
	d := &viewDaemon{}
	var pids []string
	var noHeader bool
	c := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List processes with the unit each belongs to",
		Long: "List processes like ps -ef, with a UNIT column. -o takes procps column names\n" +
			"(" + strings.Join(inspect.ColumnKeys(), ",") + ") or json.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.PIDs, err = parsePIDs(pids); err != nil {
				return err
			}
			o.Units = mangleAll(o.Units) // "web" is web.service, as for systemctl
			asJSON := false
			o.Columns, asJSON = stripJSON(o.Columns)
			t, err := inspect.Ps(cmd.Context(), newCollector(env, d), o)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if asJSON {
				return t.WriteJSON(env.Stdout)
			}
			return t.WriteText(env.Stdout, !noHeader)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.All, "every", "e", false, "select every process")
	f.BoolVarP(&o.All, "all", "A", false, "select every process (same as -e)")
	f.StringSliceVarP(&o.Users, "user", "u", nil, "select by effective user name or id")
	f.StringSliceVarP(&pids, "pid", "p", nil, "select by process id")
	f.StringSliceVar(&o.Units, "unit", nil, "select the processes of a unit")
	f.StringArrayVarP(&o.Columns, "format", "o", nil, "columns (procps names, comma separated) or json")
	f.StringSliceVar(&o.Sort, "sort", nil, "sort keys, -key for descending")
	f.BoolVar(&o.Daemons, "daemons", false, "only processes without a controlling terminal")
	f.BoolVar(&o.Zombies, "zombies", false, "only zombies, with the parent that has not reaped them")
	f.BoolVar(&o.Orphans, "orphans", false, "only processes adopted by PID 1 or a subreaper")
	f.BoolVar(&noHeader, "no-headers", false, "do not print the header line")
	d.register(c) // after -u/--user, which it must not shadow
	return c
}

// stripJSON removes "json" from -o lists and reports whether it was there.
func stripJSON(specs []string) ([]string, bool) {
	var out []string
	found := false
	for _, s := range specs {
		if strings.EqualFold(s, "json") {
			found = true
			continue
		}
		out = append(out, s)
	}
	return out, found
}

func parsePIDs(specs []string) ([]int, error) {
	var out []int
	for _, s := range specs {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid <= 0 {
				return nil, &ExitError{Code: 1, Msg: fmt.Sprintf("invalid process id %q", f)}
			}
			out = append(out, pid)
		}
	}
	return out, nil
}

// ctxOf returns the command's context or a background one in tests that
// call RunE directly.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
