package condition

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// systemIDMax is the highest UID/GID of the system range (SYS_UID_MAX of
// login.defs as systemd is usually built).
const systemIDMax = 999

func (e *evaluator) testUser(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty user")
	}
	if arg == "@system" {
		return e.env.UID <= systemIDMax && e.env.GID <= systemIDMax, nil
	}
	if uid, err := strconv.Atoi(arg); err == nil {
		return uid == e.env.UID, nil
	}
	if e.env.User != "" {
		return arg == e.env.User, nil
	}
	uid, ok := e.lookupID("etc/passwd", arg)
	return ok && uid == e.env.UID, nil
}

func (e *evaluator) testGroup(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty group")
	}
	gid, err := strconv.Atoi(arg)
	if err != nil {
		var ok bool
		if gid, ok = e.lookupID("etc/group", arg); !ok {
			return false, nil
		}
	}
	if gid == e.env.GID {
		return true, nil
	}
	for _, g := range e.env.Groups {
		if g == gid {
			return true, nil
		}
	}
	return false, nil
}

// lookupID finds name in a passwd(5) or group(5) file under Root and
// returns its numeric ID (third field in both).
func (e *evaluator) lookupID(file, name string) (int, bool) {
	f, err := os.Open(filepath.Join(e.env.Root, file))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			id, err := strconv.Atoi(fields[2])
			return id, err == nil
		}
	}
	return 0, false
}

// testHost matches a hostname glob, or a machine ID when arg is one.
func (e *evaluator) testHost(arg string) (bool, error) {
	if id, ok := machineID(arg); ok {
		have := e.env.MachineID
		if have == "" {
			have, _ = readTrim(filepath.Join(e.env.Root, "etc/machine-id"))
		}
		return strings.EqualFold(id, have), nil
	}
	host := e.env.Hostname
	if host == "" {
		host, _ = readTrim(filepath.Join(e.env.Proc, "sys/kernel/hostname"))
	}
	return fnmatch(strings.ToLower(arg), strings.ToLower(host))
}

// machineID reports whether s is a machine ID (32 hex digits, or a UUID
// with dashes) and returns it without dashes.
func machineID(s string) (string, bool) {
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return "", false
	}
	for _, c := range []byte(s) {
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", false
		}
	}
	return s, true
}

func (e *evaluator) testEnvironment(arg string) (bool, error) {
	if arg == "" {
		return false, fmt.Errorf("empty environment condition")
	}
	exact := strings.Contains(arg, "=")
	for _, kv := range e.env.Environ {
		if exact && kv == arg || !exact && strings.HasPrefix(kv, arg+"=") {
			return true, nil
		}
	}
	return false, nil
}

func (e *evaluator) testCredential(arg string) (bool, error) {
	if arg == "" || arg == "." || arg == ".." || strings.Contains(arg, "/") {
		return false, fmt.Errorf("invalid credential name %q", arg)
	}
	if e.env.CredentialsDir == "" {
		return false, nil
	}
	_, err := os.Stat(filepath.Join(e.env.CredentialsDir, arg))
	return err == nil, nil
}

func (e *evaluator) testFirstBoot(arg string) (bool, error) {
	want, err := parseBool(arg)
	if err != nil {
		return false, err
	}
	first := e.env.FirstBoot
	if v, ok := e.cmdlineValue("systemd.condition-first-boot"); ok {
		if b, err := parseBool(v); err == nil {
			first = b
		}
	}
	return first == want, nil
}

// testNeedsUpdate: tend does not run offline updates of /etc or /var, so
// nothing needs one, unless the kernel command line says otherwise.
func (e *evaluator) testNeedsUpdate(arg string) (bool, error) {
	if !filepath.IsAbs(arg) {
		return false, fmt.Errorf("path %q is not absolute", arg)
	}
	if v, ok := e.cmdlineValue("systemd.condition-needs-update"); ok {
		if b, err := parseBool(v); err == nil {
			return b, nil
		}
	}
	return false, nil
}

// testOSRelease checks whitespace-separated KEY<op>VALUE expressions
// against os-release(5) under Root; all must hold.
func (e *evaluator) testOSRelease(arg string) (bool, error) {
	exprs := words(arg)
	if len(exprs) == 0 {
		return false, fmt.Errorf("empty os-release condition")
	}
	rel := e.osRelease()
	for _, x := range exprs {
		i := strings.IndexAny(x, "=!<>$")
		if i <= 0 {
			return false, fmt.Errorf("bad os-release expression %q", x)
		}
		o, want := cutOp(x[i:])
		if o == opNone {
			return false, fmt.Errorf("bad operator in %q", x)
		}
		ok, err := matchString(o, rel[x[:i]], want, false)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// osRelease reads etc/os-release, else usr/lib/os-release, under Root.
func (e *evaluator) osRelease() map[string]string {
	m := map[string]string{}
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		b, err := os.ReadFile(filepath.Join(e.env.Root, p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `'"`)
			}
			m[k] = v
		}
		break
	}
	return m
}

// words splits s at white space, honouring double and single quotes.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// parseBool parses a boolean as unit files spell it.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("bad boolean %q", s)
}
