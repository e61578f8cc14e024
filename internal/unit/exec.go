package unit

import (
	"errors"
	"fmt"
	"strings"
)

// ParseExecLine parses the value of an Exec*= directive (after specifier
// expansion) per systemd.service(5) "Command lines": optional prefixes
// "-@:+!" and "!!" before the executable, quoting and C escapes, and
// several commands separated by a lone ";" word ("\;" is a literal
// semicolon argument). An empty value yields no commands. $VAR and
// ${VAR} references are left for run time.
func ParseExecLine(value string) ([]Command, error) {
	cmds, _, err := parseExecLine(value, nil)
	return cmds, err
}

// parseExecLine is ParseExecLine that also counts unknown escapes, kept
// literally as systemd does after warning about them. A non-nil expand
// resolves specifiers in each word once the line is split, as systemd
// does: a specifier that resolves to "" or to text with blanks stays one
// argument.
func parseExecLine(value string, expand func(string) (string, error)) ([]Command, int, error) {
	var cmds []Command
	relaxed := 0
	s := value
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return cmds, relaxed, nil
		}
		cmd, rest, err := parseOneCommand(s, &relaxed, expand)
		if err != nil {
			return nil, 0, err
		}
		if cmd != nil {
			cmds = append(cmds, *cmd)
		}
		s = rest
	}
}

// startsWithWord reports whether s starts with the word w followed by
// whitespace or the end.
func startsWithWord(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || s[len(w)] == ' ' || s[len(w)] == '\t')
}

func parseOneCommand(s string, relaxed *int, expand func(string) (string, error)) (*Command, string, error) {
	if startsWithWord(s, ";") {
		return nil, s[1:], nil
	}
	var c Command
	i := 0
prefixes:
	for ; i < len(s); i++ {
		switch s[i] {
		case '-':
			c.IgnoreFailure = true
		case '@':
			c.ArgvZero = true
		case ':':
			c.NoEnvExpand = true
		case '+':
			c.FullPrivilege = true
		case '!':
			if c.NoSetuid {
				c.NoSetuid, c.AmbientOnly = false, true
			} else if c.AmbientOnly {
				return nil, "", errors.New("too many '!' prefixes")
			} else {
				c.NoSetuid = true
			}
		default:
			break prefixes
		}
	}
	if c.FullPrivilege && (c.NoSetuid || c.AmbientOnly) {
		return nil, "", errors.New("prefix '+' cannot be combined with '!' or '!!'")
	}
	s = s[i:]
	var words []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" || startsWithWord(s, ";") {
			break
		}
		if startsWithWord(s, `\;`) {
			words = append(words, ";")
			s = s[2:]
			continue
		}
		w, rest, ok, err := nextWord(s, relaxed)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			break
		}
		if expand != nil {
			if w, err = expand(w); err != nil {
				return nil, "", err
			}
		}
		words = append(words, w)
		s = rest
	}
	if len(words) == 0 {
		return nil, "", errors.New("empty executable name")
	}
	c.Path = words[0]
	if c.ArgvZero {
		if len(words) < 2 {
			return nil, "", errors.New("prefix '@' needs argv[0] after the executable")
		}
		c.Argv = words[1:]
	} else {
		c.Argv = words
	}
	if err := checkExecPath(c.Path); err != nil {
		return nil, "", err
	}
	return &c, s, nil
}

// checkExecPath accepts an absolute path, or a bare file name that is
// looked up in the fixed search path at run time (as systemd ≥ 239 does).
func checkExecPath(p string) error {
	if p == "" {
		return errors.New("empty executable name")
	}
	if strings.ContainsRune(p, 0) {
		return errors.New("executable name contains NUL")
	}
	if !strings.HasPrefix(p, "/") && strings.Contains(p, "/") {
		return fmt.Errorf("executable path %q is neither absolute nor a plain file name", p)
	}
	if strings.HasSuffix(p, "/") {
		return fmt.Errorf("executable path %q is a directory", p)
	}
	return nil
}
