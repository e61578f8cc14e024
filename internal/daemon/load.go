package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/condition"
	"github.com/tendproject/tend/internal/inetd"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/rundir"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// loader reads the unit search path into a plan.
type loader struct {
	dirs []string
	// cgroups, when set, tells which resource-control directives can
	// be applied here (checkResources).
	cgroups *cgroup.Manager
	env     unit.Env
	log     *slog.Logger
	// legacy are the inetd/xinetd files whose units are generated into
	// gen, a directory of the search path ("" when there are none).
	legacy inetd.Config
	gen    string
	// crontabs are generated into gen too; watch sees them change
	// (crontab.go, crontab_watch.go).
	crontabs crontabs
	watch    *crontabWatch
	// ahead is the generator run newDaemon starts before the first
	// load; set and taken on newDaemon's goroutine, before any other
	// load can run.
	ahead *generation

	// install is held from building a plan to its installation, so that
	// a daemon-reload and a service directory's arrival cannot install
	// their plans in the wrong order.
	install sync.Mutex
	mu      sync.Mutex // guards last, frozen, files, svdirs
	last    time.Time  // when the units in force were read
	// frozen answers loads of units outside the plan (Accept=yes
	// instances) from the search path as the last load scanned it, and
	// from the files as it first read them.
	frozen *unit.Loader
	// files are the units read from the search path at the last load;
	// svdirs the units of service directories (svdir.go). A plan is
	// both: a change of either builds one without re-reading the other.
	files  map[string]*unit.Unit
	svdirs map[string]*unit.Unit
}

// loadUnit loads one unit the plan does not hold, such as an instance
// of a template.
func (l *loader) loadUnit(name string) (*unit.Unit, error) {
	l.mu.Lock()
	ld := l.frozen
	l.mu.Unlock()
	if ld == nil {
		ld = &unit.Loader{Dirs: l.dirs, Env: l.env}
	}
	return ld.Load(name)
}

// addInstances loads the named template instances and installs a plan
// holding them next to the units in force; names whose template is
// missing are left out (the start then reports them not found).
func (d *daemon) addInstances(ctx context.Context, names []string) error {
	l := d.loader
	l.install.Lock()
	defer l.install.Unlock()
	var loaded []*unit.Unit
	for _, n := range names {
		u, err := l.loadUnit(n)
		if err != nil || u.Load == unit.NotFound {
			continue
		}
		for _, dg := range u.Diags {
			d.log.Warn(dg.Error())
		}
		loaded = append(loaded, u)
	}
	if len(loaded) == 0 {
		return nil
	}
	l.mu.Lock()
	files := make(map[string]*unit.Unit, len(l.files)+len(loaded))
	for name, u := range l.files {
		files[name] = u
	}
	for _, u := range loaded {
		files[u.Name] = u
	}
	l.files = files
	pl := l.buildLocked()
	l.mu.Unlock()
	_, err := d.mgr.Reload(ctx, pl)
	return err
}

func (l *loader) loadedAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

func newLoader(cfg Config, log *slog.Logger) *loader {
	l := &loader{dirs: cfg.UnitDirs, log: log}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if cfg.User {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		l.env = unit.UserEnv(home, getenv)
		if len(l.dirs) == 0 {
			l.dirs = unit.UserDirs(home, getenv)
		}
	} else {
		l.env = unit.SystemEnv()
		if len(l.dirs) == 0 {
			l.dirs = unit.SystemDirs()
		}
	}
	l.env.FillHost("/")
	l.legacy = legacyConfig(cfg)
	l.setupCrontabs(cfg, getenv)
	if len(l.legacy.Inetd)+len(l.legacy.Xinetd)+len(l.crontabs.sources) > 0 {
		l.gen = filepath.Join(cfg.Paths.Runtime, "generator")
		l.dirs = withGenerator(l.dirs, l.gen)
	}
	return l
}

// legacyConfig decides which inetd.conf and xinetd.conf files to read:
// those named, or for the system instance without --units the standard
// ones that exist (checked at every load, so a file created later is
// read on reload; Config.hostInstance).
func legacyConfig(cfg Config) inetd.Config {
	pick := func(named []string, std string) []string {
		if named == nil && cfg.hostInstance() {
			return []string{std}
		}
		var out []string
		for _, p := range named {
			if p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return inetd.Config{Services: "/etc/services", Etc: "/etc",
		Inetd: pick(cfg.Inetd, "/etc/inetd.conf"), Xinetd: pick(cfg.Xinetd, "/etc/xinetd.conf"),
		Optional: []string{"/etc/inetd.conf", "/etc/xinetd.conf"}}
}

// withGenerator puts gen where systemd puts its generator directory:
// after the administrator's and runtime directories, before the vendor
// ones, so a unit file of the same name in /etc overrides a generated one.
func withGenerator(dirs []string, gen string) []string {
	out := make([]string, 0, len(dirs)+1)
	placed := false
	for _, d := range dirs {
		if !placed && (strings.HasPrefix(d, "/usr/") || strings.HasPrefix(d, "/lib/")) {
			out, placed = append(out, gen), true
		}
		out = append(out, d)
	}
	if !placed {
		out = append(out, gen)
	}
	return out
}

// generation is the first load's reading of the unit files, after the
// generator's run, on a goroutine of its own.
type generation struct {
	done chan struct{}
	msgs []string
	read fileRead
}

// fileRead is the unit files as one scan of the search path found them.
type fileRead struct {
	start  time.Time    // when the generator's files were in place
	frozen *unit.Loader // answers from the scan the set was read from
	set    *unit.Set
	diags  []unit.Diag
}

// readFiles reads every unit of the search path.
func (l *loader) readFiles() fileRead {
	r := fileRead{start: time.Now()}
	ld := &unit.Loader{Dirs: l.dirs, Env: l.env}
	r.frozen, r.set, r.diags = ld.LoadAllFrozen()
	return r
}

// readAhead runs the generator and reads the unit files while the
// daemon's other set-up runs; the first load takes what it read.
func (l *loader) readAhead() {
	g := &generation{done: make(chan struct{})}
	l.ahead = g
	go func() {
		defer close(g.done)
		// Generated files are written before the load time is taken,
		// so they do not look changed on disk since.
		g.msgs = l.generate()
		g.read = l.readFiles()
	}()
}

// filesRead waits for the reading readAhead started, or runs the
// generator and reads the files now, and returns both.
func (l *loader) filesRead() ([]string, fileRead) {
	if g := l.ahead; g != nil {
		l.ahead = nil
		<-g.done
		return g.msgs, g.read
	}
	msgs := l.generate()
	return msgs, l.readFiles()
}

// waitAhead waits for the reading readAhead started, on a start that failed.
func (l *loader) waitAhead() {
	if g := l.ahead; g != nil {
		<-g.done
	}
}

// generate rewrites the generator directory from the legacy files.
func (l *loader) generate() []string {
	if l.gen == "" {
		return nil
	}
	units, diags := inetd.Read(l.legacy)
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.Error())
	}
	cronUnits, cronMsgs := l.readCrontabs()
	units, msgs = append(units, cronUnits...), append(msgs, cronMsgs...)
	if err := inetd.WriteDir(l.gen, units); err != nil {
		msgs = append(msgs, err.Error())
	}
	return msgs
}

// load reads every unit, and the instances named in keep that no file
// or dependency brings in (liveInstances); diagnostics come back as
// "file:line: message".
func (l *loader) load(keep ...string) (*plan.Plan, []string) {
	msgs, read := l.filesRead()
	start, fz, set := read.start, read.frozen, read.set
	for _, d := range read.diags {
		msgs = append(msgs, d.Error())
	}
	msgs = append(msgs, checkSockets(set, &l.env)...)
	msgs = append(msgs, checkTimers(set, &l.env, loadZone())...)
	msgs = append(msgs, checkResources(set, l.cgroups)...)
	// Memoized after the load: the set's files are not kept twice.
	frozen := fz.Memoize()
	l.mu.Lock()
	l.frozen = frozen
	l.mu.Unlock()
	units := make(map[string]*unit.Unit, len(set.Units))
	for name, u := range set.Units {
		units[name] = u
	}
	for alias, name := range set.Aliases() {
		if u, ok := set.Units[name]; ok {
			units[alias] = u
		}
	}
	for _, name := range keep {
		if _, ok := units[name]; ok {
			continue
		}
		// From the template as it is now, as systemd reloads a loaded
		// instance; one whose template is gone stays out (the
		// supervisor keeps it until it stops).
		if u, err := frozen.Load(name); err == nil && u.Load != unit.NotFound {
			units[name] = u
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.files = start, units
	return l.buildLocked(), msgs
}

// buildLocked makes the plan of the units in force: the files' and the
// service directories' (which win over a file of the same name).
func (l *loader) buildLocked() *plan.Plan {
	units := l.files
	if len(l.svdirs) > 0 {
		units = make(map[string]*unit.Unit, len(l.files)+len(l.svdirs))
		for name, u := range l.files {
			units[name] = u
		}
		for name, u := range l.svdirs {
			units[name] = u
		}
	}
	return plan.New(units, plan.Options{Logger: l.log})
}

// reload re-reads the units, hands the new plan to the supervisor and
// then gives back the memory the reload no longer needs (settle).
func (d *daemon) reload(ctx context.Context) (plan.Changes, error) {
	ch, err := d.reloadPlan(ctx)
	if err == nil {
		d.settle(ctx)
	}
	return ch, err
}

// reloadPlan re-reads the units and hands the new plan to the supervisor.
func (d *daemon) reloadPlan(ctx context.Context) (plan.Changes, error) {
	d.loader.install.Lock()
	defer d.loader.install.Unlock()
	pl, diags := d.loader.load(d.liveInstances(ctx)...)
	for _, dg := range diags {
		d.log.Warn(dg)
	}
	ch, err := d.mgr.Reload(ctx, pl)
	if err == nil {
		d.log.Info("reloaded units", "added", len(ch.Added), "removed", len(ch.Removed), "changed", len(ch.Changed))
	}
	return ch, err
}

// settle ends the boot or a reload once all it caused is done. Both
// parse and plan every unit, and the boot starts them: the parse, an old
// plan and the start's transaction are garbage now, and an idle daemon
// should not keep their pages until the heap grows back into them. The
// trim comes last: garbage made after it (the state-file write the start
// or reload causes encodes every unit it changed; a daemon-reload's
// report lists every unit) would land in the pages just returned and
// stay resident, tens of MB with 20,000 units. It is one event at the end
// of each, never a timer: an idle daemon does not wake up for it.
func (d *daemon) settle(ctx context.Context) {
	if err := d.mgr.Settle(ctx); err != nil {
		return
	}
	trimMemory()
	if d.cfg.HeapProfile != "" {
		if err := writeHeapProfile(d.cfg.HeapProfile); err != nil {
			d.log.Warn("cannot write heap profile", "err", err)
		}
	}
}

// liveInstances names the template instances of the plan in force that
// are not inactive ("tend start getty@tty3", which no file names): a
// reload keeps them, as systemd keeps a loaded unit that runs or failed
// and the supervisor keeps its state. An inactive one is loaded again
// by its next start.
func (d *daemon) liveInstances(ctx context.Context) []string {
	pl := d.mgr.CurrentPlan()
	sts, err := d.mgr.List(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, st := range sts {
		if _, inst, _ := unit.SplitName(st.Name); inst == "" || st.Active == supervise.Inactive {
			continue
		}
		if _, ok := pl.Unit(st.Name); ok { // not an Accept=yes connection's
			out = append(out, st.Name)
		}
	}
	return out
}

// conditionEnv describes this host and tend's own process to Condition*=
// checks.
func conditionEnv(cfg Config) condition.Env {
	env := condition.ProcessEnv()
	env.Root, env.Proc = "/", "/proc"
	if h, err := os.Hostname(); err == nil {
		env.Hostname = h
	}
	if u, err := spawn.LookupUser(strconv.Itoa(os.Getuid())); err == nil {
		env.User = u.Name
	}
	return env
}

// baseEnv is the environment every service starts from, as systemd's
// manager environment: a fixed PATH and the locale tend was given.
func baseEnv(cfg Config) []string {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"LANG", "LC_ALL", "TZ"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if cfg.User {
		env = append(env, userEnv(getenv)...)
	}
	return env
}

// userEnv is what a user instance adds for every service, as systemd's
// user manager does: the account (USER, LOGNAME, HOME, SHELL,
// systemd.exec(5); HOME and SHELL are tend's own when set, as systemd's
// get_home_dir() prefers $HOME, else passwd's), the runtime directory tend
// itself uses (also when su or cron left XDG_RUNTIME_DIR unset), and the
// session's display and bus.
func userEnv(getenv func(string) string) []string {
	env := []string{"XDG_RUNTIME_DIR=" + rundir.User(getenv, os.Getuid())}
	if u, err := spawn.LookupUser(strconv.Itoa(os.Getuid())); err == nil {
		home, shell := u.Home, u.Shell
		if h := getenv("HOME"); filepath.IsAbs(h) {
			home = h
		}
		if sh := getenv("SHELL"); filepath.IsAbs(sh) {
			shell = sh
		}
		env = append(env, "USER="+u.Name, "LOGNAME="+u.Name, "HOME="+home, "SHELL="+shell)
	}
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// remainingChildren lists tend's live children (as subreaper, orphans of
// its units land here); as PID 1 every other process is its concern.
func remainingChildren() []int {
	var pids []int
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// checkResources names, once per unit at load, the resource-control
// directives no cgroup controller available to tend can apply here.
func checkResources(set *unit.Set, cm *cgroup.Manager) []string {
	if cm == nil {
		return nil
	}
	var msgs []string
	for _, u := range set.Units {
		if u.Service == nil || u.Load != unit.Loaded {
			continue
		}
		if missing := supervise.UnavailableLimits(u.Service, cm); len(missing) > 0 {
			d := unit.Diag{File: u.Path, Severity: unit.Warning,
				Msg: "resource control not available here (no such cgroup controller for tend), ignored: " + strings.Join(missing, ", ")}
			u.Diags = append(u.Diags, d)
			msgs = append(msgs, d.Error())
		}
	}
	return msgs
}

// checkSockets types every socket unit's [Socket] section at load, so
// that bad values and directives tend does not apply are reported by
// name now, and a socket systemd would refuse is marked bad-setting.
func checkSockets(set *unit.Set, env *unit.Env) []string {
	var msgs []string
	for _, u := range set.Units {
		if u.Kind != unit.KindSocket || u.Load != unit.Loaded {
			continue
		}
		_, diags, ok := activate.ParseSpec(u, env)
		for _, d := range diags {
			msgs = append(msgs, d.Error())
		}
		u.Diags = append(u.Diags, diags...)
		if !ok {
			u.Load = unit.BadSetting
		}
	}
	return msgs
}
