package inspect

import (
	"slices"
	"strings"
	"testing"
)

func testArgsEnv(env map[string]string) PsArgsEnv {
	return PsArgsEnv{
		Screen: Unlimited,
		Getenv: func(k string) string { return env[k] },
		Lookup: func(s string) (int, bool) {
			switch s {
			case "root":
				return 0, true
			case "nobody":
				return 65534, true
			}
			return 0, false
		},
		SelfTTY: 0x8803,
	}
}

func TestParsePsArgs(t *testing.T) {
	tests := []struct {
		args    string
		env     map[string]string
		columns string // joined -o lists; "" for tend's default
		check   func(o PsOptions) bool
		err     string
	}{
		{args: "", check: func(o PsOptions) bool { return !o.All && o.Table == 0 && o.Width == Unlimited }},
		{args: "-e", check: func(o PsOptions) bool { return o.All }},
		{args: "-ef", columns: "uid_hack,pid,ppid,c,stime,tname,time,cmd", check: func(o PsOptions) bool { return o.All }},
		{args: "-eF", columns: "uid_hack,pid,ppid,c,sz,rss,psr,stime,tname,time,cmd"},
		{args: "-el", columns: "f,s,uid,pid,ppid,c,opri,ni,addr_1,sz,wchan,tname,time,ucmd"},
		{args: "-ely", columns: "s,uid,pid,ppid,c,opri,ni,rss,sz,wchan,tname,time,ucmd"},
		{args: "-ejH", columns: "pid,pgid,sid,tname,time,ucmd", check: func(o PsOptions) bool { return o.Forest == 'u' }},
		{args: "-eLf", columns: "uid_hack,pid,ppid,lwp,c,nlwp,stime,tname,time,cmd", check: func(o PsOptions) bool { return o.Threads }},
		{args: "aux", columns: "user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args", check: func(o PsOptions) bool { return o.All }},
		{args: "-aux", columns: "user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args", check: func(o PsOptions) bool { return o.All }},
		{args: "axjf", columns: "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args", check: func(o PsOptions) bool { return o.All && o.Forest == 'f' }},
		{args: "xf", columns: "pid,tname,stat,bsdtime,args", check: func(o PsOptions) bool { return o.Table == 0xaaaa && o.Forest == 'f' }},
		{args: "u", check: func(o PsOptions) bool { return o.Table == 0x0a0a }},
		{args: "-a", check: func(o PsOptions) bool { return o.Table == 0x0303 }},
		{args: "-d", check: func(o PsOptions) bool { return o.Table == 0x3333 }},
		{args: "-p 1,2 --ppid 3 -s4 -C a,b -u root -U nobody", check: func(o PsOptions) bool {
			return slices.Equal(o.PIDs, []int{1, 2}) && slices.Equal(o.PPIDs, []int{3}) && slices.Equal(o.Sessions, []int{4}) &&
				slices.Equal(o.Commands, []string{"a", "b"}) && slices.Equal(o.Users, []string{"root"}) && slices.Equal(o.RUsers, []string{"nobody"})
		}},
		{args: "1 2", columns: "pid,tname,stat,bsdtime,args", check: func(o PsOptions) bool { return slices.Equal(o.PIDs, []int{1, 2}) }},
		{args: "T", check: func(o PsOptions) bool { return slices.Equal(o.TTYs, []uint64{0x8803}) }},
		{args: "-t -", check: func(o PsOptions) bool { return slices.Equal(o.TTYs, []uint64{0}) }},
		{args: "-o pid=PROCESS,user:20 -o comm", columns: "pid=PROCESS,user:20|comm"},
		{args: "-opid", columns: "pid"},
		{args: "--format=pid --sort=-pcpu,pid", columns: "pid", check: func(o PsOptions) bool { return slices.Equal(o.Sort, []string{"-pcpu,pid"}) }},
		{args: "-f", env: map[string]string{"COLUMNS": "100"}, columns: "uid_hack,pid,ppid,c,stime,tname,time,cmd", check: func(o PsOptions) bool { return o.Width == 100 }},
		{args: "-fw", env: map[string]string{"COLUMNS": "100"}, check: func(o PsOptions) bool { return o.Width == 132 }},
		{args: "-f -ww", env: map[string]string{"COLUMNS": "100"}, check: func(o PsOptions) bool { return o.Width == Unlimited }},
		{args: "--cols 70 -f", check: func(o PsOptions) bool { return o.Width == 70 }},
		{args: "--no-headers -e", check: func(o PsOptions) bool { return o.NoHeader }},
		{args: "--unit web --zombies", check: func(o PsOptions) bool { return slices.Equal(o.Units, []string{"web"}) && o.Zombies }},
		{args: "-Q", err: "unsupported SysV option"},
		{args: "Q", err: "unsupported option (BSD syntax)"},
		{args: "--bogus", err: "unknown gnu long option"},
		{args: "-p", err: "list of process IDs must follow -p"},
		{args: "-p x", err: "process ID list syntax error"},
		{args: "-p 0", err: "process ID out of range"},
		{args: "-p 1,,2", err: "improper list"},
		{args: "-u nosuch", err: "user name does not exist"},
		{args: "-o bogus", err: `unknown user-defined format specifier "bogus"`},
		{args: "-o pid,,ppid", err: "improper format list"},
		{args: "-o user:0", err: "column widths must be unsigned decimal numbers"},
		{args: "-f -o pid", columns: "pid", check: func(o PsOptions) bool { return o.Forest == 'f' }}, // procps's BSD second pass: -f is f
		{args: "-L --forest", err: "thread display conflicts with forest display"},
		{args: "hh", err: "only one heading option may be specified"},
		{args: "-y", err: "modifier -y without format -l makes no sense"},
		{args: "--forest=x", err: "option --forest does not take an argument"},
		{args: "", err: ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			a, err := ParsePsArgs(strings.Fields(tt.args), testArgsEnv(tt.env))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.columns != "" || tt.check == nil {
				if got := strings.Join(a.Options.Columns, "|"); got != tt.columns {
					t.Errorf("columns %q; want %q", got, tt.columns)
				}
			}
			if tt.check != nil && !tt.check(a.Options) {
				t.Errorf("options %+v", a.Options)
			}
		})
	}
}

func FuzzParsePsArgs(f *testing.F) {
	for _, s := range []string{"-ef", "aux", "-o pid=X,user:9 --sort -pid", "axjf", "-eLf", "-p 1,2 -t -", "--cols=80 -ww"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParsePsArgs(strings.Fields(s), testArgsEnv(nil))
		if err != nil {
			if _, ok := err.(*PsUsageError); !ok {
				t.Fatalf("%q: error %v is not a usage error", s, err)
			}
			return
		}
		if _, err := ParseColumns(a.Options.Columns); err != nil && len(a.Options.Columns) > 0 {
			t.Fatalf("%q: parsed columns %q do not parse: %v", s, a.Options.Columns, err)
		}
		if a.Options.Width <= 0 {
			t.Fatalf("%q: width %d", s, a.Options.Width)
		}
	})
}

func TestPsEscape(t *testing.T) {
	tests := []struct {
		in   string
		utf  bool
		want string
	}{
		{"plain text", true, "plain text"},
		{"tab\there", true, "tab?here"},
		{"h\u00e9llo", true, "h\u00e9llo"},
		{"del\x7f", true, "del?"},
		{"c1\u0085x", true, "c1?x"},
		{"ok\xffbad\tx\u00e9", true, "ok?bad.x??"},
		{"tab\there", false, "tab.here"},
		{"h\u00e9llo", false, "h??llo"},
	}
	for _, tt := range tests {
		if got := psEscape(tt.in, tt.utf); got != tt.want {
			t.Errorf("psEscape(%q, %v) = %q; want %q", tt.in, tt.utf, got, tt.want)
		}
	}
}

func FuzzParseColumns(f *testing.F) {
	f.Add("pid,ppid,args")
	f.Add("pid=PROCESS user:20,")
	f.Fuzz(func(t *testing.T, s string) {
		cols, err := ParseColumns([]string{s})
		if err == nil && len(cols) == 0 {
			t.Fatalf("%q: no columns and no error", s)
		}
	})
}
