package inetd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/unit"
)

// checkGenerated feeds every generated unit through the unit file parser
// and the socket spec parser: whatever the readers accept must come out
// as units that load without a complaint.
func checkGenerated(t *testing.T, svcs []*Service) {
	for _, s := range svcs {
		for _, g := range s.Gen() {
			if err := unit.ValidName(g.Name); err != nil {
				t.Fatalf("invalid unit name %q: %v", g.Name, err)
			}
			f, diags := unit.ParseFile(g.Name, strings.NewReader(g.Text))
			if len(diags) > 0 {
				t.Fatalf("%s: %v\n%s", g.Name, diags, g.Text)
			}
			if strings.HasSuffix(g.Name, ".socket") {
				u := &unit.Unit{Name: g.Name, Kind: unit.KindSocket, Entries: f.Entries}
				if _, diags, ok := activate.ParseSpec(u, nil); !ok || len(diags) > 0 {
					t.Fatalf("%s: ok=%v %v\n%s", g.Name, ok, diags, g.Text)
				}
			}
		}
	}
}

func fuzzEnv(t testing.TB) Env {
	f, err := os.Open("testdata/etc/services")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseServices(f)
	if err != nil {
		t.Fatal(err)
	}
	return Env{Services: s, Etc: "testdata/etc"}
}

func FuzzParseInetd(f *testing.F) {
	b, err := os.ReadFile("testdata/etc/inetd.conf")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	env := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, in string) {
		svcs, _ := ParseInetd("f", strings.NewReader(in), env)
		checkGenerated(t, svcs)
	})
}

func FuzzParseXinetd(f *testing.F) {
	for _, p := range []string{"testdata/etc/xinetd.d/myecho", "testdata/etc/xinetd.d/echo", "testdata/etc/xinetd.d/bad"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	env := fuzzEnv(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in string) {
		if strings.Contains(in, "include") {
			return // would read whatever the input names
		}
		p := filepath.Join(dir, "x.conf")
		if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		svcs, _ := ParseXinetd(p, env)
		checkGenerated(t, svcs)
	})
}

func FuzzParseServices(f *testing.F) {
	f.Add("echo 7/tcp\ndiscard 9/udp sink null # c\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseServices(strings.NewReader(in))
		if err != nil {
			return
		}
		for k, p := range s.ports {
			if p < 0 || p > 65535 || !strings.Contains(k, "/") {
				t.Fatalf("%q: bad entry %s → %d", in, k, p)
			}
		}
	})
}
