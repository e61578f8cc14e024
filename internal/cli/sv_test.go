package cli

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSvArgs(t *testing.T) {
	tests := []struct {
		args     string
		ok       bool
		cmds     string // the verb's control bytes
		wait     time.Duration
		verbose  bool
		services []string
	}{
		{"status web", true, "", 7 * time.Second, false, []string{"web"}},
		{"up a b", true, "u", 7 * time.Second, false, []string{"a", "b"}},
		{"-v down web", true, "d", 7 * time.Second, true, []string{"web"}},
		{"-w 5 check web", true, "", 5 * time.Second, true, []string{"web"}},
		{"-w5 start web", true, "u", 5 * time.Second, true, []string{"web"}},
		{"-vw3 restart web", true, "tcu", 3 * time.Second, true, []string{"web"}},
		{"-V -v hup web", true, "h", 7 * time.Second, true, []string{"web"}},
		{"-w 0 once web", true, "o", 0, true, []string{"web"}},
		{"-- status -w", true, "", 7 * time.Second, false, []string{"-w"}},
		{"-w 99999999999999 up web", true, "u", svMaxWait * time.Second, true, []string{"web"}},
		{"-w abc up web", true, "u", 0, true, []string{"web"}}, // scan_ulong: leading digits
		{"-w 5x up web", true, "u", 5 * time.Second, true, []string{"web"}},
		{"-w -1 status web", true, "", 0, true, []string{"web"}},
		// runit's sv goes by the first letter of a verb it does not know.
		{"stat web", true, "", 7 * time.Second, false, []string{"web"}},
		{"e web", true, "x", 7 * time.Second, false, []string{"web"}},
		{"xit web", true, "x", 7 * time.Second, false, []string{"web"}},
		{"continue web", true, "c", 7 * time.Second, false, []string{"web"}},
		{"terminate web", true, "t", 7 * time.Second, false, []string{"web"}},
		{"1 web", true, "1", 7 * time.Second, false, []string{"web"}},
		{"status", false, "", 0, false, nil},
		{"", false, "", 0, false, nil},
		{"-w", false, "", 0, false, nil},
		{"-w status web", false, "", 0, false, nil}, // "web" is the verb
		{"-x status web", false, "", 0, false, nil},
		{"bogus web", false, "", 0, false, nil},
		{"reboot web", false, "", 0, false, nil}, // r… only by name
		{"Down web", false, "", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			a, ok := parseSvArgs(strings.Fields(tt.args))
			if ok != tt.ok {
				t.Fatalf("ok %v; want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if a.verb.cmds != tt.cmds || a.wait != tt.wait || a.verbose != tt.verbose || !slices.Equal(a.services, tt.services) {
				t.Errorf("got cmds %q wait %v verbose %v services %q; want %q %v %v %q",
					a.verb.cmds, a.wait, a.verbose, a.services, tt.cmds, tt.wait, tt.verbose, tt.services)
			}
		})
	}
}

func TestSvServiceDir(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"web", "/etc/service/web"},
		{"/srv/web", "/srv/web"},
		{"./web", "./web"},
		{"web/", "web/"},
		{"a/b", "/etc/service/a/b"},
	} {
		if got := svServiceDir("/etc/service", tt.name); got != tt.want {
			t.Errorf("svServiceDir(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzParseSvArgs: any command line (NUL-separated arguments) is either
// a usage error or a verb with services and a sane wait; a parsed one
// written out again in canonical form parses to the same.
func FuzzParseSvArgs(f *testing.F) {
	for _, s := range []string{"status\x00web", "-w\x005\x00check\x00a\x00b", "-vw3\x00restart\x00web", "--\x00up\x00-w",
		"-w99999999999999999999\x00up\x00x", "-\x00status\x00x", "-V\x00e\x00x", "s\x00", "-w\x00-0\x00up\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		a, ok := parseSvArgs(args)
		if !ok {
			return
		}
		if len(a.services) == 0 || a.wait < 0 || a.wait > svMaxWait*time.Second {
			t.Fatalf("%q: services %q wait %v", args, a.services, a.wait)
		}
		name := ""
		for n, v := range svVerbs {
			if v == a.verb {
				name = n
			}
		}
		if name == "" {
			t.Fatalf("%q: verb %+v is none of sv's", args, a.verb)
		}
		var canon []string
		if a.verbose {
			canon = []string{"-w", strconv.Itoa(int(a.wait / time.Second))}
		}
		canon = append(append(canon, name), a.services...)
		b, ok := parseSvArgs(canon)
		if !ok || b.verbose != a.verbose || b.verb != a.verb || (a.verbose && b.wait != a.wait) || !slices.Equal(b.services, a.services) {
			t.Fatalf("%q parsed as %+v; its canonical form as %+v (ok %v)", args, a, b, ok)
		}
	})
}
