package syslogconf

import (
	"fmt"
	"net"
	"strings"
)

// Kind is what a rule does with the messages it selects.
type Kind int

// Kinds of rule.
const (
	File       Kind = iota // append to Path
	Pipe                   // write to the named pipe Path ("|/path")
	ForwardUDP             // send to Address over UDP ("@host")
	ForwardTCP             // send to Address over TCP ("@@host")
	Wall                   // every logged-in user's terminals ("*")
	Users                  // the terminals of Users ("root,alice")
	Discard                // "~" or "stop": later rules do not see it
)

var kindNames = [...]string{"file", "pipe", "udp", "tcp", "wall", "users", "discard"}

func (k Kind) String() string { return kindNames[k] }

// Rule is one selector line.
type Rule struct {
	Origin   string // "file:line", for messages about the rule
	Selector Selector
	Kind     Kind
	// Path is the file or named pipe (absolute).
	Path string
	// NoSync is the "-" before a file: no fsync after each write.
	NoSync bool
	// Address is host:port of a forwarding rule (port 514 by default).
	Address string
	// Users are the user names of a Users rule.
	Users []string
}

// parseAction parses the action field of a selector line into r. It
// returns the name of a template the action names, which tend cannot
// apply, or "".
func parseAction(r *Rule, a string) (template string, err error) {
	if strings.HasPrefix(a, "action(") {
		return "", fmt.Errorf("RainerScript action() is not supported; write a legacy action (/path, -/path, |pipe, @host, @@host, *, users)")
	}
	// rsyslog appends ";TemplateName" to file and forwarding actions.
	if i := strings.LastIndexByte(a, ';'); i > 0 && (a[0] == '/' || a[0] == '-' || a[0] == '@' || a[0] == '|') {
		a, template = a[:i], a[i+1:]
	}
	switch {
	case a == "~" || a == "stop":
		r.Kind = Discard
	case a == "*" || a == ":omusrmsg:*":
		r.Kind = Wall
	case strings.HasPrefix(a, ":omusrmsg:"):
		return template, parseUsers(r, strings.TrimPrefix(a, ":omusrmsg:"))
	case strings.HasPrefix(a, ":"):
		return "", fmt.Errorf("output module %q is not supported", a)
	case strings.HasPrefix(a, "@@"):
		r.Kind = ForwardTCP
		r.Address, err = forwardAddress(a[2:])
	case strings.HasPrefix(a, "@"):
		r.Kind = ForwardUDP
		r.Address, err = forwardAddress(a[1:])
	case strings.HasPrefix(a, "|"):
		r.Kind, r.Path = Pipe, a[1:]
		err = absPath(r.Path)
	case strings.HasPrefix(a, "-/"):
		r.Kind, r.Path, r.NoSync = File, a[1:], true
	case strings.HasPrefix(a, "/"):
		r.Kind, r.Path = File, a
	default:
		return template, parseUsers(r, a)
	}
	return template, err
}

func absPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q: want an absolute path", p)
	}
	return nil
}

// forwardAddress parses "host", "host:port" or "[v6]:port"; rsyslog's
// "(o)" and "(z9)" options are refused rather than ignored.
func forwardAddress(s string) (string, error) {
	if strings.HasPrefix(s, "(") {
		return "", fmt.Errorf("forwarding options %q are not supported", s)
	}
	if s == "" {
		return "", fmt.Errorf("forwarding rule without a host")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("forwarding address %q: want HOST[:PORT]", s)
		}
		return s, nil
	}
	if strings.ContainsAny(s, "[]") || strings.Count(s, ":") == 1 {
		return "", fmt.Errorf("forwarding address %q: want HOST[:PORT]", s)
	}
	return net.JoinHostPort(s, "514"), nil
}

// parseUsers parses "name[,name…]".
func parseUsers(r *Rule, s string) error {
	r.Kind = Users
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if !validUser(u) {
			return fmt.Errorf("action %q: not a path, pipe, @host, * or user name", s)
		}
		r.Users = append(r.Users, u)
	}
	return nil
}

// validUser accepts the portable user name characters.
func validUser(u string) bool {
	if u == "" || len(u) > 32 || u[0] == '-' {
		return false
	}
	for _, c := range []byte(u) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '$') {
			return false
		}
	}
	return true
}

// Selects reports whether rule i of c takes a message of facility fac and
// priority pri: its selector matches and no discard rule before it
// ("~", "stop") took the message away.
func (c *Config) Selects(i, fac, pri int) bool {
	if !c.Rules[i].Selector.Match(fac, pri) {
		return false
	}
	for _, r := range c.Rules[:i] {
		if r.Kind == Discard && r.Selector.Match(fac, pri) {
			return false
		}
	}
	return true
}
