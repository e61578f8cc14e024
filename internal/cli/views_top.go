package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/inspect"
)

// unitControl is what top's s/r/k keys need from the daemon
// (api.Manager, through internal/client, satisfies it).
type unitControl interface {
	Stop(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error)
	Restart(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error)
	Kill(ctx context.Context, names []string, who string, sig int) error
}

type topFlags struct {
	batch    bool
	iter     int
	delay    float64
	output   string
	sortKey  string
	rows     int
	view     inspect.TopView
	utmpPath string
}

func topCommand(env *Env) *cobra.Command {
	var o topFlags
	d := &viewDaemon{}
	c := &cobra.Command{
		Use:   "top",
		Short: "Show processes or units by resource use, refreshed (interactive, or -b batch)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.delay <= 0 {
				return &ExitError{Code: 1, Msg: fmt.Sprintf("invalid delay %v: must be positive", o.delay)}
			}
			if err := setSortKey(&o.view, o.sortKey); err != nil {
				return err
			}
			top := inspect.NewTop(newCollector(env, d), o.utmpPath)
			defer top.Close()
			if o.view.Args {
				top.Need |= inspect.NeedArgs
			}
			in, inOK := env.Stdin.(*os.File)
			out, outOK := env.Stdout.(*os.File)
			if o.batch || o.output == "json" || !inOK || !outOK || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
				if !o.batch && o.iter == 0 {
					o.iter = 1
				}
				return runTopBatch(ctxOf(cmd), env, top, o)
			}
			return runTopInteractive(ctxOf(cmd), in, out, top, o, d.client(env))
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.batch, "batch", "b", false, "batch mode: print frames as plain text")
	f.IntVarP(&o.iter, "iterations", "n", 0, "number of frames, 0 for no limit")
	f.Float64VarP(&o.delay, "delay", "d", 2, "seconds between frames")
	f.StringVarP(&o.output, "output", "o", "text", "text or json (batch)")
	f.StringVar(&o.sortKey, "sort", "%CPU", "sort column: PID USER VIRT RES %CPU %MEM TIME+ UNIT COMMAND")
	f.BoolVar(&o.view.Tree, "tree", false, "show processes as a forest")
	f.BoolVar(&o.view.ByUnit, "units", false, "one row per unit")
	f.BoolVarP(&o.view.Args, "command-lines", "c", false, "show full command lines")
	f.IntVar(&o.rows, "rows", 0, "rows to print in batch mode, 0 for all")
	f.StringVar(&o.utmpPath, "utmp", "/run/utmp", "login records, for the user count")
	_ = f.MarkHidden("utmp")
	d.register(c)
	return c
}

func setSortKey(v *inspect.TopView, name string) error {
	for k := inspect.TopKey(0); k.String() != "" && k <= inspect.SortCommand; k++ {
		if k.String() == name || "-"+k.String() == name {
			v.Sort = k
			return nil
		}
	}
	return &ExitError{Code: 1, Msg: fmt.Sprintf("unknown sort column %q", name)}
}

// runTopBatch prints o.iter frames (0: until interrupted), o.delay apart.
func runTopBatch(ctx context.Context, env *Env, top *inspect.Top, o topFlags) error {
	o.view.Rows = o.rows
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; o.iter == 0 || i < o.iter; i++ {
		if i > 0 {
			timer.Reset(time.Duration(o.delay * float64(time.Second)))
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		f, err := top.Sample(ctx)
		if err != nil {
			return &ExitError{Code: 1, Msg: err.Error()}
		}
		if o.output == "json" {
			f.Rows = f.Arrange(o.view)
			if err := enc.Encode(f); err != nil {
				return err
			}
			continue
		}
		if err := f.WriteBatch(env.Stdout, o.view); err != nil {
			return err
		}
	}
	return nil
}
