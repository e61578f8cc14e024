package unit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
)

// execEntry handles the systemd.exec(5) settings tend implements.
func (c *converter) execEntry(e Entry) bool {
	x := &c.u.Service.Exec
	if name, ok := strings.CutPrefix(e.Key, "Limit"); ok {
		if _, known := rlimitKinds[name]; known {
			c.rlimit(e, name)
			return true
		}
		return false
	}
	if spec, isMode := c.dirSpec(e.Key); spec != nil {
		c.directories(e, spec, isMode)
		return true
	}
	switch e.Key {
	case "User", "Group":
		if v, ok := c.expand(e); ok {
			if err := checkUserName(v); err != nil {
				c.fatal(e, err)
				break
			}
			if e.Key == "User" {
				x.User = v
			} else {
				x.Group = v
			}
		}
	case "SupplementaryGroups":
		v, ok := c.expand(e)
		if !ok {
			break
		}
		if v == "" {
			x.SupplementaryGroups = nil
		}
		for _, g := range strings.Fields(v) {
			if err := checkUserName(g); err != nil {
				c.bad(e, err)
				continue
			}
			x.SupplementaryGroups = append(x.SupplementaryGroups, g)
		}
	case "DynamicUser":
		c.boolean(e, &x.DynamicUser)
	case "Environment":
		c.environment(e)
	case "EnvironmentFile":
		c.environmentFile(e)
	case "PassEnvironment", "UnsetEnvironment":
		c.envNames(e)
	case "WorkingDirectory":
		c.workingDirectory(e)
	case "RootDirectory":
		if v, ok := c.expand(e); ok {
			if v != "" && !filepath.IsAbs(v) {
				c.fatal(e, errors.New("path is not absolute"))
				break
			}
			x.RootDirectory = v
		}
	case "UMask":
		if m, err := ParseMode(e.Value); err != nil {
			c.bad(e, err)
		} else {
			x.UMask = m
		}
	case "Nice":
		var n int
		if c.integer(e, &n, -20, 19) {
			x.Nice = &n
		}
	case "OOMScoreAdjust":
		var n int
		if c.integer(e, &n, -1000, 1000) {
			x.OOMScoreAdjust = &n
		}
	case "RuntimeDirectoryPreserve":
		if v := strings.ToLower(e.Value); v == "restart" {
			x.RuntimeDirectoryPreserve = v
		} else if b, err := ParseBool(v); err != nil {
			c.bad(e, err)
		} else {
			x.RuntimeDirectoryPreserve = map[bool]string{true: "yes", false: "no"}[b]
		}
	default:
		// stdio first: the sandbox and process settings are made (~0.9 KB,
		// rareSettings) by the first key asked about, and a unit that sets
		// only its standard streams (every inetd instance, per
		// connection) then needs none.
		return c.stdio(e) || used(c.sandboxEntry(e), &c.sandboxSet) || used(c.procEntry(e), &c.procSet)
	}
	return true
}

// checkUserName accepts what systemd's relaxed user name check accepts
// (and numeric ids): no ':' or '/', no control characters, not "." or
// "..", not starting with '-'.
func checkUserName(s string) error {
	if s == "" {
		return nil
	}
	bad := len(s) > 256 || strings.ContainsAny(s, ":/") || s == "." || s == ".." || s[0] == '-'
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] < ' ' || s[i] == 0x7f
	}
	if bad {
		return fmt.Errorf("invalid user or group name %q", s)
	}
	return nil
}

// validEnvName reports whether s is a valid environment variable name.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ParseEnvironment splits the value of Environment= into KEY=VALUE
// assignments: words are separated by whitespace, quotes group, C escapes
// are decoded. Invalid assignments are returned separately.
func ParseEnvironment(s string) (assigns, invalid []string, err error) {
	ws, err := splitWords(s)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range ws {
		k, _, ok := strings.Cut(w, "=")
		if !ok || !validEnvName(k) {
			invalid = append(invalid, w)
			continue
		}
		assigns = append(assigns, w)
	}
	return assigns, invalid, nil
}

func (c *converter) environment(e Entry) {
	x := &c.u.Service.Exec
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if v == "" {
		x.Environment = nil
		return
	}
	assigns, invalid, err := ParseEnvironment(v)
	if err != nil {
		c.bad(e, err)
		return
	}
	for _, w := range invalid {
		c.diag(e, Error, "invalid environment assignment %q, ignoring", w)
	}
	x.Environment = append(x.Environment, assigns...)
}

func (c *converter) environmentFile(e Entry) {
	x := &c.u.Service.Exec
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if v == "" {
		x.EnvironmentFiles = nil
		return
	}
	f := EnvFile{Path: v}
	if rest, ok := strings.CutPrefix(v, "-"); ok {
		f = EnvFile{Path: rest, Optional: true}
	}
	if !filepath.IsAbs(f.Path) {
		c.bad(e, fmt.Errorf("path %q is not absolute", f.Path))
		return
	}
	x.EnvironmentFiles = append(x.EnvironmentFiles, f)
}

func (c *converter) envNames(e Entry) {
	x := &c.u.Service.Exec
	dst := &x.PassEnvironment
	if e.Key == "UnsetEnvironment" {
		dst = &x.UnsetEnvironment
	}
	ws, ok := c.words(e)
	if !ok {
		return
	}
	if len(ws) == 0 {
		*dst = nil
	}
	for _, w := range ws {
		name, _, _ := strings.Cut(w, "=")
		if !validEnvName(name) || e.Key == "PassEnvironment" && strings.Contains(w, "=") {
			c.diag(e, Error, "%s=: invalid variable %q, ignoring", e.Key, w)
			continue
		}
		*dst = append(*dst, w)
	}
}

func (c *converter) workingDirectory(e Entry) {
	x := &c.u.Service.Exec
	v, ok := c.expand(e)
	if !ok {
		return
	}
	opt := false
	if rest, ok := strings.CutPrefix(v, "-"); ok {
		v, opt = rest, true
	}
	if v != "" && v != "~" && !filepath.IsAbs(v) {
		c.fatal(e, fmt.Errorf("path %q is neither absolute nor ~", v))
		return
	}
	x.WorkingDirectory, x.WorkingDirectoryOptional = v, opt
}

func (c *converter) rlimit(e Entry, name string) {
	r, err := ParseRlimit(name, e.Value)
	if err != nil {
		c.bad(e, err)
		return
	}
	x := &c.u.Service.Exec
	if x.Limits == nil {
		x.Limits = map[string]Rlimit{}
	}
	x.Limits[name] = r
}

// dirSpec maps RuntimeDirectory= and friends (and their *Mode=) to the
// DirSpec they fill.
func (c *converter) dirSpec(key string) (*DirSpec, bool) {
	x := &c.u.Service.Exec
	base, isMode := strings.CutSuffix(key, "Mode")
	m := map[string]*DirSpec{
		"RuntimeDirectory": &x.RuntimeDirectory, "StateDirectory": &x.StateDirectory,
		"CacheDirectory": &x.CacheDirectory, "LogsDirectory": &x.LogsDirectory,
		"ConfigurationDirectory": &x.ConfigurationDirectory,
	}
	return m[base], isMode
}

func (c *converter) directories(e Entry, spec *DirSpec, isMode bool) {
	if isMode {
		m, err := ParseMode(e.Value)
		if err != nil {
			c.bad(e, err)
			return
		}
		spec.Mode = m
		return
	}
	ws, ok := c.words(e)
	if !ok {
		return
	}
	if len(ws) == 0 {
		spec.Paths = nil
	}
	for _, w := range ws {
		p, link, _ := strings.Cut(w, ":") // "path:symlink" form
		p, ok := normalizeDirPath(p)
		if !ok {
			c.diag(e, Error, "%s=: %q is not a relative path below the base directory, ignoring", e.Key, w)
			continue
		}
		spec.Paths = append(spec.Paths, p)
		if link != "" {
			spec.Links = append(spec.Links, DirLink{Path: p, Link: link})
		}
	}
}

// normalizeDirPath simplifies a RuntimeDirectory= (and friends) path as
// systemd does before checking it — "a//b/./c/" is "a/b/c" — and refuses
// absolute paths and ".." components, which would leave the base.
func normalizeDirPath(p string) (string, bool) {
	if p == "" || filepath.IsAbs(p) {
		return "", false
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", false
		}
	}
	clean := filepath.Clean(p)
	return clean, clean != "."
}

// stdio handles StandardInput/Output/Error=, TTYPath= and the Syslog*=.
func (c *converter) stdio(e Entry) bool {
	x := &c.u.Service.Exec
	var dst *string
	var allowed []string
	switch e.Key {
	case "StandardInput":
		dst, allowed = &x.StandardInput, []string{"null", "tty", "tty-force", "tty-fail", "data", "socket", "file:", "fd:"}
	case "StandardOutput":
		dst, allowed = &x.StandardOutput, []string{"inherit", "null", "tty", "journal", "kmsg", "journal+console", "kmsg+console", "syslog", "syslog+console", "socket", "file:", "append:", "truncate:", "fd:"}
	case "StandardError":
		dst, allowed = &x.StandardError, []string{"inherit", "null", "tty", "journal", "kmsg", "journal+console", "kmsg+console", "syslog", "syslog+console", "socket", "file:", "append:", "truncate:", "fd:"}
	case "TTYPath", "SyslogIdentifier", "SyslogFacility", "SyslogLevel":
		v, ok := c.expand(e)
		if ok {
			*map[string]*string{"TTYPath": &x.TTYPath, "SyslogIdentifier": &x.SyslogIdentifier,
				"SyslogFacility": &x.SyslogFacility, "SyslogLevel": &x.SyslogLevel}[e.Key] = v
		}
		return true
	case "SyslogLevelPrefix":
		c.boolean(e, &x.SyslogLevelPrefix)
		return true
	case "StandardInputText", "StandardInputData":
		c.inputData(e)
		return true
	default:
		return false
	}
	v, ok := c.expand(e)
	if !ok {
		return true
	}
	for _, a := range allowed {
		if strings.HasSuffix(a, ":") && strings.HasPrefix(v, a) {
			if a != "fd:" && !filepath.IsAbs(v[len(a):]) {
				break
			}
			*dst = v
			return true
		}
		if v == a {
			*dst = v
			return true
		}
	}
	c.bad(e, fmt.Errorf("unknown value %q", v))
	return true
}

// inputData appends StandardInputText= (specifiers and C escapes
// resolved, then a newline) or StandardInputData= (base64, whitespace
// ignored) to the unit's standard input buffer; an empty value clears
// it, as systemd.exec(5) says.
func (c *converter) inputData(e Entry) {
	x := &c.u.Service.Exec
	if e.Value == "" {
		x.StandardInputData = nil
		return
	}
	if e.Key == "StandardInputData" {
		clean := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, e.Value)
		b, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			c.bad(e, fmt.Errorf("not base64: %w", err))
			return
		}
		x.StandardInputData = append(x.StandardInputData, b...)
		return
	}
	v, ok := c.expand(e)
	if !ok {
		return
	}
	text, err := unescapeAll(v)
	if err != nil {
		c.bad(e, err)
		return
	}
	x.StandardInputData = append(append(x.StandardInputData, text...), '\n')
}
