package install

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// vendorUnits are the unit files every test root starts with, in
// /usr/lib/systemd/system.
var vendorUnits = map[string]string{
	"foo.service":      "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nRequiredBy=b.target\nAlias=bar.service\nAlso=baz.service\n",
	"baz.service":      "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
	"t@.service":       "[Service]\nExecStart=/bin/echo %i\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=x\n",
	"n@.service":       "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
	"static.service":   "[Service]\nExecStart=/bin/true\n",
	"ind.service":      "[Service]\nExecStart=/bin/true\n[Install]\nAlso=foo.service\n",
	"up.service":       "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=%p-extra.target\n",
	"badname.service":  "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=foo\n",
	"badalias.service": "[Service]\nExecStart=/bin/true\n[Install]\nAlias=x.socket\n",
	"aux.service":      "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=ok.target\nAlso=missing.service\n",
	"syntax.service":   "[Service\nExecStart=/bin/true\n[Install]\nWantedBy=ok.target\n",
	// UpheldBy= is newer than the systemd used as oracle.
	"uph.service": "[Service]\nExecStart=/bin/true\n[Install]\nUpheldBy=c.target\n",
}

// newRoot builds a scratch root with the vendor units and an installer
// that behaves like `systemctl --root=ROOT`.
func newRoot(t *testing.T) (string, *Installer) {
	t.Helper()
	root := t.TempDir()
	vendor := filepath.Join(root, "usr/lib/systemd/system")
	for _, d := range []string{vendor, filepath.Join(root, "etc/systemd/system"), filepath.Join(root, "opt")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range vendorUnits {
		if err := os.WriteFile(filepath.Join(vendor, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "opt/ext.service"), []byte("[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := &Installer{
		Root: root, Config: "/etc/systemd/system", Runtime: "/run/systemd/system",
		Dirs:       []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"},
		PresetDirs: []string{"/usr/lib/systemd/system-preset"},
		Env:        unit.SystemEnv(),
	}
	return root, in
}

// tree lists every symlink and file below root/etc and root/run as
// "path -> target" lines.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, top := range []string{"etc", "run"} {
		_ = filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				out = append(out, rel+" -> "+l)
			case !d.IsDir():
				out = append(out, rel)
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

func TestEnableDisable(t *testing.T) {
	root, in := newRoot(t)
	ch, err := in.Enable([]string{"foo.service"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"etc/systemd/system/b.target.requires/foo.service -> /usr/lib/systemd/system/foo.service",
		"etc/systemd/system/bar.service -> /usr/lib/systemd/system/foo.service",
		"etc/systemd/system/multi-user.target.wants/baz.service -> /usr/lib/systemd/system/baz.service",
		"etc/systemd/system/multi-user.target.wants/foo.service -> /usr/lib/systemd/system/foo.service",
	}
	if got := tree(t, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("tree after enable:\ngot  %q\nwant %q", got, want)
	}
	if msg := ch.Messages()[0]; msg != "Created symlink /etc/systemd/system/bar.service → /usr/lib/systemd/system/foo.service." {
		t.Errorf("first message = %q", msg)
	}
	for name, want := range map[string]string{"foo.service": StateEnabled, "bar.service": StateAlias,
		"baz.service": StateEnabled, "static.service": StateStatic, "ind.service": StateIndirect,
		"t@.service": StateDisabled, "n@.service": StateDisabled} {
		if got, err := in.IsEnabled(name); got != want || err != nil {
			t.Errorf("IsEnabled(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	// Enabling again changes nothing.
	if ch, err := in.Enable([]string{"foo.service"}, false, false); err != nil || len(ch.Created)+len(ch.Removed) != 0 {
		t.Errorf("second enable = %+v, %v; want no changes", ch, err)
	}
	ch, err = in.Disable([]string{"foo.service"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Removed) != 4 {
		t.Errorf("disable removed %q; want 4 links", ch.Removed)
	}
	if got := tree(t, root); len(got) != 0 {
		t.Errorf("tree after disable = %q; want empty (empty .wants dirs removed too)", got)
	}
}

func TestUpheldByAndMessages(t *testing.T) {
	root, in := newRoot(t)
	ch, err := in.Enable([]string{"uph.service"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "Created symlink /etc/systemd/system/c.target.upholds/uph.service → /usr/lib/systemd/system/uph.service."
	if msgs := ch.Messages(); len(msgs) != 1 || msgs[0] != want {
		t.Errorf("messages = %q; want %q", msgs, want)
	}
	if st, _ := in.IsEnabled("uph.service"); st != StateEnabled {
		t.Errorf("state = %q", st)
	}
	ch, err = in.Disable([]string{"uph.service"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want = `Removed "/etc/systemd/system/c.target.upholds/uph.service".`
	if msgs := ch.Messages(); len(msgs) != 1 || msgs[0] != want {
		t.Errorf("messages = %q; want %q", msgs, want)
	}
	if got := tree(t, root); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

func TestEnableErrors(t *testing.T) {
	_, in := newRoot(t)
	if _, err := in.Enable([]string{"nope.service"}, false, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("enable missing unit: err = %v; want ErrNotFound", err)
	}
	if _, err := in.Enable([]string{"n@.service"}, false, false); err == nil || !strings.Contains(err.Error(), "non-template") {
		t.Errorf("enable template without DefaultInstance: err = %v", err)
	}
	if _, err := in.Enable([]string{"foo.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Enable([]string{"bar.service"}, false, false); err == nil {
		t.Error("enable of an alias name succeeded; want refusal")
	}
	ch, err := in.Enable([]string{"static.service"}, false, false)
	if err != nil || len(ch.Created) != 0 || len(ch.Warnings) != 1 {
		t.Errorf("enable static = %+v, %v; want one warning and no links", ch, err)
	}
	if st, err := in.IsEnabled("nope.service"); st != StateNotFound || !errors.Is(err, ErrNotFound) {
		t.Errorf("IsEnabled(nope) = %q, %v", st, err)
	}
}

func TestTemplates(t *testing.T) {
	root, in := newRoot(t)
	if _, err := in.Enable([]string{"t@y.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	check := func(name, want string) {
		t.Helper()
		if got, _ := in.IsEnabled(name); got != want {
			t.Errorf("IsEnabled(%s) = %q; want %q", name, got, want)
		}
	}
	check("t@y.service", StateEnabled)
	check("t@z.service", StateDisabled)
	check("t@.service", StateIndirect)
	if _, err := in.Enable([]string{"t@.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/t@x.service")); err != nil {
		t.Errorf("default instance not enabled: %v", err)
	}
	check("t@.service", StateEnabled)
	if _, err := in.Disable([]string{"t@.service"}, false); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, root); len(got) != 0 {
		t.Errorf("disabling the template left %q", got)
	}
}

func TestMaskRuntimeLink(t *testing.T) {
	root, in := newRoot(t)
	if _, err := in.Mask([]string{"static.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Mask([]string{"baz.service"}, true, false); err != nil {
		t.Fatal(err)
	}
	check := func(name, want string) {
		t.Helper()
		if got, _ := in.IsEnabled(name); got != want {
			t.Errorf("IsEnabled(%s) = %q; want %q", name, got, want)
		}
	}
	check("static.service", StateMasked)
	check("baz.service", StateMaskedRuntime)
	if _, err := in.Enable([]string{"static.service"}, false, false); err == nil {
		t.Error("enable of a masked unit succeeded")
	}
	if ch, _ := in.Unmask([]string{"baz.service"}, false); len(ch.Removed) != 0 {
		t.Errorf("unmask without runtime removed the runtime mask: %q", ch.Removed)
	}
	if _, err := in.Unmask([]string{"static.service", "baz.service"}, true); err != nil {
		t.Fatal(err)
	}
	check("baz.service", StateDisabled)
	if _, err := in.Unmask([]string{"static.service"}, false); err != nil {
		t.Fatal(err)
	}
	check("static.service", StateStatic)

	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/real.service"), []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Mask([]string{"real.service"}, false, true); err == nil {
		t.Error("mask replaced a real unit file")
	}
	if _, err := in.Enable([]string{"baz.service"}, true, false); err != nil {
		t.Fatal(err)
	}
	check("baz.service", StateEnabledRuntime)
	if _, err := in.LinkFile([]string{"/opt/ext.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	check("ext.service", StateLinked)
	if _, err := in.Enable([]string{"ext.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	check("ext.service", StateEnabled)
	if _, err := in.Disable([]string{"ext.service"}, false); err != nil {
		t.Fatal(err)
	}
	check("ext.service", StateNotFound) // disable removes the link too
	ch, err := in.Enable([]string{"/opt/ext.service"}, false, false)
	if err != nil || len(ch.Created) != 2 {
		t.Fatalf("enable by path = %+v, %v; want link and .wants symlink", ch, err)
	}
	check("ext.service", StateEnabled)
}

func TestPresetAndList(t *testing.T) {
	root, in := newRoot(t)
	dir := filepath.Join(root, "usr/lib/systemd/system-preset")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "90-test.preset"), []byte("# test\nenable baz.service\ndisable *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Preset([]string{"baz.service", "up.service"}, false); err != nil {
		t.Fatal(err)
	}
	files, err := in.ListUnitFiles()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Name] = f.State + "/" + f.Preset
	}
	want := map[string]string{
		"baz.service": "enabled/enabled", "up.service": "disabled/disabled", "static.service": "static/",
		"foo.service": "disabled/disabled", "t@.service": "disabled/disabled",
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("list-unit-files %s = %q; want %q", n, got[n], w)
		}
	}
}

// TestAgainstSystemctl runs the same operations through systemctl
// --root and through Installer on twin roots and compares the trees and
// the is-enabled states.
func TestAgainstSystemctl(t *testing.T) {
	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		t.Skip("systemctl not installed: no oracle")
	}
	ops := []struct {
		verb    string
		runtime bool
		names   []string
	}{
		{"enable", false, []string{"foo.service"}},
		{"enable", false, []string{"t@y.service", "up.service"}},
		{"enable", true, []string{"ind.service"}},
		{"disable", false, []string{"foo.service"}},
		{"mask", false, []string{"static.service"}},
		{"mask", true, []string{"baz.service"}},
		{"enable", false, []string{"t@.service"}},
		{"unmask", false, []string{"static.service", "baz.service"}},
		{"reenable", false, []string{"foo.service"}},
		{"unmask", true, []string{"baz.service"}},
		{"disable", false, []string{"t@.service"}},
		{"enable", false, []string{"n@.service"}},
		{"enable", false, []string{"bar.service"}},
		{"enable", false, []string{"badname.service"}},
		{"enable", false, []string{"badalias.service"}},
		{"enable", false, []string{"aux.service"}},
		{"enable", false, []string{"syntax.service"}},
	}
	names := []string{"foo.service", "bar.service", "baz.service", "t@.service", "t@x.service", "t@y.service",
		"n@.service", "static.service", "ind.service", "up.service", "badname.service", "badalias.service", "aux.service"}
	rootA, _ := newRoot(t)
	rootB, in := newRoot(t)
	for i, op := range ops {
		args := []string{"--root=" + rootA, op.verb}
		if op.runtime {
			args = append(args, "--runtime")
		}
		out, errA := exec.Command(systemctl, append(args, op.names...)...).CombinedOutput()
		var errB error
		switch op.verb {
		case "enable":
			_, errB = in.Enable(op.names, op.runtime, false)
		case "disable":
			_, errB = in.Disable(op.names, op.runtime)
		case "reenable":
			_, errB = in.Reenable(op.names, op.runtime, false)
		case "mask":
			_, errB = in.Mask(op.names, op.runtime, false)
		case "unmask":
			_, errB = in.Unmask(op.names, op.runtime)
		}
		if (errA == nil) != (errB == nil) {
			t.Errorf("op %d %s %v: systemctl err=%v (%s), ours=%v", i, op.verb, op.names, errA, out, errB)
		}
		if a, b := tree(t, rootA), tree(t, rootB); !reflect.DeepEqual(a, b) {
			t.Fatalf("op %d %s %v: trees differ\nsystemctl %q\nours      %q", i, op.verb, op.names, a, b)
		}
		// One call for all names: every one exists, so each gets a line.
		out, _ = exec.Command(systemctl, append([]string{"--root=" + rootA, "is-enabled"}, names...)...).Output()
		states := strings.Fields(string(out))
		if len(states) != len(names) {
			t.Fatalf("systemctl is-enabled printed %q for %d names", states, len(names))
		}
		for k, n := range names {
			if got, _ := in.IsEnabled(n); got != states[k] {
				t.Errorf("op %d %s %v: is-enabled %s = %q; systemctl says %q", i, op.verb, op.names, n, got, states[k])
			}
		}
	}
	// A file systemd cannot parse has no state; both refuse.
	if err := exec.Command(systemctl, "--root="+rootA, "is-enabled", "syntax.service").Run(); err == nil {
		t.Error("systemctl is-enabled accepted syntax.service")
	}
	if st, err := in.IsEnabled("syntax.service"); st != StateBad || err == nil {
		t.Errorf("IsEnabled(syntax.service) = %q, %v; want bad and an error", st, err)
	}
	compareListUnitFiles(t, systemctl, rootA, in)
}

// compareListUnitFiles checks name, state and preset of every row of
// list-unit-files against systemctl's.
func compareListUnitFiles(t *testing.T, systemctl, root string, in *Installer) {
	t.Helper()
	out, err := exec.Command(systemctl, "--root="+root, "list-unit-files", "--no-legend", "--no-pager").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		// uph.service uses UpheldBy=, which the oracle's systemd predates.
		if len(f) == 3 && strings.HasSuffix(f[0], ".service") && f[0] != "uph.service" {
			preset := f[2]
			if preset == "-" {
				preset = ""
			}
			want[f[0]] = f[1] + "/" + preset
		}
	}
	files, err := in.ListUnitFiles()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		if f.Name != "uph.service" && strings.HasSuffix(f.Name, ".service") {
			got[f.Name] = f.State + "/" + f.Preset
		}
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("list-unit-files %s: got %q; systemctl says %q", n, got[n], w)
		}
	}
	for n, g := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("list-unit-files %s: got %q; systemctl does not list it", n, g)
		}
	}
}

func TestUserInstaller(t *testing.T) {
	home := t.TempDir()
	rt := t.TempDir()
	env := map[string]string{"XDG_RUNTIME_DIR": rt}
	in := User(home, func(k string) string { return env[k] })
	write := func(p, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".local/share/systemd/user/u.service"), "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=default.target\n")
	if st, _ := in.IsEnabled("u.service"); st != StateDisabled {
		t.Fatalf("state = %q", st)
	}
	ch, err := in.Enable([]string{"u.service"}, false, false)
	if err != nil || len(ch.Created) != 1 || ch.Created[0].Path != filepath.Join(home, ".config/tend/units/default.target.wants/u.service") {
		t.Fatalf("enable = %+v, %v", ch, err)
	}
	if st, _ := in.IsEnabled("u.service"); st != StateEnabled {
		t.Errorf("state after enable = %q", st)
	}
	if _, err := in.Disable([]string{"u.service"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Enable([]string{"u.service"}, true, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := in.IsEnabled("u.service"); st != StateEnabledRuntime {
		t.Errorf("state after runtime enable = %q", st)
	}
	noRuntime := User(home, func(string) string { return "" })
	if _, err := noRuntime.Mask([]string{"u.service"}, true, false); err == nil {
		t.Error("runtime mask without a runtime directory succeeded")
	}
}
