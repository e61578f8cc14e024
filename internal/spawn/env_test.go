package spawn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/unit"
)

func TestExpandArgv(t *testing.T) {
	env := []string{"ONE=1", "TWO=a b", "EMPTY=", "SP=  x  y ", "X_1=z"}
	tests := []struct {
		argv, want []string
	}{
		{[]string{"/bin/echo", "$ONE"}, []string{"/bin/echo", "1"}},
		{[]string{"echo", "$TWO"}, []string{"echo", "a", "b"}},
		{[]string{"echo", "${TWO}"}, []string{"echo", "a b"}},
		{[]string{"echo", "pre${TWO}post"}, []string{"echo", "prea bpost"}},
		{[]string{"echo", "pre$ONE"}, []string{"echo", "pre$ONE"}},
		{[]string{"echo", "$ONE/x"}, []string{"echo", "$ONE/x"}},
		{[]string{"echo", "$SP"}, []string{"echo", "x", "y"}},
		{[]string{"echo", "$EMPTY", "x"}, []string{"echo", "x"}},
		{[]string{"echo", "$UNSET"}, []string{"echo"}},
		{[]string{"echo", "${UNSET}"}, []string{"echo", ""}},
		{[]string{"echo", "$$ONE"}, []string{"echo", "$ONE"}},
		{[]string{"echo", "$$"}, []string{"echo", "$"}},
		{[]string{"echo", "cost: 5$"}, []string{"echo", "cost: 5$"}},
		{[]string{"echo", "${ONE"}, []string{"echo", "${ONE"}},
		{[]string{"echo", "${}"}, []string{"echo", "${}"}},
		{[]string{"echo", "$1x"}, []string{"echo", "$1x"}},
		{[]string{"echo", "$X_1.txt"}, []string{"echo", "$X_1.txt"}},
		{[]string{"echo", "$X_1"}, []string{"echo", "z"}},
		{[]string{"echo", "${ONE}${ONE}$ONE"}, []string{"echo", "11$ONE"}},
	}
	for _, tt := range tests {
		got := ExpandArgv(tt.argv, env)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ExpandArgv(%q) = %q; want %q", tt.argv, got, tt.want)
		}
	}
}

func FuzzExpandArgv(f *testing.F) {
	f.Add("a$B${C}$$D${", "B=1 2")
	f.Fuzz(func(t *testing.T, word, kv string) {
		out := ExpandArgv([]string{word}, []string{kv})
		if !strings.Contains(word, "$") && (len(out) != 1 || out[0] != word) {
			t.Errorf("word without $ changed: %q -> %q", word, out)
		}
	})
}

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"simple", "A=1\nB=2\n", []string{"A=1", "B=2"}},
		{"no trailing newline", "A=1", []string{"A=1"}},
		{"crlf", "A=1\r\nB=2\r\n", []string{"A=1", "B=2"}},
		{"spaces around", "  A  =  hello world  \n", []string{"A=hello world"}},
		{"empty value", "A=\nB=  \n", []string{"A=", "B="}},
		{"comments", "# c\n; c\nA=1 # not a comment\n", []string{"A=1 # not a comment"}},
		{"comment continued", "# c \\\nA=1\nB=2", []string{"B=2"}},
		{"no equals", "junk line\nA=1", []string{"A=1"}},
		{"invalid key", "1A=x\nA B=y\nA-B=z\nOK=1", []string{"OK=1"}},
		{"single quotes literal", `A='x \n $y "z"'`, []string{`A=x \n $y "z"`}},
		{"double quotes escapes", `A="q\" b\\ d\$ t\` + "`" + ` n\n"`, []string{"A=q\" b\\ d$ t` n\\n"}},
		{"quoted keeps spaces", "A='  x  '", []string{"A=  x  "}},
		{"quotes join", `A='x' "y" z`, []string{"A=xyz"}},
		{"quote midword literal", `A=say "hi"`, []string{`A=say "hi"`}},
		{"multi-line quotes", "A=\"l1\nl2\"\nB=3", []string{"A=l1\nl2", "B=3"}},
		{"unquoted escape", `A=\$HOME\ x`, []string{"A=$HOME x"}},
		{"continuation", "A=one \\\ntwo\nB=3", []string{"A=one two", "B=3"}},
		{"dq continuation", "A=\"one \\\ntwo\"", []string{"A=one two"}},
		{"later wins kept in order", "A=1\nA=2", []string{"A=1", "A=2"}},
		{"unterminated quote", "A='open", []string{"A=open"}},
		{"key only", "A", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseEnvFile(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("ParseEnvFile(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseEnvFile(f *testing.F) {
	f.Add("A=1\n# c\nB='x y'\nC=\"a\\\"b\"\\\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range ParseEnvFile(s) {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || !ValidEnvName(k) {
				t.Fatalf("bad assignment %q from %q", kv, s)
			}
		}
	})
}

func TestBuildEnv(t *testing.T) {
	dir := t.TempDir()
	ef := filepath.Join(dir, "env")
	os.WriteFile(ef, []byte("FILE=1\nBOTH=file\nDROP=me\n"), 0o644)
	outer := map[string]string{"PASSED": "p", "ENVWINS": "outer"}
	s := Spec{
		Env: []string{"LANG=C.UTF-8", "MAINPID=7", "PATH=/mgr/bin"},
		Exec: &unit.ExecContext{
			Environment:      []string{"BOTH=unit", "ENVWINS=unit", "KEEP=x", "DROPEXACT=a"},
			EnvironmentFiles: []unit.EnvFile{{Path: ef}, {Path: filepath.Join(dir, "missing"), Optional: true}},
			PassEnvironment:  []string{"PASSED", "ENVWINS", "NOT_SET_ANYWHERE"},
			UnsetEnvironment: []string{"DROP", "DROPEXACT=b", "KEEP=x"},
			RuntimeDirectory: unit.DirSpec{Paths: []string{"app"}},
		},
		Dirs:   Dirs{Runtime: "/run"},
		Getenv: func(k string) (string, bool) { v, ok := outer[k]; return v, ok },
	}
	user := &UserInfo{Name: "svc", Home: "/home/svc", Shell: "/bin/sh"}
	got, err := BuildEnv(s, user)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/mgr/bin", "LANG=C.UTF-8", "MAINPID=7",
		"USER=svc", "LOGNAME=svc", "HOME=/home/svc", "SHELL=/bin/sh",
		"RUNTIME_DIRECTORY=/run/app",
		"PASSED=p", "ENVWINS=unit", "BOTH=file", "DROPEXACT=a", "FILE=1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("BuildEnv =\n%q\nwant\n%q", got, want)
	}

	s.Exec.EnvironmentFiles = []unit.EnvFile{{Path: filepath.Join(dir, "missing")}}
	if _, err := BuildEnv(s, nil); err == nil {
		t.Error("BuildEnv with a missing required EnvironmentFile succeeded")
	}
	if env, err := BuildEnv(Spec{}, nil); err != nil || !slices.Equal(env, []string{"PATH=" + DefaultPath}) {
		t.Errorf("BuildEnv(empty) = %q, %v; want only the default PATH", env, err)
	}
}

func TestLookupUser(t *testing.T) {
	etc := t.TempDir()
	os.WriteFile(filepath.Join(etc, "passwd"), []byte(
		"# comment\nroot:x:0:0:root:/root:/bin/bash\nweb:x:1001:1001:Web:/srv/web:/usr/sbin/nologin\nbroken:x:notanumber:1::/:/bin/sh\n+nis\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "group"), []byte(
		"root:x:0:\nweb:x:1001:\nwww-data:x:33:web,other\nadm:x:4:other\naudio:x:29:web\n"), 0o644)
	tests := []struct {
		name    string
		want    *UserInfo
		wantErr bool
	}{
		{"web", &UserInfo{Name: "web", UID: 1001, GID: 1001, Groups: []int{29, 33, 1001}, Home: "/srv/web", Shell: "/usr/sbin/nologin"}, false},
		{"1001", &UserInfo{Name: "web", UID: 1001, GID: 1001, Groups: []int{29, 33, 1001}, Home: "/srv/web", Shell: "/usr/sbin/nologin"}, false},
		{"root", &UserInfo{Name: "root", UID: 0, GID: 0, Groups: []int{0}, Home: "/root", Shell: "/bin/bash"}, false},
		{"4242", &UserInfo{Name: "4242", UID: 4242, GID: 4242, Groups: []int{4242}, Home: "/", Shell: "/usr/sbin/nologin"}, false},
		{"nosuch", nil, true},
		{"broken", nil, true},
		{"", nil, true},
		{"-1", nil, true},
	}
	accounts := NewAccounts(etc)
	for _, lookup := range []struct {
		name string
		fn   func(string) (*UserInfo, error)
	}{
		{"LookupUserIn", func(n string) (*UserInfo, error) { return LookupUserIn(etc, n) }},
		{"Accounts.User", accounts.User},
	} {
		for _, tt := range tests {
			got, err := lookup.fn(tt.name)
			if (err != nil) != tt.wantErr {
				t.Errorf("%s(%q) error %v; want error %v", lookup.name, tt.name, err, tt.wantErr)
				continue
			}
			if tt.want != nil && (got.Name != tt.want.Name || got.UID != tt.want.UID || got.GID != tt.want.GID ||
				!slices.Equal(got.Groups, tt.want.Groups) || got.Home != tt.want.Home || got.Shell != tt.want.Shell) {
				t.Errorf("%s(%q) = %+v; want %+v", lookup.name, tt.name, got, tt.want)
			}
		}
	}
	for name, want := range map[string]int{"www-data": 33, "33": 33, "500": 500} {
		if gid, err := LookupGroup(etc, name); err != nil || gid != want {
			t.Errorf("LookupGroup(%q) = %d, %v; want %d", name, gid, err, want)
		}
	}
	if _, err := LookupGroup(etc, "nosuch"); err == nil {
		t.Error("LookupGroup(nosuch) succeeded")
	}
}

func FuzzColonRecords(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\n#c\n+x\n::::::\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range colonRecords([]byte(s), 7) {
			if len(r) != 7 {
				t.Fatalf("record with %d fields", len(r))
			}
		}
	})
}

func TestUserDirs(t *testing.T) {
	env := map[string]string{"HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1000", "XDG_CONFIG_HOME": "/cfg"}
	d := UserDirs(func(k string) string { return env[k] })
	want := Dirs{Runtime: "/run/user/1000", State: "/home/u/.local/state", Cache: "/home/u/.cache",
		Logs: "/home/u/.local/state/log", Config: "/cfg"}
	if d != want {
		t.Errorf("UserDirs = %+v; want %+v", d, want)
	}
}

// Accounts reads passwd and group again when they change, also by an
// edit in place of the same size, and when they appear or go.
func TestAccountsFollowChanges(t *testing.T) {
	etc := t.TempDir()
	a := NewAccounts(etc)
	if _, err := a.User("web"); err == nil {
		t.Fatal("web found without a passwd file")
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", "web:x:1001:1001::/srv/web:/bin/sh\n")
	u, err := a.User("web")
	if err != nil || u.UID != 1001 || !slices.Equal(u.Groups, []int{1001}) {
		t.Fatalf("after passwd appeared: %+v, %v; want uid 1001, groups [1001]", u, err)
	}
	write("passwd", "web:x:1002:1001::/srv/web:/bin/sh\n") // same size, in place
	write("group", "audio:x:29:web\n")
	if u, err = a.User("web"); err != nil || u.UID != 1002 || !slices.Equal(u.Groups, []int{29, 1001}) {
		t.Fatalf("after edits: %+v, %v; want uid 1002, groups [29 1001]", u, err)
	}
	if gid, err := a.Group("audio"); err != nil || gid != 29 {
		t.Fatalf("Group(audio) = %d, %v; want 29", gid, err)
	}
	os.Remove(filepath.Join(etc, "group"))
	if _, err := a.Group("audio"); err == nil {
		t.Fatal("audio found after group was removed")
	}
	if a.passwd.records != nil {
		t.Error("passwd, changed just now, is cached; want it read again (its next change may keep its time stamps)")
	}

	// Once the files are older than any time stamp's granularity, they
	// are split once and read again only when replaced.
	a.now = func() time.Time { return time.Now().Add(time.Hour) }
	if u, err = a.User("web"); err != nil || u.UID != 1002 {
		t.Fatalf("%+v, %v; want uid 1002", u, err)
	}
	if a.passwd.records == nil {
		t.Error("passwd not cached")
	}
	tmp := filepath.Join(etc, "passwd.new")
	if err := os.WriteFile(tmp, []byte("web:x:1003:1001::/srv/web:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(etc, "passwd")); err != nil {
		t.Fatal(err)
	}
	if u, err = a.User("web"); err != nil || u.UID != 1003 {
		t.Fatalf("after passwd was replaced: %+v, %v; want uid 1003", u, err)
	}

	// A user looked up is kept, but each caller gets its own copy; a
	// group file written anew gives the user its new groups.
	u.UID, u.Groups[0] = 7, 7
	if u, err = a.User("web"); err != nil || u.UID != 1003 || !slices.Equal(u.Groups, []int{1001}) {
		t.Fatalf("after a caller changed its copy: %+v, %v; want uid 1003, groups [1001]", u, err)
	}
	if err := os.WriteFile(tmp, []byte("audio:x:29:web\nvideo:x:44:web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(etc, "group")); err != nil {
		t.Fatal(err)
	}
	if u, err = a.User("web"); err != nil || !slices.Equal(u.Groups, []int{29, 44, 1001}) {
		t.Fatalf("after group was replaced: %+v, %v; want groups [29 44 1001]", u, err)
	}
}
