package unit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExecLine(t *testing.T) {
	tests := []struct {
		in   string
		want []Command // File/Line not set by ParseExecLine
		err  string
	}{
		{"/bin/echo hello world", []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "hello", "world"}}}, ""},
		{"", nil, ""},
		{`/bin/echo e\ f \q`, []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", `e\ f`, `\q`}}}, ""},
		{`/bin/echo "a b" 'c d' "x\"y"`, []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "a b", "c d", `x"y`}}}, ""},
		{`/bin/echo a"b c"d`, []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "ab cd"}}}, ""},
		{`/bin/echo \t\n\x41\101\u00e9\s`, []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "\t\nAAé "}}}, ""},
		{`/bin/echo $FOO ${BAR}`, []Command{{Path: "/bin/echo", Argv: []string{"/bin/echo", "$FOO", "${BAR}"}}}, ""},
		{"-/bin/false", []Command{{Path: "/bin/false", Argv: []string{"/bin/false"}, IgnoreFailure: true}}, ""},
		{"@/bin/sh mysh -c x", []Command{{Path: "/bin/sh", Argv: []string{"mysh", "-c", "x"}, ArgvZero: true}}, ""},
		{"-@:/bin/sh sh", []Command{{Path: "/bin/sh", Argv: []string{"sh"}, ArgvZero: true, IgnoreFailure: true, NoEnvExpand: true}}, ""},
		{"+/bin/id", []Command{{Path: "/bin/id", Argv: []string{"/bin/id"}, FullPrivilege: true}}, ""},
		{"!/bin/id", []Command{{Path: "/bin/id", Argv: []string{"/bin/id"}, NoSetuid: true}}, ""},
		{"!!/bin/id", []Command{{Path: "/bin/id", Argv: []string{"/bin/id"}, AmbientOnly: true}}, ""},
		{"!!!/bin/id", nil, "too many"},
		{"+!/bin/id", nil, "cannot be combined"},
		{"echo hi", []Command{{Path: "echo", Argv: []string{"echo", "hi"}}}, ""},
		{"bin/echo hi", nil, "neither absolute"},
		{"@/bin/sh", nil, "needs argv[0]"},
		{"-", nil, "empty executable"},
		{`/bin/echo "unterminated`, nil, "unbalanced"},
		{"/bin/a 1 ; /bin/b 2", []Command{
			{Path: "/bin/a", Argv: []string{"/bin/a", "1"}}, {Path: "/bin/b", Argv: []string{"/bin/b", "2"}}}, ""},
		{`/usr/bin/find . -exec rm {} \;`, []Command{{Path: "/usr/bin/find", Argv: []string{"/usr/bin/find", ".", "-exec", "rm", "{}", ";"}}}, ""},
		{"/bin/a x;y", []Command{{Path: "/bin/a", Argv: []string{"/bin/a", "x;y"}}}, ""},
		{"/bin/a ;", []Command{{Path: "/bin/a", Argv: []string{"/bin/a"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExecLine(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseExecLine(%q) err = %v; want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExecLine(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseExecLine(%q) =\n %+v\nwant\n %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzExecLine(f *testing.F) {
	for _, s := range []string{"/bin/echo a", `-@/bin/sh "x y" \x41 ; /bin/b`, `!!/x \;`, `'a`, `\u0000`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cmds, err := ParseExecLine(in)
		if err != nil {
			return
		}
		for _, c := range cmds {
			if c.Path == "" || len(c.Argv) == 0 {
				t.Fatalf("empty command from %q: %+v", in, c)
			}
			if !c.ArgvZero && c.Argv[0] != c.Path {
				t.Fatalf("argv[0] %q != path %q", c.Argv[0], c.Path)
			}
		}
	})
}
