package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// This file turns `tend logs`'s words into flags and matches the way
// journalctl's getopt would: combined short flags ("-xeu X"), optional
// values for -n and -b, and getopt's messages for bad options.

// checkOptions finds the first word getopt would refuse and says so in
// getopt's words, which journalctl prints: "unrecognized option '--foo'",
// "invalid option -- 'Z'", "option requires an argument -- 'o'".
func checkOptions(fs *pflag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			fl := fs.Lookup(name)
			if fl == nil {
				return fmt.Errorf("unrecognized option '%s'", a)
			}
			if !takesValue(fl) {
				if hasValue {
					return fmt.Errorf("option '--%s' doesn't allow an argument", name)
				}
				continue
			}
			if !hasValue {
				if i+1 >= len(args) {
					return fmt.Errorf("option '--%s' requires an argument", name)
				}
				i++
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				var fl *pflag.Flag
				if c < 0x80 && c != '-' && c != '=' {
					fl = fs.ShorthandLookup(string(c))
				}
				if fl == nil {
					return fmt.Errorf("invalid option -- '%c'", c)
				}
				if !takesValue(fl) {
					continue
				}
				if j+1 == len(a) {
					if i+1 >= len(args) {
						return fmt.Errorf("option requires an argument -- '%c'", c)
					}
					i++
				}
				break
			}
		}
	}
	return nil
}

func takesValue(fl *pflag.Flag) bool {
	return fl.NoOptDefVal == "" && fl.Value.Type() != "bool"
}

// optionalValues rewrites the optional-valued flags -n/--lines (default
// 10) and -b/--boot (default: current boot) so the value, when the next
// word is one, is attached: "-n 20" → "--lines=20", "-n" → "--lines=10",
// "-b -1" → "--boot=-1", "-b" → "--boot=0".
func optionalValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		var name, def string
		switch a {
		case "-n", "--lines":
			name, def = "--lines", "10"
		case "-b", "--boot":
			name, def = "--boot", "0"
		default:
			if v, ok := strings.CutPrefix(a, "-n"); ok && v != "" && !strings.HasPrefix(v, "=") {
				a = "--lines=" + v // "-n20"
			}
			out = append(out, a)
			continue
		}
		val := def
		if i+1 < len(args) && isOptionalValue(name, args[i+1]) {
			val = args[i+1]
			i++
		}
		if name == "--lines" && val == "all" {
			val = "-1"
		}
		out = append(out, name+"="+val)
	}
	return out
}

// isOptionalValue says whether word is a value of the optional flag name
// rather than the next flag or argument.
func isOptionalValue(name, word string) bool {
	if _, err := strconv.Atoi(word); err == nil || name == "--lines" && word == "all" {
		return true
	}
	if name != "--boot" || len(word) < 32 {
		return false
	}
	for _, c := range strings.ReplaceAll(word, "-", "") {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// splitFields splits --output-fields' comma-separated list.
func splitFields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
