package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"
)

// Multi-call: a container image can link systemctl and journalctl to tend,
// and scripts written for systemd keep working. Called as systemctl, tend
// is its own client (`systemctl X` is `tend X`); as journalctl, it is
// `tend logs`; as sv, it is runit's sv (`tend sv`, sv.go).

// callName is the tool argv0 asks tend to be: "systemctl", "journalctl",
// or "tend" for any other name.
func callName(argv0 string) string {
	switch b := filepath.Base(argv0); b {
	case "systemctl", "journalctl", "sv":
		return b
	}
	return "tend"
}

// commandFor returns the command to execute for the name tend was called
// by, with usage and help in that tool's name.
func commandFor(env *Env, name string) *cobra.Command {
	root := newRoot(env)
	switch name {
	case "systemctl":
		root.Use = "systemctl"
		root.Short = "tend's control client, called as systemctl"
		root.Long = "This is tend (" + versionString() + "), called as systemctl: `systemctl VERB …` is `tend VERB …`,\n" +
			"talking to tend's service manager instead of systemd."
	case "journalctl":
		logs, _, err := root.Find([]string{"logs"})
		if err != nil || logs == root {
			return root
		}
		root.RemoveCommand(logs)
		logs.Use = "journalctl [flags]"
		logs.Long = "This is tend (" + versionString() + "), called as journalctl: `journalctl …` is `tend logs …`,\n" +
			"reading tend's journal instead of systemd's.\n\n" + logs.Short
		logs.SilenceUsage, logs.SilenceErrors = true, true
		logs.SetIn(env.Stdin)
		logs.SetOut(env.Stdout)
		logs.SetErr(env.Stderr)
		return logs
	}
	return root
}
