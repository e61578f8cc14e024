package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// This file reads systemd's test-execute suite: the units of
// test/test-execute and the expectations of src/test/test-execute.c,
// taken from Debian's systemd source package at test time (never kept in
// the repository). The C file is read as data: each test function's
// calls of test(m, "unit", status, CLD_*) and test_service(...) become
// cases, and its simple set-up calls (mkdir_p, touch, write_string_file,
// copy_file, rm_rf, unlink, setenv, unsetenv) become steps run before
// the case that follows them.

// sdCase is one expected outcome of one unit run.
type sdCase struct {
	fn     string // the test function, e.g. test_exec_privatetmp
	unit   string
	status int
	code   string // exited, killed; or "" when result is checked
	result string // Result= for test_service cases
	steps  []sdStep
	env    map[string]string // the manager environment at this case
	// needUser is a user that must exist with a group of the same name
	// (test-execute.c guards such cases).
	needUser string
}

// sdStep is one set-up action of test-execute.c.
type sdStep struct {
	op   string // mkdir, touch, write, copy, rm, unlink
	path string
	arg  string // file content or copy source
}

var (
	reFunc    = regexp.MustCompile(`^static void (test_\w+)\(Manager \*m\) \{`)
	reTest    = regexp.MustCompile(`^\s*test\(m, "([^"]+)"(?:\s*(NOBODY_USER_NAME|NOBODY_GROUP_NAME)\s*"([^"]*)")?, (.+), (CLD_\w+)\);`)
	reService = regexp.MustCompile(`^\s*test_service\(m, "([^"]+)", (SERVICE_\w+)\);`)
	reEntry   = regexp.MustCompile(`entry\((test_\w+)\)`)
	reMkdir   = regexp.MustCompile(`mkdir_p\("([^"]+)"`)
	reTouch   = regexp.MustCompile(`\btouch\("([^"]+)"\)`)
	reWrite   = regexp.MustCompile(`write_string_file\("([^"]+)", (\w+),`)
	reCopy    = regexp.MustCompile(`copy_file\("([^"]+)", "([^"]+)"`)
	reRm      = regexp.MustCompile(`rm_rf\("([^"]+)"`)
	reUnlink  = regexp.MustCompile(`\bunlink\("([^"]+)"\)`)
	reSetenv  = regexp.MustCompile(`\bsetenv\("(\w+)", ("(?:[^"\\]|\\.)*"), 1\)`)
	reUnset   = regexp.MustCompile(`\bunsetenv\("(\w+)"\)`)
	reNeedU   = regexp.MustCompile(`check_user_has_group_with_same_name\("(\w+)"\)`)
	reConst   = regexp.MustCompile(`static const char (\w+)\[\] =`)
	reCString = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// sdExits are the exit statuses test-execute.c names.
var sdExits = map[string]int{"EXIT_FAILURE": 1, "EXIT_EXEC": 203, "EXIT_NAMESPACE": 226, "EXIT_NETWORK": 225}

// sdParser reads test-execute.c line by line.
type sdParser struct {
	byFn     map[string][]sdCase
	order    []string // test functions in the order main runs them
	fn       string
	needUser string
	steps    []sdStep
	env      map[string]string
	consts   map[string]string // static const char NAME[] strings
}

// parseTestExecute turns test-execute.c into cases, in the order its
// main runs the test functions (the namespace-capable pass only).
func parseTestExecute(src string) ([]sdCase, error) {
	p := &sdParser{byFn: map[string][]sdCase{}, env: map[string]string{}, consts: map[string]string{}}
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		if m := reConst.FindStringSubmatch(lines[i]); m != nil {
			n, err := p.constString(m[1], lines[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			continue
		}
		if err := p.line(lines[i]); err != nil {
			return nil, err
		}
	}
	var out []sdCase
	for _, f := range p.order {
		out = append(out, p.byFn[f]...)
	}
	return out, nil
}

// constString reads the concatenated C strings of a static const char
// array from lines and returns how many lines it took.
func (p *sdParser) constString(name string, lines []string) (int, error) {
	var b strings.Builder
	for i, l := range lines {
		for _, s := range reCString.FindAllStringSubmatch(l, -1) {
			u, err := strconv.Unquote(`"` + s[1] + `"`)
			if err != nil {
				return 0, err
			}
			b.WriteString(u)
		}
		if strings.HasSuffix(strings.TrimSpace(l), ";") {
			p.consts[name] = b.String()
			return i + 1, nil
		}
	}
	return len(lines), nil
}

// pathSteps are the set-up calls that take one path.
var pathSteps = []struct {
	op string
	re *regexp.Regexp
}{{"mkdir", reMkdir}, {"touch", reTouch}, {"rm", reRm}, {"unlink", reUnlink}}

func (p *sdParser) line(l string) error {
	if m := reFunc.FindStringSubmatch(l); m != nil {
		p.fn, p.steps = m[1], nil
		return nil
	}
	if m := reEntry.FindStringSubmatch(l); m != nil {
		p.order = append(p.order, m[1])
		return nil
	}
	if p.fn == "" {
		return nil
	}
	if m := reNeedU.FindStringSubmatch(l); m != nil {
		p.needUser = m[1]
	}
	if reTest.MatchString(l) || reService.MatchString(l) {
		return p.addCase(l)
	}
	for _, ps := range pathSteps {
		if m := ps.re.FindStringSubmatch(l); m != nil {
			p.steps = append(p.steps, sdStep{op: ps.op, path: m[1]})
			return nil
		}
	}
	switch {
	case reWrite.MatchString(l):
		m := reWrite.FindStringSubmatch(l)
		p.steps = append(p.steps, sdStep{op: "write", path: m[1], arg: p.consts[m[2]]})
	case reCopy.MatchString(l):
		m := reCopy.FindStringSubmatch(l)
		p.steps = append(p.steps, sdStep{op: "copy", path: m[2], arg: m[1]})
	case reSetenv.MatchString(l):
		m := reSetenv.FindStringSubmatch(l)
		v, err := strconv.Unquote(m[2])
		if err != nil {
			return err
		}
		p.env[m[1]] = v
	case reUnset.MatchString(l):
		delete(p.env, reUnset.FindStringSubmatch(l)[1])
	}
	return nil
}

// addCase records a test() or test_service() call with the set-up
// steps seen since the previous one.
func (p *sdParser) addCase(l string) error {
	c := sdCase{fn: p.fn, steps: p.steps, env: copyEnv(p.env), needUser: p.needUser}
	if m := reService.FindStringSubmatch(l); m != nil {
		c.unit = m[1]
		c.result = map[string]string{"SERVICE_FAILURE_EXIT_CODE": "exit-code", "SERVICE_SKIP_CONDITION": "exec-condition"}[m[2]]
	} else {
		m := reTest.FindStringSubmatch(l)
		c.unit = m[1]
		switch m[2] {
		case "NOBODY_USER_NAME":
			c.unit += "nobody" + m[3]
		case "NOBODY_GROUP_NAME":
			c.unit += "nogroup" + m[3]
		}
		st, err := sdStatus(m[4])
		if err != nil {
			return err
		}
		c.status, c.code = st, map[string]string{"CLD_EXITED": "exited", "CLD_KILLED": "killed"}[m[5]]
	}
	p.byFn[p.fn] = append(p.byFn[p.fn], c)
	p.steps, p.needUser = nil, ""
	return nil
}

func copyEnv(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// sdStatus evaluates a status expression of test-execute.c for a
// manager that can unshare namespaces (tend runs as root here).
func sdStatus(expr string) (int, error) {
	expr = strings.TrimSpace(expr)
	if c, rest, ok := strings.Cut(expr, "?"); ok && strings.TrimSpace(c) == "can_unshare" {
		expr, _, _ = strings.Cut(rest, ":")
		expr = strings.TrimSpace(expr)
	}
	if n, ok := sdExits[expr]; ok {
		return n, nil
	}
	if s := unix.SignalNum(expr); s != 0 {
		return int(s), nil
	}
	if name, ok := strings.CutPrefix(expr, `errno_from_name("`); ok {
		name = strings.TrimSuffix(name, `")`)
		for e := 1; e < 200; e++ {
			if unix.ErrnoName(unix.Errno(e)) == name {
				return e, nil
			}
		}
	}
	return strconv.Atoi(expr)
}

// sdNotHere says why a case cannot run on this machine, as
// test-execute.c's own guards would ("" when it can).
func sdNotHere(c sdCase) string {
	if p, ok := strings.CutPrefix(c.unit, "exec-personality-"); ok {
		want := map[string]string{"amd64": "x86-64.service", "arm64": "aarch64.service", "386": "x86.service", "s390x": "s390.service", "ppc64le": "ppc64le.service", "ppc64": "ppc64.service", "loong64": "loongarch64.service"}[runtime.GOARCH]
		if p != want {
			return "-" // test-execute.c builds only this architecture's case
		}
	}
	if c.unit == "exec-cpuaffinity3.service" && runtime.NumCPU() < 3 {
		return "needs CPUs 1 and 2; this machine has " + strconv.Itoa(runtime.NumCPU())
	}
	if c.unit == "exec-oomscoreadjust-negative.service" && !selfHasCap(24) {
		return "lowering oom_score_adj needs CAP_SYS_RESOURCE, which root lacks on this machine"
	}
	if c.needUser != "" {
		u, err := user.Lookup(c.needUser)
		g, gerr := user.LookupGroup(c.needUser)
		if err != nil || gerr != nil || u.Gid != g.Gid {
			return "no user " + c.needUser + " with a group of the same name"
		}
	}
	for _, tool := range []string{"capsh", "python3", "ip", "ldd"} {
		if !haveTool(tool) && sdUses(c, tool) {
			return tool + " is not installed"
		}
	}
	return ""
}

// haveTool reports whether tool is in PATH or an sbin directory (the
// test's PATH may lack those).
func haveTool(tool string) bool {
	if _, err := exec.LookPath(tool); err == nil {
		return true
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(d, tool)); err == nil {
			return true
		}
	}
	return false
}

// sdUses reports whether the unit's file mentions tool (test-execute.c
// skips such tests when the tool is missing).
func sdUses(c sdCase, tool string) bool {
	return regexp.MustCompile(`(^|[\s'"=])` + tool + `\s`).MatchString(sdUnitText[c.unit])
}

// sdUnitText holds the unit files' text by name, for sdUses.
var sdUnitText = map[string]string{}

// runStep performs one set-up step.
func runStep(s sdStep) error {
	switch s.op {
	case "mkdir":
		return os.MkdirAll(s.path, 0o755)
	case "touch":
		f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
		}
		return err
	case "write":
		return os.WriteFile(s.path, []byte(s.arg), 0o644)
	case "copy":
		b, err := os.ReadFile(s.arg)
		if err != nil {
			return err
		}
		return os.WriteFile(s.path, b, 0o777)
	case "rm", "unlink":
		return os.RemoveAll(s.path)
	}
	return nil
}

// apivfsDropIn is what test-execute.c writes for
// exec-mount-apivfs-no.service: touch and test, bound read-only with
// the libraries they need, into an otherwise empty root.
func apivfsDropIn() (string, error) {
	var b strings.Builder
	b.WriteString("[Service]\n")
	var binds []string
	touch, err1 := exec.LookPath("touch")
	test, err2 := exec.LookPath("test")
	if err1 != nil || err2 != nil {
		return "", err1
	}
	b.WriteString("ExecStart=" + touch + " /aaa\nExecStart=" + test + " -f /aaa\n")
	binds = append(binds, touch, test)
	for _, exe := range []string{touch, test} {
		out, err := exec.Command("ldd", exe).Output()
		if err != nil {
			return "", err
		}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) > 0 && filepath.IsAbs(f[0]):
				binds = append(binds, f[0])
			case len(f) > 2 && f[1] == "=>" && filepath.IsAbs(f[2]):
				binds = append(binds, f[2])
			}
		}
	}
	for _, p := range binds {
		b.WriteString("BindReadOnlyPaths=" + p + "\n")
	}
	return b.String(), nil
}

// sdSource returns a directory holding systemd's test/test-execute and
// src/test/test-execute.c: $TEND_SYSTEMD_SRC if set, else Debian's
// systemd source package fetched with apt-get into a cache directory
// (.ci/run adds the deb-src line it needs).
func sdSource(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("TEND_SYSTEMD_SRC"); d != "" {
		return d
	}
	cache := filepath.Join(os.TempDir(), "tend-systemd-src")
	if m, _ := filepath.Glob(filepath.Join(cache, "systemd-*", "src", "test", "test-execute.c")); len(m) > 0 {
		return filepath.Dir(filepath.Dir(filepath.Dir(m[0])))
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	get := exec.Command("apt-get", "source", "--download-only", "-qq", "systemd")
	get.Dir = cache
	if out, err := get.CombinedOutput(); err != nil {
		t.Skipf("Debian's systemd source package is not available (apt-get source: %v)\n%s", err, out)
	}
	tars, _ := filepath.Glob(filepath.Join(cache, "systemd_*.orig.tar.gz"))
	if len(tars) == 0 {
		t.Skip("apt-get source fetched no systemd orig tarball")
	}
	untar := exec.Command("tar", "xzf", tars[0], "--wildcards", "*/test/test-execute/*", "*/src/test/test-execute.c")
	untar.Dir = cache
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(cache, "systemd-*", "src", "test", "test-execute.c"))
	if len(m) == 0 {
		t.Fatal("no src/test/test-execute.c in the systemd source")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(m[0])))
}

// selfHasCap reports whether this process has capability bit in its
// effective set.
func selfHasCap(bit uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<bit) != 0
		}
	}
	return false
}
