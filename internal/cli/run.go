package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendproject/tend/internal/daemon"
)

func daemonCommands(env *Env) []*cobra.Command {
	var (
		user     bool
		units    []string
		target   string
		exitWith string
		logLevel string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the service manager in the foreground",
		Long: `Run the service manager in the foreground: load the unit files, start the
default target (or --target) in dependency order, supervise, and on SIGTERM or
SIGINT stop every unit in reverse order and exit.

As root without --units it reads the standard unit directories
(/etc/tend/units, /etc/systemd/system, /run/systemd/system, /lib/systemd/system,
/usr/lib/systemd/system, …). Run as another user, or with --user, it is that
user's instance (XDG directories, socket in $XDG_RUNTIME_DIR/tend).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !user && os.Getuid() != 0 {
				user = true
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return &ExitError{Code: 2, Msg: fmt.Sprintf("--log-level: %v", err)}
			}
			dirs := make([]string, 0, len(units))
			for _, u := range units {
				abs, err := filepath.Abs(u)
				if err != nil {
					return err
				}
				dirs = append(dirs, abs)
			}
			cfg := daemon.Config{
				User:            user,
				UnitDirs:        dirs,
				Paths:           daemon.DefaultPaths(user, env.Getenv),
				Target:          completeUnitName(target),
				ExitWith:        exitWithName(exitWith),
				ShutdownTimeout: timeout,
				Logger:          slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl})),
				Getenv:          env.Getenv,
			}
			code, err := daemon.Run(context.Background(), cfg)
			if err != nil {
				return &ExitError{Code: 1, Msg: err.Error()}
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&user, "user", false, "run the calling user's instance")
	f.StringArrayVar(&units, "units", nil, "read units from `DIR` instead of the standard directories (repeatable)")
	f.StringVar(&target, "target", "default.target", "`UNIT` to start at boot")
	f.StringVar(&exitWith, "exit-with", "", "exit when `UNIT` stops, with its exit status (container mode)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&timeout, "shutdown-timeout", 90*time.Second, "bound on the orderly stop at exit")
	return []*cobra.Command{cmd}
}

func exitWithName(s string) string {
	if s == "" {
		return ""
	}
	return completeUnitName(s)
}

// completeUnitName adds ".service" to a bare name, as systemctl does.
func completeUnitName(s string) string {
	for _, k := range []string{".service", ".socket", ".target", ".timer", ".path", ".mount", ".slice", ".scope", ".device", ".swap", ".automount"} {
		if strings.HasSuffix(s, k) {
			return s
		}
	}
	return s + ".service"
}
