package syslogconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseActions(t *testing.T) {
	tests := []struct {
		line string
		want Rule // Origin and Selector are not compared
	}{
		{"mail.* /var/log/mail", Rule{Kind: File, Path: "/var/log/mail"}},
		{"mail.*\t\t-/var/log/mail.log", Rule{Kind: File, Path: "/var/log/mail.log", NoSync: true}},
		{"*.* |/run/xconsole", Rule{Kind: Pipe, Path: "/run/xconsole"}},
		{"*.* @loghost", Rule{Kind: ForwardUDP, Address: "loghost:514"}},
		{"*.* @loghost:5514", Rule{Kind: ForwardUDP, Address: "loghost:5514"}},
		{"*.* @@10.0.0.1:601", Rule{Kind: ForwardTCP, Address: "10.0.0.1:601"}},
		{"*.* @[::1]:514", Rule{Kind: ForwardUDP, Address: "[::1]:514"}},
		{"*.* @::1", Rule{Kind: ForwardUDP, Address: "[::1]:514"}},
		{"*.emerg *", Rule{Kind: Wall}},
		{"*.emerg :omusrmsg:*", Rule{Kind: Wall}},
		{"*.alert root,alice", Rule{Kind: Users, Users: []string{"root", "alice"}}},
		{"*.alert :omusrmsg:root", Rule{Kind: Users, Users: []string{"root"}}},
		{"local7.* ~", Rule{Kind: Discard}},
		{"local7.* stop", Rule{Kind: Discard}},
	}
	for _, tt := range tests {
		cfg, errs := Parse("t.conf", strings.NewReader(tt.line+"\n"))
		if len(errs) > 0 || len(cfg.Rules) != 1 {
			t.Errorf("%q: %d rules, errors %v", tt.line, len(cfg.Rules), errs)
			continue
		}
		got := cfg.Rules[0]
		got.Origin, got.Selector = "", Selector{}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %+v; want %+v", tt.line, got, tt.want)
		}
	}
}

// TestParseFile reads a file mixing good lines, bad ones and RainerScript:
// every bad line is one file:line error, and every good line is a rule.
func TestParseFile(t *testing.T) {
	text := `# a comment
module(load="imuxsock") # provided by tend itself
module(load="imtcp"
       MaxSessions="10")
$FileOwner root
$FileGroup adm
$FileCreateMode 0640
$Umask 0022
$WorkDirectory /var/spool/rsyslog
*.*;auth,authpriv.none		-/var/log/syslog
auth,authpriv.*			/var/log/auth.log
bogus.*				/var/log/bogus
mail.loud			/var/log/mail
& /var/log/mail.copy
mail.*				relative/path
& /var/log/after.bad
:msg, contains, "x"		/var/log/x
if $programname == 'a' then {
  action(type="omfile" file="/var/log/a")
}
*.* action(type="omfwd" target="h")
*.info;mail.none;\
  authpriv.none			/var/log/messages
kern.*				/var/log/kern.log;RSYSLOG_TraditionalFileFormat
*.* @@(o)host
cron.*
*.emerg				:omusrmsg:*
`
	cfg, errs := Parse("rs.conf", strings.NewReader(text))
	wantErrs := []string{
		`rs.conf:2: rsyslog RainerScript is not supported (module)`,
		`rs.conf:3: rsyslog RainerScript is not supported (module)`,
		`rs.conf:9: $WorkDirectory is not applied by tend`,
		`rs.conf:12: selector "bogus.*": unknown facility "bogus"`,
		`rs.conf:13: selector "mail.loud": unknown priority "loud"`,
		`rs.conf:14: "&" without a selector line before it`,
		`rs.conf:15: action "relative/path": not a path`,
		`rs.conf:16: "&" without a selector line before it`,
		`rs.conf:17: rsyslog property-based filters are not supported`,
		`rs.conf:18: rsyslog RainerScript is not supported (if)`,
		`rs.conf:21: RainerScript action() is not supported`,
		`rs.conf:24: template "RSYSLOG_TraditionalFileFormat" is not applied`,
		`rs.conf:25: forwarding options "(o)host" are not supported`,
		`rs.conf:26: selector "cron.*" without an action`,
	}
	if len(errs) != len(wantErrs) {
		t.Errorf("got %d errors; want %d:\n%v", len(errs), len(wantErrs), errs)
	}
	for i, w := range wantErrs {
		if i < len(errs) && !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d: got %q; want %q…", i, errs[i], w)
		}
	}
	var got []string
	for _, r := range cfg.Rules {
		got = append(got, r.Origin+" "+r.Kind.String()+" "+r.Path)
	}
	want := []string{"rs.conf:10 file /var/log/syslog", "rs.conf:11 file /var/log/auth.log",
		"rs.conf:22 file /var/log/messages", "rs.conf:24 file /var/log/kern.log", "rs.conf:27 wall "}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cfg.FileMode != 0o640 || cfg.FileOwner != "root" || cfg.FileGroup != "adm" || cfg.DirMode != 0o755 {
		t.Errorf("settings: mode %o dir %o owner %q group %q", cfg.FileMode, cfg.DirMode, cfg.FileOwner, cfg.FileGroup)
	}
	if m := cfg.Rules[2].Selector; !m.Match(1, 6) || m.Match(2, 0) || m.Match(10, 3) {
		t.Errorf("continued selector: %v", m)
	}
}

// TestLoadIncludes follows $IncludeConfig and reads a file reached twice
// (by the include and by the command line) once.
func TestLoadIncludes(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "rsyslog.d")
	os.Mkdir(d, 0o755)
	os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte("$IncludeConfig "+d+"/*.conf\nmail.* /var/log/mail\n"), 0o644)
	os.WriteFile(filepath.Join(d, "b.conf"), []byte("user.* /var/log/b\n"), 0o644)
	os.WriteFile(filepath.Join(d, "a.conf"), []byte("user.* /var/log/a\n"), 0o644)
	os.WriteFile(filepath.Join(d, "skip.txt"), []byte("user.* /var/log/skip\n"), 0o644)
	cfg, errs := Load([]string{filepath.Join(dir, "syslog.conf"), filepath.Join(dir, "rsyslog.conf"), d + "/*.conf"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "syslog.conf") {
		t.Errorf("errors: %v; want one for the missing syslog.conf", errs)
	}
	var got []string
	for _, r := range cfg.Rules {
		got = append(got, r.Path)
	}
	if want := "/var/log/a /var/log/b /var/log/mail"; strings.Join(got, " ") != want {
		t.Errorf("got %v; want %s", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("*.*;auth,authpriv.none -/var/log/syslog\n$IncludeConfig /nonexistent/*.conf\n")
	f.Add("module(load=\"x\"\n a=\"(\")\nmail.* @@h:1\n& root,bob\n")
	f.Add("if x then {\n}\n*.emerg *\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, errs := Parse("f.conf", strings.NewReader(text))
		for _, e := range errs {
			// Absolute includes may name other files.
			if !strings.HasPrefix(e.Error(), "f.conf") && !strings.HasPrefix(e.Error(), "/") {
				t.Fatalf("error without origin: %v", e)
			}
		}
		for _, r := range cfg.Rules {
			switch r.Kind {
			case File, Pipe:
				if !strings.HasPrefix(r.Path, "/") {
					t.Fatalf("relative path in %+v", r)
				}
			case ForwardUDP, ForwardTCP:
				if r.Address == "" {
					t.Fatalf("no address in %+v", r)
				}
			case Users:
				if len(r.Users) == 0 {
					t.Fatalf("no users in %+v", r)
				}
			}
		}
	})
}
