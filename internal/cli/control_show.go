package cli

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func showCommand(env *Env) *cobra.Command {
	f := &ctlFlags{}
	var props, onlyValue []string
	var value, all bool
	cmd := &cobra.Command{
		Use:   "show UNIT...",
		Short: "Show properties of units",
		Args:  requireArgs(1),
	}
	cmd.RunE = runCtl(env, f, func(ctx context.Context, x *ctl, args []string) error {
		names, err := x.expand(ctx, args)
		if err != nil {
			return err
		}
		want := splitList(append(props, onlyValue...))
		value = value || len(onlyValue) > 0
		var maps []map[string]string
		for _, n := range names {
			p, err := x.c.Show(ctx, n)
			if statusOf(err) == http.StatusNotFound {
				p, err = notFoundProps(unitOf(err, n)), nil
			}
			if err != nil {
				return err
			}
			maps = append(maps, selectProps(p, want, all))
		}
		if x.json() {
			return x.printJSON(maps)
		}
		for i, p := range maps {
			if i > 0 && !value {
				x.outf("\n")
			}
			for _, k := range propOrder(p, want) {
				// A directive with several commands (ExecStartPre=) is
				// one line per command, as systemctl prints it.
				for _, v := range strings.Split(p[k], "\n") {
					if value {
						x.outf("%s\n", v)
					} else {
						x.outf("%s=%s\n", k, v)
					}
				}
			}
		}
		return nil
	})
	f.add(cmd)
	cmd.Flags().StringSliceVarP(&props, "property", "p", nil, "show only these properties (comma-separated, repeatable)")
	cmd.Flags().StringSliceVarP(&onlyValue, "P", "P", nil, "show only the value of this property (-p PROP --value)")
	cmd.Flags().BoolVar(&value, "value", false, "print only the values, without NAME=")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include properties with empty values")
	cmd.Flags().Lookup("P").Hidden = true
	return cmd
}

// notFoundProps is what systemctl shows of a unit it has no file for: a
// unit that exists only as a name, not loaded, inactive.
func notFoundProps(name string) map[string]string {
	return map[string]string{
		"Id": name, "Names": name, "Description": name,
		"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead",
		"FreezerState": "running", "UnitFileState": "", "FragmentPath": "", "DropInPaths": "",
		"LoadError": fmt.Sprintf("org.freedesktop.systemd1.NoSuchUnit \"Unit %s not found.\"", name),
		"Result":    "success", "MainPID": "0", "ControlPID": "0", "NRestarts": "0",
		"StateChangeTimestamp": "", "InvocationID": "", "Job": "",
	}
}

// selectProps keeps the wanted properties (all when want is empty); empty
// values are left out unless all or asked for by name, as systemctl does.
func selectProps(p map[string]string, want []string, all bool) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		asked := containsAny(want, k)
		if len(want) > 0 && !asked {
			continue
		}
		if v == "" && !all && !asked {
			continue
		}
		out[k] = v
	}
	return out
}

// propOrder lists keys in the order asked for, or sorted.
func propOrder(p map[string]string, want []string) []string {
	if len(want) > 0 {
		var keys []string
		for _, k := range want {
			if _, ok := p[k]; ok && !containsAny(keys, k) {
				keys = append(keys, k)
			}
		}
		return keys
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
