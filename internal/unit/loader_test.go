package unit

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// twoDirs returns a high- and a low-precedence unit directory and a
// loader over them.
func twoDirs(t *testing.T) (hi, lo string, l *Loader) {
	t.Helper()
	root := t.TempDir()
	hi, lo = filepath.Join(root, "etc"), filepath.Join(root, "lib")
	for _, d := range []string{hi, lo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return hi, lo, &Loader{Dirs: []string{hi, lo}, Env: testEnv()}
}

func mustLoad(t *testing.T, l *Loader, name string) *Unit {
	t.Helper()
	u, err := l.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPrecedence(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/a.service", "[Unit]\nDescription=low\n[Service]\nExecStart=/bin/low\n")
	write(t, hi+"/a.service", "[Unit]\nDescription=high\n[Service]\nExecStart=/bin/high\n")
	u := mustLoad(t, l, "a.service")
	if u.Description != "high" || u.Path != hi+"/a.service" {
		t.Errorf("got %q from %s; want the high-precedence file", u.Description, u.Path)
	}
}

func TestDropIns(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/foo-bar-baz.service", "[Unit]\nDescription=base\n[Service]\nExecStart=/bin/base\nEnvironment=A=1\n")
	write(t, lo+"/foo-bar-baz.service.d/10-env.conf", "[Service]\nEnvironment=B=2\n")
	write(t, lo+"/foo-bar-baz.service.d/20-masked.conf", "[Unit]\nDescription=should be masked\n")
	symlink(t, "/dev/null", hi+"/foo-bar-baz.service.d/20-masked.conf")
	write(t, lo+"/foo-bar-baz.service.d/30-over.conf", "[Unit]\nDescription=lower\n")
	write(t, hi+"/foo-bar-baz.service.d/30-over.conf", "[Unit]\nDescription=higher\n")
	write(t, lo+"/foo-.service.d/05-prefix.conf", "[Service]\nEnvironment=P=1\n")
	write(t, lo+"/foo-bar-.service.d/06-prefix.conf", "[Service]\nEnvironment=Q=1\n")
	write(t, hi+"/service.d/50-all.conf", "[Service]\nExecStart=\nExecStart=/bin/replaced\n")
	write(t, hi+"/service.d/notconf.txt", "[Unit]\nDescription=ignored\n")
	write(t, hi+"/other.service.d/99.conf", "[Unit]\nDescription=not mine\n")
	u := mustLoad(t, l, "foo-bar-baz.service")
	var base []string
	for _, p := range u.DropIns {
		base = append(base, filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p))
	}
	want := []string{"foo-.service.d/05-prefix.conf", "foo-bar-.service.d/06-prefix.conf", "foo-bar-baz.service.d/10-env.conf",
		"foo-bar-baz.service.d/30-over.conf", "service.d/50-all.conf"}
	if !reflect.DeepEqual(base, want) {
		t.Errorf("drop-ins = %q; want %q", base, want)
	}
	if !strings.HasPrefix(u.DropIns[3], hi) {
		t.Errorf("30-over.conf from %s; want the high-precedence one", u.DropIns[3])
	}
	if u.Description != "higher" {
		t.Errorf("Description = %q", u.Description)
	}
	if got := u.Service.Exec.Environment; !reflect.DeepEqual(got, []string{"A=1", "P=1", "Q=1", "B=2"}) {
		t.Errorf("Environment = %q", got)
	}
	if len(u.Service.ExecStart) != 1 || u.Service.ExecStart[0].Path != "/bin/replaced" {
		t.Errorf("ExecStart = %+v; want reset by drop-in", u.Service.ExecStart)
	}
}

func TestTemplatesAndInstances(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/getty@.service", "[Unit]\nDescription=Getty on %I\n[Service]\nExecStart=/sbin/agetty %i\n[Install]\nDefaultInstance=tty1\n")
	write(t, lo+"/getty@.service.d/t.conf", "[Service]\nEnvironment=T=%i\n")
	write(t, hi+"/getty@tty2.service.d/i.conf", "[Service]\nEnvironment=I=only-tty2\n")
	u := mustLoad(t, l, "getty@tty2.service")
	if u.Load != Loaded || u.Template != "getty@.service" || u.Instance != "tty2" || u.Description != "Getty on tty2" {
		t.Fatalf("instance = %+v", u)
	}
	if got := u.Service.ExecStart[0].Argv; !reflect.DeepEqual(got, []string{"/sbin/agetty", "tty2"}) {
		t.Errorf("argv = %q", got)
	}
	// Drop-ins apply in file name order, whatever directory they are in.
	if got := u.Service.Exec.Environment; !reflect.DeepEqual(got, []string{"I=only-tty2", "T=tty2"}) {
		t.Errorf("env = %q", got)
	}
	if other := mustLoad(t, l, "getty@tty3.service"); len(other.Service.Exec.Environment) != 1 {
		t.Errorf("tty3 got tty2's drop-in: %q", other.Service.Exec.Environment)
	}
	tmpl := mustLoad(t, l, "getty@.service")
	if tmpl.Load != Loaded || tmpl.Install.DefaultInstance != "tty1" {
		t.Errorf("template = %+v", tmpl)
	}
	if u := mustLoad(t, l, "nosuch@x.service"); u.Load != NotFound {
		t.Errorf("missing template: load %s", u.Load)
	}
	// A file for the instance itself beats the template.
	write(t, hi+"/getty@tty9.service", "[Service]\nExecStart=/bin/special\n")
	if u := mustLoad(t, l, "getty@tty9.service"); u.Service.ExecStart[0].Path != "/bin/special" {
		t.Errorf("instance file not preferred: %+v", u.Service.ExecStart)
	}
}

func TestMasking(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/m.service", "[Service]\nExecStart=/bin/m\n")
	symlink(t, "/dev/null", hi+"/m.service")
	write(t, lo+"/e.service", "")
	write(t, lo+"/t@.service", "[Service]\nExecStart=/bin/t\n")
	symlink(t, "/dev/null", hi+"/t@.service")
	for _, n := range []string{"m.service", "e.service", "t@x.service"} {
		if u := mustLoad(t, l, n); u.Load != Masked {
			t.Errorf("%s: load = %s; want masked", n, u.Load)
		}
	}
	symlink(t, "/nonexistent/d.service", hi+"/d.service")
	if u := mustLoad(t, l, "d.service"); u.Load != NotFound {
		t.Errorf("dangling link: load = %s; want not-found", u.Load)
	}
	// An empty file masks whatever drop-ins say; an empty template masks
	// its instances. The loader learns both from reading, Lookup from a stat.
	write(t, hi+"/e.service.d/x.conf", "[Service]\nExecStart=/bin/e\n")
	write(t, lo+"/et@.service", "")
	for _, n := range []string{"e.service", "et@x.service"} {
		if u := mustLoad(t, l, n); u.Load != Masked || u.Path != "" || u.DropIns != nil {
			t.Errorf("%s: load = %s, path %q, drop-ins %q; want masked, none", n, u.Load, u.Path, u.DropIns)
		}
		if fi, err := l.Lookup(n); err != nil || !fi.Masked || fi.Fragment != "" {
			t.Errorf("Lookup(%s) = %+v, %v; want masked", n, fi, err)
		}
	}
	// A file removed after the scan loads nothing, as a dangling link.
	write(t, lo+"/gone.service", "[Service]\nExecStart=/bin/gone\n")
	frozen := l.Freeze()
	if err := os.Remove(lo + "/gone.service"); err != nil {
		t.Fatal(err)
	}
	if u := mustLoad(t, frozen, "gone.service"); u.Load != NotFound || u.Path != "" || len(u.Diags) != 0 {
		t.Errorf("removed after the scan: load = %s, path %q, diags %v; want not-found", u.Load, u.Path, u.Diags)
	}
}

func TestAliasesAndLinks(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/real.service", "[Unit]\nDescription=%n\n[Service]\nExecStart=/bin/real\n")
	write(t, lo+"/real.service.d/a.conf", "[Service]\nEnvironment=FROM=real\n")
	symlink(t, lo+"/real.service", hi+"/nick.service")
	symlink(t, "real.service", lo+"/rel.service") // relative alias
	write(t, lo+"/nick.service.d/b.conf", "[Service]\nEnvironment=FROM=nick\n")
	outside := filepath.Join(t.TempDir(), "ext.service")
	write(t, outside, "[Service]\nExecStart=/bin/ext\n")
	symlink(t, outside, hi+"/ext.service")

	u := mustLoad(t, l, "nick.service")
	if u.Name != "real.service" || u.Description != "real.service" {
		t.Errorf("alias loaded as %q (%q)", u.Name, u.Description)
	}
	if !reflect.DeepEqual(u.Aliases, []string{"nick.service", "rel.service"}) {
		t.Errorf("aliases = %q", u.Aliases)
	}
	if got := u.Service.Exec.Environment; !reflect.DeepEqual(got, []string{"FROM=real", "FROM=nick"}) {
		t.Errorf("alias drop-ins: env = %q", got)
	}
	ext := mustLoad(t, l, "ext.service")
	if ext.Load != Loaded || ext.Path != outside {
		t.Errorf("linked unit: %s from %q", ext.Load, ext.Path)
	}
	fi, err := l.Lookup("ext.service")
	if err != nil || !fi.Linked {
		t.Errorf("Lookup(ext) = %+v, %v; want Linked", fi, err)
	}
	fi, _ = l.Lookup("nick.service")
	if !fi.Alias || fi.Name != "real.service" {
		t.Errorf("Lookup(nick) = %+v", fi)
	}

	set, _ := l.LoadAll()
	if set.Get("nick.service") != set.Get("real.service") || set.Get("rel.service") == nil || set.Units["nick.service"] != nil {
		t.Errorf("set aliases wrong: names %q", set.Names())
	}
}

func TestWantsDirs(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/multi-user.target", "[Unit]\nDescription=MU\n")
	write(t, lo+"/a.service", "[Service]\nExecStart=/bin/a\n")
	write(t, lo+"/w@.service", "[Service]\nExecStart=/bin/w %i\n")
	symlink(t, lo+"/a.service", hi+"/multi-user.target.wants/a.service")
	symlink(t, lo+"/w@.service", hi+"/multi-user.target.wants/w@one.service")
	symlink(t, lo+"/a.service", lo+"/multi-user.target.requires/a.service")
	write(t, lo+"/g@.target", "[Unit]\nDescription=g\n")
	symlink(t, lo+"/w@.service", lo+"/g@.target.wants/w@.service")
	set, diags := l.LoadAll()
	for _, d := range diags {
		t.Log(d.Error())
	}
	mu := set.Get("multi-user.target")
	if !reflect.DeepEqual(mu.Dependencies().Wants, []string{"a.service", "w@one.service"}) || !reflect.DeepEqual(mu.Dependencies().Requires, []string{"a.service"}) {
		t.Errorf("wants %q requires %q", mu.Dependencies().Wants, mu.Dependencies().Requires)
	}
	if w := set.Get("w@one.service"); w == nil || w.Load != Loaded || w.Service.ExecStart[0].Argv[1] != "one" {
		t.Errorf("instance named in .wants not loaded: %+v", w)
	}
	if set.Get("w@.service") != nil {
		t.Error("template in the set")
	}
	if g := mustLoad(t, l, "g@x.target"); !reflect.DeepEqual(g.Dependencies().Wants, []string{"w@x.service"}) {
		t.Errorf("template .wants not instantiated: %q", g.Dependencies().Wants)
	}
}

// TestWantsDirWithoutUnitFile loads the .wants/ of a target no file
// defines (one tend provides built in) as a not-found unit with those
// dependencies, so the plan can merge them.
func TestWantsDirWithoutUnitFile(t *testing.T) {
	hi, lo, l := twoDirs(t)
	write(t, lo+"/a.service", "[Service]\nExecStart=/bin/a\n")
	symlink(t, lo+"/a.service", hi+"/multi-user.target.wants/a.service")
	symlink(t, lo+"/a.service", lo+"/basic.target.upholds/a.service")
	symlink(t, lo+"/a.service", lo+"/t@.target.wants/a.service")
	set, _ := l.LoadAll()
	mu := set.Get("multi-user.target")
	if mu == nil || mu.Load != NotFound || !reflect.DeepEqual(mu.Dependencies().Wants, []string{"a.service"}) {
		t.Errorf("multi-user.target = %+v; want not-found with Wants=a.service", mu)
	}
	if b := set.Get("basic.target"); b == nil || !reflect.DeepEqual(b.Dependencies().Upholds, []string{"a.service"}) {
		t.Errorf("basic.target = %+v; want Upholds=a.service", b)
	}
	if set.Get("t@.target") != nil {
		t.Error("template with a .wants dir in the set")
	}
}

func TestLoadAllReferencesAndIsolation(t *testing.T) {
	_, lo, l := twoDirs(t)
	write(t, lo+"/a.service", "[Unit]\nWants=b@x.service missing.service\nAfter=c.mount\n[Service]\nExecStart=/bin/a\n")
	write(t, lo+"/b@.service", "[Service]\nExecStart=/bin/b %i\n")
	write(t, lo+"/broken.service", "[Service]\nType=forking\n")
	write(t, lo+"/garbage.service", "\x00\x01 not a unit\n[[[\n")
	set, diags := l.LoadAll()
	want := map[string]LoadState{"a.service": Loaded, "b@x.service": Loaded, "missing.service": NotFound,
		"c.mount": NotFound, "broken.service": BadSetting, "garbage.service": BadSetting}
	for n, st := range want {
		if u := set.Get(n); u == nil || u.Load != st {
			t.Errorf("%s: %+v; want %s", n, u, st)
		}
	}
	if len(diags) == 0 {
		t.Error("no diags for broken units")
	}
	if _, err := l.Load("bad/name.service"); err == nil {
		t.Error("Load accepted an invalid name")
	}
}

// TestDebianUnits loads every unit this machine ships: none may crash or
// fail, and sandboxing directives only show up as the Unsupported warning.
func TestDebianUnits(t *testing.T) {
	dir := "/lib/systemd/system"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no systemd units on this machine")
	}
	l := &Loader{Dirs: []string{dir}, Env: testEnv()}
	set, diags := l.LoadAll()
	if len(set.Units) < 20 {
		t.Fatalf("only %d units loaded", len(set.Units))
	}
	for _, d := range diags {
		if !strings.Contains(d.Msg, "not supported by tend") {
			t.Errorf("unexpected diag: %s", d.Error())
		}
	}
	sandboxed := 0
	for _, n := range set.Names() {
		u := set.Get(n)
		if u.Load == BadSetting || u.Load == LoadError {
			t.Errorf("%s: %s", n, u.Load)
		}
		if slices.Contains(u.Unsupported, "ProtectSystem") || slices.Contains(u.Unsupported, "PrivateTmp") {
			t.Errorf("%s: sandboxing directives reported unsupported: %v", n, u.Unsupported)
		}
		if u.Service != nil && u.Service.Exec.SandboxSettings().Active() {
			sandboxed++
		}
	}
	if sandboxed == 0 {
		t.Error("no unit has sandboxing settings typed")
	}
}

func TestRootAndFreeze(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/usr/lib/units/a.service", "[Unit]\nDescription=%y\n[Service]\nExecStart=/bin/a\n")
	// Absolute link targets are inside root, as in a container image.
	symlink(t, "/usr/lib/units/a.service", root+"/etc/units/b.service")
	symlink(t, "/opt/c.service", root+"/etc/units/c.service")
	write(t, root+"/opt/c.service", "[Service]\nExecStart=/bin/c\n")
	l := &Loader{Root: root, Dirs: []string{"/etc/units", "/usr/lib/units"}, Env: testEnv()}
	u := mustLoad(t, l, "b.service")
	if u.Name != "a.service" || u.Path != "/usr/lib/units/a.service" || u.Description != "/usr/lib/units/a.service" {
		t.Errorf("alias inside root: %s %s %q", u.Name, u.Path, u.Description)
	}
	if c := mustLoad(t, l, "c.service"); c.Load != Loaded || c.Path != "/opt/c.service" {
		t.Errorf("linked unit inside root: %s %q", c.Load, c.Path)
	}
	frozen := l.Freeze()
	write(t, root+"/etc/units/new.service", "[Service]\nExecStart=/bin/new\n")
	if u := mustLoad(t, frozen, "new.service"); u.Load != NotFound {
		t.Errorf("frozen loader saw a new file: %s", u.Load)
	}
	if u := mustLoad(t, l, "new.service"); u.Load != Loaded {
		t.Errorf("live loader missed a new file: %s", u.Load)
	}
	if got := l.UnitFiles(); !reflect.DeepEqual(got, []string{"a.service", "b.service", "c.service", "new.service"}) {
		t.Errorf("UnitFiles = %q", got)
	}
}

// TestMemoize: a memoized loader builds every instance of a template from
// one read of its files (specifiers still expanded per instance, drop-ins
// of the template and of one instance still found), until it is replaced.
func TestMemoize(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/foo@.service", "[Service]\nExecStart=/bin/echo %i\n")
	write(t, dir+"/foo@.service.d/env.conf", "[Service]\nEnvironment=A=1\n")
	write(t, dir+"/foo@special.service.d/env.conf", "[Service]\nEnvironment=A=2\n")
	l := (&Loader{Dirs: []string{dir}, Env: testEnv()}).Freeze().Memoize()
	one := mustLoad(t, l, "foo@one.service")
	write(t, dir+"/foo@.service", "[Service]\nExecStart=/bin/changed %i\n")
	two := mustLoad(t, l, "foo@two.service")
	special := mustLoad(t, l, "foo@special.service")
	for _, c := range []struct {
		u          *Unit
		argv, envA string
	}{{one, "/bin/echo one", "A=1"}, {two, "/bin/echo two", "A=1"}, {special, "/bin/echo special", "A=2"}} {
		if c.u.Load != Loaded || len(c.u.Service.ExecStart) != 1 {
			t.Fatalf("%s: %s %v", c.u.Name, c.u.Load, c.u.Diags)
		}
		if got := strings.Join(c.u.Service.ExecStart[0].Argv, " "); got != c.argv {
			t.Errorf("%s: ExecStart %q; want %q", c.u.Name, got, c.argv)
		}
		if got := c.u.Service.Exec.Environment; len(got) != 1 || got[0] != c.envA {
			t.Errorf("%s: Environment %q; want [%s]", c.u.Name, got, c.envA)
		}
	}
	fresh := (&Loader{Dirs: []string{dir}, Env: testEnv()}).Freeze().Memoize()
	if got := mustLoad(t, fresh, "foo@three.service").Service.ExecStart[0].Argv[0]; got != "/bin/changed" {
		t.Errorf("a new memoized loader read %q; want the changed file", got)
	}
}

// TestMemoizedInstancesMatchFresh: instances loaded through a memoized
// loader (which resolves each template once and looks only into the
// dependency and drop-in directories the scan found) are the units a
// plain loader builds: with a file of their own, through an aliased
// template, a masked one, with .wants directories of the template and
// of one instance, and drop-ins by prefix.
func TestMemoizedInstancesMatchFresh(t *testing.T) {
	hi, lo, _ := twoDirs(t)
	for path, text := range map[string]string{
		lo + "/foo@.service":                         "[Unit]\nDescription=foo %i\n[Service]\nExecStart=/bin/echo %i\n",
		hi + "/foo@own.service":                      "[Service]\nExecStart=/bin/own\n",
		lo + "/gone@.service":                        "",
		lo + "/foo@.service.wants/dep@.service":      "",
		hi + "/foo@x.service.requires/other.service": "",
		hi + "/foo@.service.d/p.conf":                "[Service]\nEnvironment=P=%i\n",
		lo + "/service.d/all.conf":                   "[Unit]\nAfter=all.target\n",
	} {
		write(t, path, text)
	}
	symlink(t, lo+"/foo@.service", hi+"/bar@.service")
	symlink(t, "/dev/null", hi+"/masked@.service")
	names := []string{"foo@one.service", "foo@own.service", "foo@x.service", "foo@one.service", "bar@two.service",
		"gone@a.service", "masked@b.service", "none@c.service", "foo@.service"}
	memo := (&Loader{Dirs: []string{hi, lo}, Env: testEnv()}).Freeze().Memoize()
	for _, n := range names {
		fresh := mustLoad(t, &Loader{Dirs: []string{hi, lo}, Env: testEnv()}, n)
		if got := mustLoad(t, memo, n); !reflect.DeepEqual(got, fresh) {
			t.Errorf("%s: memoized %+v\nwant %+v", n, got, fresh)
		}
	}
	for _, c := range []struct {
		name, load, argv, env string
		wants, requires       []string
	}{
		{"foo@one.service", "loaded", "/bin/echo one", "P=one", []string{"dep@one.service"}, nil},
		{"foo@x.service", "loaded", "/bin/echo x", "P=x", []string{"dep@x.service"}, []string{"other.service"}},
		{"foo@own.service", "loaded", "/bin/own", "P=own", []string{"dep@own.service"}, nil},
		{"bar@two.service", "loaded", "/bin/echo two", "P=two", []string{"dep@two.service"}, nil},
		{"gone@a.service", "masked", "", "", nil, nil},
		{"masked@b.service", "masked", "", "", nil, nil},
		{"none@c.service", "not-found", "", "", nil, nil},
	} {
		u := mustLoad(t, memo, c.name)
		var argv, env string
		if u.Service != nil && len(u.Service.ExecStart) == 1 {
			argv = strings.Join(u.Service.ExecStart[0].Argv, " ")
			env = strings.Join(u.Service.Exec.Environment, " ")
		}
		if string(u.Load) != c.load || argv != c.argv || env != c.env ||
			!slices.Equal(u.Dependencies().Wants, c.wants) || !slices.Equal(u.Dependencies().Requires, c.requires) {
			t.Errorf("%s: %s %q %q wants %q requires %q; want %s %q %q wants %q requires %q", c.name,
				u.Load, argv, env, u.Dependencies().Wants, u.Dependencies().Requires, c.load, c.argv, c.env, c.wants, c.requires)
		}
	}
}

// TestLoadAllAheadMatchesOneByOne loads enough units for LoadAll to read
// them on several goroutines (with aliases, drop-ins, .wants directories,
// overrides and broken files among them) and checks that every unit is
// what loading it alone gives, and that the diagnostics come in the
// same order as from a loader that reads one file after the other.
func TestLoadAllAheadMatchesOneByOne(t *testing.T) {
	hi, lo, l := twoDirs(t)
	const n = 4 * loadAheadMin
	for i := range n {
		name := fmt.Sprintf("s%03d.service", i)
		text := fmt.Sprintf("[Unit]\nDescription=unit %d\nAfter=s%03d.service\n[Service]\nExecStart=/bin/sleep %d\n", i, (i+1)%n, i)
		switch i % 7 {
		case 1:
			write(t, hi+"/"+name+".d/override.conf", "[Service]\nEnvironment=X=%n\n")
		case 2:
			symlink(t, lo+"/"+name, hi+fmt.Sprintf("/alias%03d.service", i))
		case 3:
			text += "Bogus=1\n"
		case 4:
			write(t, hi+"/"+name, "[Service]\nExecStart=/bin/true\n") // overrides lo's
		case 5:
			write(t, lo+"/"+name+".wants/placeholder", "")
			symlink(t, lo+"/s000.service", lo+"/"+name+".wants/s000.service")
		}
		write(t, lo+"/"+name, text)
	}
	set, diags := l.LoadAll()
	if len(set.Units) < n {
		t.Fatalf("loaded %d units; want at least %d", len(set.Units), n)
	}
	for i := range n {
		name := fmt.Sprintf("s%03d.service", i)
		one, err := l.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := set.Get(name); !reflect.DeepEqual(got, one) {
			t.Errorf("%s from LoadAll:\n%+v\nwant (loaded alone):\n%+v", name, got, one)
		}
	}
	var serial []Diag
	seen := map[string]bool{}
	for _, u := range sequentialLoadAll(l) {
		if !seen[u.Name] {
			seen[u.Name] = true
			serial = append(serial, u.Diags...)
		}
	}
	if !reflect.DeepEqual(diags, serial) {
		t.Errorf("diags from LoadAll:\n%v\nwant, as read one by one:\n%v", diags, serial)
	}
}

// sequentialLoadAll is LoadAll's walk without reading ahead: the units in
// the order LoadAll adds them.
func sequentialLoadAll(l *Loader) []*Unit {
	ix, _ := l.index()
	var queue []string
	for _, n := range ix.names() {
		if !IsTemplate(n) {
			queue = append(queue, n)
		}
	}
	var out []*Unit
	done := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if done[n] {
			continue
		}
		u := l.load(ix, n)
		done[n], done[u.Name] = true, true
		for _, a := range u.Aliases {
			done[a] = true
		}
		out = append(out, u)
		queue = append(queue, u.referenced()...)
	}
	return out
}

// LoadAllFrozen loads what LoadAll loads, keeps the scan's own
// diagnostics, and answers later loads from the scan it loaded from.
func TestLoadAllFrozen(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.service"), "[Unit]\nWants=b.service\n[Service]\nExecStart=/bin/true\n")
	write(t, filepath.Join(dir, "b.service"), "[Service]\nExecStart=/bin/true\n")
	notDir := filepath.Join(dir, "file")
	write(t, notDir, "")
	l := &Loader{Dirs: []string{dir, notDir}}
	want, wantDiags := l.LoadAll()
	fz, got, diags := l.LoadAllFrozen()
	if g, w := got.Names(), want.Names(); !slices.Equal(g, w) {
		t.Errorf("units %v; want %v", g, w)
	}
	if len(diags) != len(wantDiags) || len(diags) == 0 || !strings.Contains(diags[0].Msg, "cannot read directory") {
		t.Errorf("diags %v; want %v", diags, wantDiags)
	}
	write(t, filepath.Join(dir, "c.service"), "[Service]\nExecStart=/bin/true\n")
	if u, err := fz.Load("c.service"); err != nil || u.Load != NotFound {
		t.Errorf("a file added after the scan: load state %v, %v; want %v", u.Load, err, NotFound)
	}
	if u, err := l.Load("c.service"); err != nil || u.Load != Loaded {
		t.Errorf("unfrozen load of the new file: %v, %v; want %v", u.Load, err, Loaded)
	}
}

// TestFIFODropIn: a FIFO among the drop-ins (nothing writing to it) does
// not hold the load: it reads as empty, and the unit loads.
func TestFIFODropIn(t *testing.T) {
	_, lo, l := twoDirs(t)
	write(t, lo+"/f.service", "[Unit]\nDescription=with a FIFO drop-in\n[Service]\nExecStart=/bin/true\n")
	os.MkdirAll(lo+"/f.service.d", 0o755)
	if err := syscall.Mkfifo(lo+"/f.service.d/10-fifo.conf", 0o600); err != nil {
		t.Fatal(err)
	}
	if u := mustLoad(t, l, "f.service"); u.Description != "with a FIFO drop-in" {
		t.Errorf("Description = %q", u.Description)
	}
}
