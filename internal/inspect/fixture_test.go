package inspect

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/procfs"
	"github.com/tendproject/tend/internal/procfs/procfstest"
)

func fixtureCollector(tb testing.TB, units UnitSource) *Collector {
	root, _ := procfstest.Tree(tb)
	c := NewCollector(procfs.New(root), units)
	c.Now = func() time.Time { return time.Unix(1700000000+3600, 0) }
	return c
}

func psText(t *testing.T, c *Collector, o PsOptions) string {
	t.Helper()
	tab, err := Ps(context.Background(), c, o)
	if err != nil {
		t.Fatalf("Ps(%+v): %v", o, err)
	}
	var b bytes.Buffer
	if err := tab.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPsFixture(t *testing.T) {
	got := psText(t, fixtureCollector(t, nil), PsOptions{All: true, Columns: []string{"pid,ppid,stat,tty,uid,unit,args"}})
	want := `    1     0 Ss   ?            0 tend        /usr/bin/tend run
    2     0 S    ?            0 -           [kthreadd]
  100     1 S<s  ?            0 web.service nginx: master process /usr/sbin/nginx -g daemon off;
  101   100 RNl  ?           33 web.service nginx: worker process
  200     1 S+   pts/0     1000 odd.service /opt/odd arg with space (x)
  300   100 Z    ?            0 web.service [defunct-child] <defunct>
  400     1 SLs  ?         1000 app.service /usr/bin/app
  401     1 S    ?         1000 -           /usr/bin/stray --daemon
`
	if got != want {
		t.Errorf("ps -e =\n%s\nwant\n%s", got, want)
	}
}

func TestPsFilters(t *testing.T) {
	c := fixtureCollector(t, nil)
	tests := []struct {
		name string
		opts PsOptions
		want string // pids, one per line
	}{
		{"zombies", PsOptions{Zombies: true}, "300"},
		{"orphans", PsOptions{Orphans: true}, "200 401"},
		{"daemons", PsOptions{Daemons: true}, "1 100 101 300 400 401"},
		{"unit", PsOptions{Units: []string{"web.service"}}, "100 101 300"},
		{"pid", PsOptions{PIDs: []int{101, 2}}, "2 101"},
		{"user", PsOptions{Users: []string{"1000"}}, "200 400 401"},
		{"sort", PsOptions{All: true, Sort: []string{"-uid,pid"}}, "200 400 401 101 1 2 100 300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (len(tt.opts.Users) > 0 || len(tt.opts.Sort) > 0) && os.Geteuid() != 0 {
				t.Skip("the effective uid is the owner of /proc/PID; giving the fixture's its owner needs root")
			}
			tt.opts.Columns = []string{"pid"}
			got := strings.Join(strings.Fields(psText(t, c, tt.opts)), " ")
			if got != tt.want {
				t.Errorf("pids = %q; want %q", got, tt.want)
			}
		})
	}
	z := psText(t, c, PsOptions{Zombies: true, Columns: []string{"pid,parent"}})
	if !strings.Contains(z, "nginx(100)") {
		t.Errorf("zombie row %q does not name its parent nginx(100)", z)
	}
}

func TestPsBadInput(t *testing.T) {
	c := fixtureCollector(t, nil)
	if tab, err := Ps(context.Background(), c, PsOptions{PIDs: []int{4242}}); err != nil || len(tab.Rows) != 0 {
		t.Errorf("no such pid: %d rows, %v; want none and no error (procps prints the header and exits 1)", len(tab.Rows), err)
	}
	for name, o := range map[string]PsOptions{
		"unit not found": {Units: []string{"nope.service"}},
		"bad column":     {All: true, Columns: []string{"pid,bogus"}},
		"bad sort":       {All: true, Sort: []string{"bogus"}},
		"unknown user":   {Users: []string{"no-such-user-xyz"}},
	} {
		if _, err := Ps(context.Background(), c, o); err == nil {
			t.Errorf("%s: Ps succeeded; want an error", name)
		}
	}
}

type fakeUnits map[int]string

func (f fakeUnits) ProcessUnits(context.Context) (map[int]string, error) { return f, nil }

func TestDaemonUnitsFillGaps(t *testing.T) {
	c := fixtureCollector(t, fakeUnits{401: "stray.service", 100: "other.service"})
	got := psText(t, c, PsOptions{PIDs: []int{100, 401}, Columns: []string{"pid,unit"}})
	want := "  100 web.service\n  401 stray.service\n"
	if got != want {
		t.Errorf("units =\n%s\nwant (cgroup wins, daemon fills the gap)\n%s", got, want)
	}
}

func TestTreeFixture(t *testing.T) {
	c := fixtureCollector(t, nil)
	tests := []struct {
		name string
		opts TreeOptions
		want string
	}{
		{"pids", TreeOptions{ShowPIDs: true, ASCII: true}, "" +
			"tend(1)-+-[app.service]---app(400)\n" +
			"        |-[odd.service]---a (b) c?d(200)\n" +
			"        |-[web.service]---nginx(100)-+-defunct-child(300)\n" +
			"        |                            `-nginx(101)-+-{nginx}(102)\n" +
			"        |                                         `-{nginx}(103)\n" +
			"        `-stray(401)\n"},
		{"compact", TreeOptions{ASCII: true, NoUnits: true}, "" +
			"tend-+-a (b) c?d\n" +
			"     |-app\n" +
			"     |-nginx-+-defunct-child\n" +
			"     |       `-nginx---2*[{nginx}]\n" +
			"     `-stray\n"},
		{"unit", TreeOptions{Unit: "web.service", ShowPIDs: true}, "" +
			"[web.service]───nginx(100)─┬─defunct-child(300)\n" +
			"                           └─nginx(101)─┬─{nginx}(102)\n" +
			"                                        └─{nginx}(103)\n"},
		{"args", TreeOptions{PID: 100, ShowArgs: true, ASCII: true, ThreadNames: true}, "" +
			"nginx\n" +
			"  |-defunct-child\n" +
			"  `-nginx\n" +
			"      |-{worker-102}\n" +
			"      `-{worker-103}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots, err := Tree(context.Background(), c, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			RenderTree(&b, roots, tt.opts)
			if b.String() != tt.want {
				t.Errorf("tree =\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
	if _, err := Tree(context.Background(), c, TreeOptions{PID: 4242}); err == nil {
		t.Error("Tree of a missing pid succeeded; want an error")
	}
	if _, err := Tree(context.Background(), c, TreeOptions{Unit: "nope.service"}); err == nil {
		t.Error("Tree of a unit with no processes succeeded; want an error")
	}
}

func TestUnitFromCgroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/tend/web.service", "web.service"},
		{"/tend/web.service/worker", "web.service"},
		{"/tend", "tend"},
		{"/tend-user-1000/app.service", "app.service"},
		{"/system.slice/tend.service/tend/db.service", "db.service"},
		{"/tend/a.slice/b.service", "b.service"},
		{"/tend/a.slice", ""},
		{"/user.slice/session-1.scope", ""},
		{"/", ""},
		{"", ""},
		{"/tendency/x.service", ""},
		{"/tend/.service", ""},
	}
	for _, tt := range tests {
		if got := UnitFromCgroup(tt.in); got != tt.want {
			t.Errorf("UnitFromCgroup(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzUnitFromCgroup(f *testing.F) {
	f.Add("/tend/web.service")
	f.Add("/tend-user-1000/a.service/b")
	f.Fuzz(func(t *testing.T, path string) {
		u := UnitFromCgroup(path)
		if u != "" && u != SelfLabel && !strings.Contains(path, u) {
			t.Fatalf("UnitFromCgroup(%q) = %q, not part of the path", path, u)
		}
	})
}

func TestTopFixture(t *testing.T) {
	top := NewTop(fixtureCollector(t, nil), "")
	defer top.Close()
	f, err := top.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Tasks["total"] != 8 || f.Tasks["zombie"] != 1 || f.Tasks["running"] != 1 {
		t.Errorf("tasks = %v; want 8 total, 1 zombie, 1 running", f.Tasks)
	}
	var b bytes.Buffer
	if err := f.WriteBatch(&b, TopView{Sort: SortPID, Reverse: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"up  1:00", "load average: 0.50, 0.25, 0.10", "Tasks:   8 total,   1 running,   6 sleeping,   0 stopped,   1 zombie",
		"MiB Mem :   7812.5 total", "web.service"} {
		if !strings.Contains(out, want) {
			t.Errorf("top output lacks %q:\n%s", want, out)
		}
	}
	rows := f.Arrange(TopView{ByUnit: true, Sort: SortUnit, Reverse: true})
	var units []string
	for _, r := range rows {
		units = append(units, r.Unit+":"+num(r.Procs))
	}
	if got := strings.Join(units, " "); got != "-:2 app.service:1 odd.service:1 tend:1 web.service:3" {
		t.Errorf("units = %q", got)
	}
	tree := f.Arrange(TopView{Tree: true, Sort: SortPID, Reverse: true})
	var order []string
	for _, r := range tree {
		order = append(order, num(r.PID))
	}
	if got := strings.Join(order, " "); got != "1 100 101 300 200 400 401 2" {
		t.Errorf("tree order = %q", got)
	}
}
