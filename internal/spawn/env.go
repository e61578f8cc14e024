package spawn

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// DefaultPath is PATH for services when the manager's environment sets
// none, as in systemd.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// envList is an environment with unique keys that keeps the position of
// each key's first assignment; later assignments win.
type envList struct {
	keys []string
	vals map[string]string
}

// envSize is room for a usual process environment (PATH, the manager's
// variables, the user's, LISTEN_*), so that building one for each start
// does not grow the map and the list step by step.
const envSize = 16

func newEnvList() *envList {
	return &envList{keys: make([]string, 0, envSize), vals: make(map[string]string, envSize)}
}

func (e *envList) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

// setAll applies KEY=VALUE assignments; entries without "=" are skipped.
func (e *envList) setAll(kvs []string) {
	for _, kv := range kvs {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			e.set(k, v)
		}
	}
}

func (e *envList) unset(k string) { delete(e.vals, k) }

func (e *envList) list() []string {
	out := make([]string, 0, len(e.vals))
	for _, k := range e.keys {
		if v, ok := e.vals[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// BuildEnv computes the environment of the process, in systemd's order
// of precedence (later wins): PATH default, the manager's environment
// (Spec.Env: LANG, MAINPID, NOTIFY_SOCKET, LISTEN_FDS, INVOCATION_ID…),
// USER/LOGNAME/HOME/SHELL when a user is set, RUNTIME_DIRECTORY and
// friends, PassEnvironment=, Environment=, EnvironmentFile= (in order; a
// missing file fails unless "-"-prefixed), and finally
// UnsetEnvironment=, whose "VAR=VALUE" entries remove only that exact
// assignment. LISTEN_PID and WATCHDOG_PID are not set here: when
// LISTEN_FDS or WATCHDOG_USEC is, Start has the child add them with its
// own pid.
func BuildEnv(s Spec, user *UserInfo) ([]string, error) {
	ec := s.Exec
	if ec == nil {
		ec = &unit.ExecContext{}
	}
	env := newEnvList()
	env.set("PATH", DefaultPath)
	env.setAll(s.Env)
	if sp := ec.ProcSettings().ExecSearchPath; len(sp) > 0 {
		env.set("PATH", strings.Join(sp, ":"))
	}
	if len(ec.ProcSettings().Credentials) > 0 {
		env.set("CREDENTIALS_DIRECTORY", CredentialsDir(s.Dirs, s.Unit))
	}
	if user != nil {
		env.set("USER", user.Name)
		env.set("LOGNAME", user.Name)
		env.set("HOME", user.Home)
		env.set("SHELL", user.Shell)
	}
	for _, d := range dirKinds(ec, s.Dirs) {
		if len(d.spec.Paths) == 0 || d.base == "" {
			continue
		}
		paths := make([]string, len(d.spec.Paths))
		for i, p := range d.spec.Paths {
			paths[i] = filepath.Join(d.base, p)
		}
		slices.Sort(paths) // as systemd lists them
		env.set(d.envVar, strings.Join(paths, ":"))
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	for _, k := range ec.PassEnvironment {
		if v, ok := getenv(k); ok {
			env.set(k, v)
		}
	}
	env.setAll(ec.Environment)
	for _, ef := range ec.EnvironmentFiles {
		b, err := readRegular(ef.Path)
		if err != nil {
			if ef.Optional && os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("environment file: %w", err)
		}
		env.setAll(ParseEnvFile(string(b)))
	}
	for _, u := range ec.UnsetEnvironment {
		k, v, exact := strings.Cut(u, "=")
		if cur, ok := env.vals[k]; ok && (!exact || cur == v) {
			env.unset(k)
		}
	}
	return env.list(), nil
}

// ValidEnvName reports whether k is a usable variable name: letters,
// digits and underscores, not starting with a digit.
func ValidEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ExpandArgv substitutes environment variables in a command line as
// systemd does: a word that is exactly $VAR is replaced by VAR's value
// split at whitespace (zero or more words); ${VAR} inside a word is
// replaced in place, keeping one word, while $VAR inside a word is left
// as written; $$ is a literal $. Unset variables expand to nothing. A
// command line with no $ is returned as it is (callers must not change
// the result in place).
func ExpandArgv(argv []string, env []string) []string {
	if !slices.ContainsFunc(argv, func(w string) bool { return strings.Contains(w, "$") }) {
		return argv // nothing to expand: no map of env per start
	}
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vals[k] = v
		}
	}
	out := make([]string, 0, len(argv))
	for _, w := range argv {
		if name, ok := strings.CutPrefix(w, "$"); ok && ValidEnvName(name) {
			out = append(out, strings.Fields(vals[name])...)
			continue
		}
		out = append(out, expandWord(w, vals))
	}
	return out
}

func expandWord(w string, vals map[string]string) string {
	if !strings.Contains(w, "$") {
		return w
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		if w[i] != '$' || i+1 == len(w) {
			b.WriteByte(w[i])
			continue
		}
		switch next := w[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(w[i+2:], '}')
			if end < 0 || !ValidEnvName(w[i+2:i+2+end]) {
				b.WriteByte('$')
				continue
			}
			b.WriteString(vals[w[i+2:i+2+end]])
			i += 2 + end
		default: // $VAR inside a word stays as written, as in systemd
			b.WriteByte('$')
		}
	}
	return b.String()
}
