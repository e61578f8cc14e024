package plan

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tendproject/tend/internal/install"
	"github.com/tendproject/tend/internal/unit"
)

// TestEnabledIntoBuiltinTarget loads a directory that holds only a
// service enabled (by the install package, as `tend enable` does) into
// multi-user.target, which no file defines: booting default.target must
// start the service.
func TestEnabledIntoBuiltinTarget(t *testing.T) {
	root := t.TempDir()
	const dir = "/units"
	if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	svc := "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nRequiredBy=graphical.target\n"
	if err := os.WriteFile(filepath.Join(root, dir, "x.service"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	in := &install.Installer{Root: root, Config: dir, Dirs: []string{dir}}
	if _, err := in.Enable([]string{"x.service"}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, dir, "multi-user.target.wants", "x.service")); err != nil {
		t.Fatalf("enable made no link: %v", err)
	}

	ld := &unit.Loader{Root: root, Dirs: []string{dir}}
	set, diags := ld.LoadAll()
	for _, d := range diags {
		t.Logf("diag: %v", d)
	}
	units := map[string]*unit.Unit{}
	for n, u := range set.Units {
		units[n] = u
	}
	p := New(units, Options{})
	if d := p.Deps("multi-user.target"); !slices.Contains(d.Wants, "x.service") || !slices.Contains(d.Requires, "basic.target") {
		t.Errorf("multi-user.target deps = %+v; want the built-in ones plus Wants=x.service", d)
	}
	if d := p.Deps("graphical.target"); !slices.Contains(d.Requires, "x.service") {
		t.Errorf("graphical.target deps = %+v; want Requires=x.service", d)
	}
	tr := mustTx(t, p, Start, []string{"default.target"}, Replace, nil)
	if tr.Index("x.service") < 0 {
		t.Errorf("booting default.target does not start x.service: %s", describe(tr))
	}
}
