package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

func TestAliasesAndBuiltins(t *testing.T) {
	web := mk("web.service", func(u *unit.Unit) { u.Aliases = []string{"www.service"} })
	p := New(map[string]*unit.Unit{
		"web.service":      web,
		"httpd.service":    web, // an alias symlink loaded under its own name
		"client.service":   mk("client.service", requires("www.service"), after("httpd.service")),
		"graphical.target": mk("graphical.target"),
	}, Options{DefaultTarget: "graphical.target"})
	for _, n := range []string{"web.service", "www.service", "httpd.service"} {
		if u, ok := p.Unit(n); !ok || u != web {
			t.Errorf("Unit(%s) = %v, %v; want web.service", n, u, ok)
		}
	}
	if got := p.Deps("client.service"); !slices.Equal(got.Requires, []string{"web.service"}) || !slices.Contains(got.After, "web.service") {
		t.Errorf("client deps not canonical: %+v", got)
	}
	if got := p.Canonical("default.target"); got != "graphical.target" {
		t.Errorf("default.target = %s; want graphical.target", got)
	}
	names := p.Names()
	if slices.Contains(names, "www.service") || slices.Contains(names, "default.target") {
		t.Errorf("Names lists aliases: %v", names)
	}
	for _, n := range []string{"multi-user.target", "sysinit.target", "shutdown.target", "network-online.target"} {
		if u, ok := p.Unit(n); !ok || u.Load != unit.Loaded || u.Path != "" {
			t.Errorf("built-in %s missing or not synthetic: %+v", n, u)
		}
	}
	if u, _ := p.Unit("graphical.target"); u != p.units["graphical.target"] || u.Path == "" {
		t.Errorf("a loaded target was replaced by the built-in")
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names not sorted")
	}
}

func TestDefaultTargetDefaultsToMultiUser(t *testing.T) {
	p := newPlan()
	if got := p.Canonical("default.target"); got != "multi-user.target" {
		t.Errorf("default.target = %s", got)
	}
	if !p.AllowIsolate("default.target") || p.AllowIsolate("basic.target") {
		t.Errorf("AllowIsolate of built-ins wrong")
	}
}

func TestDepsReverseSides(t *testing.T) {
	p := newPlan(
		mk("a.service", before("b.service"), wants("b.service"), conflicts("c.service"),
			func(u *unit.Unit) { u.EnsureDeps().PropagatesReloadTo = []string{"b.service"} }),
		mk("b.service", requires("c.service"), bindsTo("d.service"), partOf("d.service"), requisite("c.service")),
		mk("c.service", upholds("d.service")), mk("d.service"),
	)
	b := p.Deps("b.service")
	if !slices.Equal(b.After, []string{"a.service"}) || !slices.Equal(b.ReloadPropagatedFrom, []string{"a.service"}) {
		t.Errorf("b deps: %+v", b)
	}
	if c := p.Deps("c.service"); !slices.Equal(c.Conflicts, []string{"a.service"}) {
		t.Errorf("conflicts not symmetric: %+v", c)
	}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"WantedBy", p.Reverse("b.service").WantedBy, []string{"a.service"}},
		{"RequiredBy", p.Reverse("c.service").RequiredBy, []string{"b.service"}},
		{"RequisiteOf", p.Reverse("c.service").RequisiteOf, []string{"b.service"}},
		{"BoundBy", p.Reverse("d.service").BoundBy, []string{"b.service"}},
		{"ConsistsOf", p.Reverse("d.service").ConsistsOf, []string{"b.service"}},
		{"UpheldBy", p.Reverse("d.service").UpheldBy, []string{"c.service"}},
		{"ConflictedBy", p.Reverse("c.service").ConflictedBy, []string{"a.service"}},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	// Callers cannot change the plan through returned slices.
	b.After[0] = "mutated"
	if p.Deps("b.service").After[0] != "a.service" {
		t.Errorf("Deps returned shared slices")
	}
}

func TestImplicitDependencies(t *testing.T) {
	p := newPlan(
		mk("svc.service", defaults, func(u *unit.Unit) { u.Service.Sockets = []string{"svc.socket"} }),
		mk("svc.socket", defaults),
		mk("tick.timer", defaults, entries("Timer.OnCalendar=daily", "Timer.Unit=job.service")),
		mk("job.service"),
		mk("acc.socket", defaults, entries("Socket.Accept=yes")),
		mk("app.target", defaults, wants("svc.service", "job.service", "late.service")),
		mk("late.service", defaults, after("app.target")),
		mk("nodefault.service"),
	)
	tests := []struct {
		unit, rel string
		got       []string
		want      []string
	}{
		{"svc.service", "Requires", p.Deps("svc.service").Requires, []string{"sysinit.target"}},
		{"svc.service", "Wants", p.Deps("svc.service").Wants, []string{"svc.socket"}},
		{"svc.service", "After", p.Deps("svc.service").After, []string{"basic.target", "svc.socket", "sysinit.target"}},
		{"svc.service", "Before", p.Deps("svc.service").Before, []string{"app.target", "shutdown.target"}},
		{"svc.service", "Conflicts", p.Deps("svc.service").Conflicts, []string{"shutdown.target"}},
		{"svc.socket", "Before", p.Deps("svc.socket").Before, []string{"shutdown.target", "sockets.target", "svc.service"}},
		{"tick.timer", "Before", p.Deps("tick.timer").Before, []string{"job.service", "shutdown.target", "timers.target"}},
		{"tick.timer", "After", p.Deps("tick.timer").After, []string{"sysinit.target", "time-set.target", "time-sync.target"}},
		{"acc.socket", "Before", p.Deps("acc.socket").Before, []string{"shutdown.target", "sockets.target"}},
		// job.service has no default dependencies and late.service is
		// ordered after the target: neither gets After= from the target.
		{"app.target", "After", p.Deps("app.target").After, []string{"svc.service"}},
		{"nodefault.service", "Requires", p.Deps("nodefault.service").Requires, nil},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s %s = %v; want %v", tc.unit, tc.rel, tc.got, tc.want)
		}
	}
	if got := p.Reverse("job.service").TriggeredBy; !slices.Equal(got, []string{"tick.timer"}) {
		t.Errorf("job.service TriggeredBy = %v", got)
	}
}

func TestExternal(t *testing.T) {
	p := newPlan(
		mk("home.mount"),
		mk("udev.service", func(u *unit.Unit) { u.Service.ExecStart = []unit.Command{{Path: "/lib/systemd/systemd-udevd"}} }),
		mk("mine.service", func(u *unit.Unit) {
			u.Service.ExecStart = []unit.Command{{Path: "/lib/systemd/systemd-udevd"}, {Path: "/usr/bin/mine"}}
		}),
	)
	for name, want := range map[string]bool{
		"home.mount": true, "dev-sda.device": true, "user.slice": true, "systemd-logind.service": true,
		"udev.service": true, "mine.service": false, "sshd.service": false, "multi-user.target": false,
	} {
		if r, got := p.External(name); got != want || got && r == "" {
			t.Errorf("External(%s) = %q, %v; want %v", name, r, got, want)
		}
	}
}

func TestDependencyTree(t *testing.T) {
	p := newPlan(
		mk("app.target", wants("b.service", "a.service", "sub.target")),
		mk("sub.target", requires("c.service", "app.target")),
		mk("a.service", wants("x.service")), mk("b.service"), mk("c.service"), mk("x.service"),
		mk("p.service", partOf("app.target")),
	)
	render := func(tr Tree) string {
		var b strings.Builder
		var walk func(Tree, int)
		walk = func(n Tree, depth int) {
			b.WriteString(strings.Repeat("  ", depth) + n.Name)
			if n.Repeat {
				b.WriteString(" (repeat)")
			}
			b.WriteString("\n")
			for _, c := range n.Children {
				walk(c, depth+1)
			}
		}
		walk(tr, 0)
		return b.String()
	}
	want := "app.target\n  a.service\n  b.service\n  p.service\n  sub.target\n    c.service\n    app.target (repeat)\n"
	if got := render(p.DependencyTree("app.target", false, false)); got != want {
		t.Errorf("forward tree:\n%s\nwant:\n%s", got, want)
	}
	want = "app.target\n  a.service\n    x.service\n  b.service\n  p.service\n  sub.target\n    c.service\n    app.target (repeat)\n"
	if got := render(p.DependencyTree("app.target", false, true)); got != want {
		t.Errorf("forward tree --all:\n%s\nwant:\n%s", got, want)
	}
	want = "c.service\n  sub.target\n    app.target\n      sub.target (repeat)\n"
	if got := render(p.DependencyTree("c.service", true, false)); got != want {
		t.Errorf("reverse tree:\n%s\nwant:\n%s", got, want)
	}
}

func TestOrderTree(t *testing.T) {
	p := newPlan(
		mk("db.service"), mk("app.service", after("db.service")),
		mk("web.service", after("app.service", "net.target")), mk("net.target", after("db.service")),
	)
	render := func(tr Tree) string {
		var b strings.Builder
		var walk func(Tree, int)
		walk = func(n Tree, depth int) {
			b.WriteString(strings.Repeat("  ", depth) + n.Name + "\n")
			for _, c := range n.Children {
				walk(c, depth+1)
			}
		}
		walk(tr, 0)
		return b.String()
	}
	// --after follows After=; only targets are expanded without --all.
	want := "web.service\n  app.service\n  net.target\n    db.service\n"
	if got := render(p.DependencyTreeOf("web.service", TreeAfter, false)); got != want {
		t.Errorf("after tree:\n%s\nwant:\n%s", got, want)
	}
	want = "web.service\n  app.service\n    db.service\n  net.target\n    db.service\n"
	if got := render(p.DependencyTreeOf("web.service", TreeAfter, true)); !strings.HasPrefix(got, "web.service\n  app.service\n    db.service\n  net.target\n") {
		t.Errorf("after tree --all:\n%s\nwant:\n%s", got, want)
	}
	// --before follows Before=, which After= implies on the other side.
	want = "db.service\n  app.service\n  net.target\n    web.service\n"
	if got := render(p.DependencyTreeOf("db.service", TreeBefore, false)); got != want {
		t.Errorf("before tree:\n%s\nwant:\n%s", got, want)
	}
}

func TestStopOrder(t *testing.T) {
	p := newPlan(
		mk("db.service"), mk("app.service", after("db.service")), mk("web.service", after("app.service")),
		mk("side.service"),
		mk("c1.service", after("c2.service")), mk("c2.service", after("c1.service")),
	)
	order, warn := p.StopOrder([]string{"db.service", "side.service", "gone.service", "app.service", "web.service"})
	want := []string{"side.service", "web.service", "app.service", "db.service", "gone.service"}
	if !slices.Equal(order, want) || len(warn) != 0 {
		t.Errorf("StopOrder = %v, %q; want %v", order, warn, want)
	}
	order, warn = p.StopOrder([]string{"c1.service", "c2.service"})
	if len(order) != 2 || len(warn) != 1 {
		t.Errorf("cycle: order %v, warnings %q", order, warn)
	}
}

// TestRelListsMatchDepLists keeps rel.list and depLists in step.
func TestRelListsMatchDepLists(t *testing.T) {
	var d unit.Deps
	lists := depLists(&d)
	for r := relRequires; r < relTriggers; r++ {
		if r.list(&d) != lists[r] {
			t.Errorf("rel %d names a different list than depLists", r)
		}
	}
	if relTriggers.list(&d) != nil || len(lists) != int(relTriggers) {
		t.Errorf("relTriggers must be the first non-list relation")
	}
}

func TestParseKindAndMode(t *testing.T) {
	for k := Start; k <= VerifyActive; k++ {
		if got, err := ParseJobKind(k.String()); err != nil || got != k {
			t.Errorf("ParseJobKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	for m := Replace; m <= IgnoreRequirements; m++ {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if m, err := ParseMode(""); err != nil || m != Replace {
		t.Errorf(`ParseMode("") = %v, %v`, m, err)
	}
	for _, bad := range []string{"Start", "flush", "replace "} {
		if _, err := ParseJobKind(bad); err == nil {
			t.Errorf("ParseJobKind(%q) accepted", bad)
		}
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q) accepted", bad)
		}
	}
	if s := JobKind(99).String(); s != "JobKind(99)" {
		t.Errorf("JobKind(99).String() = %q", s)
	}
}

// TestConcurrentUse runs queries from several goroutines; with -race it
// proves a Plan is read-only after New.
func TestConcurrentUse(t *testing.T) {
	p := New(bigSystem(50), Options{})
	done := make(chan string)
	for range 4 {
		go func() {
			tr, err := p.Transaction(Start, []string{"default.target"}, Replace, nil)
			if err != nil {
				done <- err.Error()
				return
			}
			p.StopOrder(p.Names())
			p.DependencyTree("default.target", false, true)
			p.Reverse("sysinit.target")
			done <- describe(tr)
		}()
	}
	first := <-done
	for range 3 {
		if got := <-done; got != first {
			t.Errorf("concurrent transactions differ:\n%s\n%s", first, got)
		}
	}
}
