// Package daemon wires tend's parts into the running service manager:
// reaper, cgroups, journal, notify socket, unit loading, supervisor and the
// control API. It holds no domain logic of its own.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/clockwatch"
	"github.com/tendproject/tend/internal/gcpace"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/logroute"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/syslog"
)

// Config is everything `tend run` decides from its flags and environment.
type Config struct {
	User     bool     // per-user instance
	UnitDirs []string // search path; empty = the standard directories
	Paths    Paths
	Target   string // unit to start at boot; default "default.target"
	// ExitWith ends tend when this unit stops, with the unit's exit status
	// (for containers whose life is one service).
	ExitWith string
	// Forward sends every journal entry to a remote syslog server
	// (udp://, tcp:// or tls://HOST:PORT); "" for none.
	Forward string
	// SyslogConf names syslog.conf-style files whose selector lines route
	// journal entries to files, pipes, terminals and remote servers
	// (internal/syslogconf, internal/logroute). nil means
	// syslogconf.Defaults where they exist, for the system instance with
	// the standard unit directories; an empty non-nil list reads none.
	SyslogConf []string
	// NoHolder runs without the fd holder process (fdholder.go), for
	// harnesses that take "no child process left" as the end of a run.
	NoHolder bool
	// HolderGrace is how long the fd holder keeps what it holds once
	// tend is gone without a clean exit (a crash, kill -9), waiting for
	// the next tend to take it back; 0 for ever.
	HolderGrace time.Duration
	// LogHost makes tend receive other machines' syslog messages.
	LogHost LogHost
	// Kmsg reads the kernel's log (/dev/kmsg) into the journal.
	Kmsg bool
	// Journal tunes the journal's limits; Dir is taken from Paths.
	Journal journal.Options
	// LogGroups name the groups whose members may read every log of the
	// system instance; nil means DefaultLogGroups (those that exist).
	LogGroups []string
	// Inetd and Xinetd name inetd.conf and xinetd.conf files whose
	// entries become generated socket units (internal/inetd). nil means
	// /etc/inetd.conf and /etc/xinetd.conf for the system instance, when
	// they exist, and none for a user instance; an empty non-nil list
	// reads none.
	Inetd, Xinetd []string
	// Svdirs are scan directories of runit/daemontools service
	// directories, each run as a .svdir unit (svdir.go). nil means
	// /etc/service and /var/service where they exist, for the system
	// instance with the standard unit directories; an empty non-nil list
	// scans none.
	Svdirs []string
	// Crontab names crontab files, or directories of them, whose entries
	// become generated timer and service units (internal/cron). nil means
	// the standard ones: /etc/crontab, /etc/cron.d and the crontab(1)
	// spool for the system instance, $XDG_CONFIG_HOME/tend/crontab for a
	// user instance; an empty non-nil list reads none.
	Crontab []string
	// ShutdownTimeout bounds the orderly stop at exit.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Getenv          func(string) string
	// Version is the binary's version, for GET /v1/manager.
	Version string
	// DebugPanicHook serves POST /v1/debug/panic, which makes tend
	// panic on purpose (panic.go): for the tests of panic recovery only.
	DebugPanicHook bool
	// HeapProfile, when set, is where the boot and each daemon-reload
	// write a heap profile (pprof) once their collection is done: what
	// an idle daemon keeps, for memory work ("go tool pprof
	// -sample_index inuse_space").
	HeapProfile string
}

// hostInstance: the instance is the host's system manager (neither a
// user's nor one given --units of its own), whose defaults include the
// host's files: /etc/service, syslog.conf, inetd.conf and xinetd.conf.
// Another instance reading them would serve the host's services a
// second time.
func (c Config) hostInstance() bool { return !c.User && len(c.UnitDirs) == 0 }

// Run starts the manager and blocks until SIGTERM/SIGINT (or the ExitWith
// unit's end), then stops every unit in reverse dependency order. The
// returned code is tend's exit status.
func Run(ctx context.Context, cfg Config) (int, error) {
	// A write to a closed stderr (`tend run | head`, a log collector
	// restarting) must fail with EPIPE, not kill the manager. Ignoring
	// SIGPIPE does that and is also IgnoreSIGPIPE='s default (yes) for
	// every child at no cost: fork and exec keep an ignored signal (Go
	// resets only those it handles). For a unit with IgnoreSIGPIPE=no, a
	// service directory or a cron job, the fork hands SIGPIPE to Go's
	// runtime first (spawn's setSIGPIPE), which resets it in the child.
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	// Idle means idle: no forced collection every two minutes (gcpace).
	pacer := gcpace.Start(gcPercent)
	defer pacer.Stop()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Target == "" {
		cfg.Target = "default.target"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 90 * time.Second
	}
	// A re-exec'd manager takes over what the previous process handed
	// it (reexec.go): locks, sockets, log pipes and the units' state.
	h, err := takeHandoff()
	if err != nil {
		cfg.Logger.Error("cannot take over from the previous process; adopting its services as after a crash", "err", err)
	}
	// Nothing may be created or removed before the instance is ours.
	var lock *instanceLock
	if h != nil {
		lock = adoptLocks(cfg.Paths, h.Locks, cfg.Logger)
	}
	if lock == nil {
		if lock, err = lockInstance(cfg.Paths); err != nil {
			return 1, err
		}
	}
	defer lock.release()
	endBootGC := raiseGCForBoot(pacer)
	defer endBootGC()
	d, err := newDaemon(cfg, h)
	if err != nil {
		return 1, err
	}
	d.lock, d.endBootGC = lock, endBootGC
	defer d.guard("main")
	code, err := d.run(ctx)
	switch {
	case d.handedOff:
	case d.gaveUp != 0:
		// Exiting at once, but not leaving the instance's groups behind
		// (close does the rest, which may wait): the processes the
		// escalation SIGKILLed leave them in milliseconds.
		if d.cgroups != nil {
			d.cgroups.AwaitEmpty(abandonWait)
		}
		d.pruneCgroups()
		d.holder.kill()
	default:
		d.close()
	}
	if d.sigs != nil {
		signal.Stop(d.sigs)
	}
	return code, err
}

// daemon is one running manager instance.
type daemon struct {
	// sigs receives SIGTERM, SIGINT, SIGHUP and SIGUSR1 from before the
	// first service starts until tend's last clean-up step is done: one
	// that came in between once killed tend with the signal's default
	// action, leaving its groups and the fd holder behind.
	sigs    chan os.Signal
	cfg     Config
	log     *slog.Logger
	reaper  *reaper.Reaper
	cgroups *cgroup.Manager
	journal *journal.Journal
	notify  *notify.Socket
	mgr     *supervise.Manager
	loader  *loader
	server  *api.Server
	ln      net.Listener      // the control socket, bound before anything else
	syslog  *syslogIn         // nil when not capturing syslog
	forward *syslog.Forwarder // nil when not forwarding; set before the API serves
	// router writes syslog.conf's files (nil without rules); ruleForwards
	// carry out its @host rules. Both are set before the API serves.
	router       *logroute.Router
	ruleForwards []*syslog.Forwarder
	// loghost are the --syslog-listen sockets, bound in newDaemon, and
	// loghostRecv their receiver.
	loghost     []netListener
	loghostRecv *syslog.Receiver
	// senders caches the units of syslog senders and syslogBatch collects
	// received messages for the journal (syslog.go).
	senders     senderUnits
	syslogBatch syslogBatch
	svdir       *svdirScan // nil when no scan directory is watched
	holder      *holder    // the fd holder; nil without one (fdholder.go)

	// exitCode is set by the ExitWith watcher before it asks for shutdown.
	exitMu   sync.Mutex // guards exitCode
	exitCode int
	stop     chan struct{} // closed to begin shutdown
	reaped   chan struct{} // a token after each reaped exit (for shutdown)
	stopOnce sync.Once
	// restored: the units' state was taken back from a manager that ran
	// before (a crash or a re-exec), so the boot target is not started
	// again: what the user stopped stays stopped.
	restored bool
	lock     *instanceLock
	exe      string // the binary on disk, as it was started (daemon-reexec)
	// parts stops the API, notify and syslog servers one by one for a
	// re-exec; reexecReq asks the main goroutine for one.
	parts     parts
	reexecReq chan reexecAsk
	// apiClosed is closed when the API server stopped accepting.
	apiClosed     chan struct{}
	apiClosedOnce sync.Once
	// handedOff: the state went to a re-exec that failed; nothing is
	// cleaned up, so the next start adopts the services.
	handedOff bool
	zone      atomic.Pointer[time.Location] // the local time zone, as timers see it
	clock     *clockwatch.Watcher           // clock settings and zone changes; nil if unavailable
	// gaveUp is the signal that made tend stop waiting for the shutdown
	// (then it exits at once, leaving its goroutines and clean-up); set by
	// run before it returns.
	gaveUp syscall.Signal
	forker *spawn.Forker // nil: services fork from the manager's threads
	// bootTx is the boot target's transaction, prepared while the daemon
	// is set up; nil after a re-exec. boot uses it, or run waits for it,
	// and drops it then.
	bootTx *supervise.Prepared
	// endBootGC puts the collector's target back once the boot target
	// is reached (trim.go).
	endBootGC func()
	// panics is how many times a panic restarted this tend in place
	// (panic.go); after shuttingDown is set a panic is not one.
	panics       int
	shuttingDown atomic.Bool

	// fdsReserved closes once reserveFDs has grown the descriptor table
	// (nil once waited for: fdsGrown).
	fdsReserved <-chan struct{}
}

func newDaemon(cfg Config, h *handoff) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), reaped: make(chan struct{}, 1),
		reexecReq: make(chan reexecAsk), apiClosed: make(chan struct{}), endBootGC: func() {}}
	grown := growFDs(nil, earlyFDs) // the last growth started; it waits for the ones before
	defer func() {
		if err != nil {
			<-grown
		}
	}()
	d.exe, _ = os.Executable() // before anyone replaces the file
	d.panics = panicRestarts()
	d.zone.Store(loadZone())
	// Bad flags are refused before anything is created.
	gids, groups, err := logGroups("/etc", cfg.LogGroups)
	if err != nil {
		return nil, err
	}
	// Children start from a known state: the default umask (spawn's fast
	// path inherits it) and none of the descriptors tend was started with.
	unix.Umask(0o022)
	if err := spawn.SealInheritedFDs(); err != nil {
		return nil, fmt.Errorf("cannot seal inherited descriptors: %w", err)
	}
	// The forker copies the descriptor table while it is still small.
	if d.forker, err = spawn.NewForker(); err != nil {
		d.log.Debug("services fork from the manager's threads", "err", err)
	}
	p := cfg.Paths
	// The control socket first: a live socket (a tend from before
	// instance locks) refuses the start before anything else is touched.
	if d.ln, err = h.listener(p.Socket); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if ul, ok := d.ln.(*net.UnixListener); ok {
		// A re-exec closes the listener but keeps the socket, with the
		// connections queued in it, for the next process.
		ul.SetUnlinkOnClose(false)
	}
	d.cgroups, err = cgroup.Open(cgroup.Options{Root: "/sys/fs/cgroup", Proc: "/proc", Base: p.CgroupBase, Logger: d.log})
	if err != nil {
		d.ln.Close()
		return nil, fmt.Errorf("%w; not starting a second manager there", err)
	}
	d.log.Info("cgroup tracking", "mode", d.cgroups.Mode(), "where", d.cgroups.Where())
	// The instance is ours: the inetd and crontab generator writes its
	// units, and the unit files are read, while the rest is set up.
	d.loader = newLoader(cfg, d.log)
	d.loader.cgroups = d.cgroups
	d.loader.readAhead()
	defer func() {
		if err != nil {
			d.loader.waitAhead()
		}
	}()
	if d.reaper, err = reaper.New(reaper.Options{Logger: d.log, Reaped: d.noteReaped}); err != nil {
		return nil, err
	}
	jopts := cfg.Journal
	jopts.Dir, jopts.Logger, jopts.OnPanic = p.Journal, d.log, d.onPanic
	// The holder before the journal, which gives it every pipe; after a
	// crash it has what the previous manager gave it (crash.go).
	if cfg.NoHolder {
		d.log.Warn("no fd holder (--fd-holder=false): a crash of tend would lose log lines and refuse connections")
	} else if d.holder = openHolder(p.Runtime, cfg.HolderGrace, d.log); d.holder != nil {
		jopts.Holder = d.holder.q
		// What the pipe reader took and had not committed survives a
		// crash there (journal/spool.go).
		jopts.SpoolDir = filepath.Join(p.Runtime, spoolDirName)
	}
	// The journal opens while the holder answers and the units are read
	// (journalOpen).
	jo := openJournal(jopts)
	// A holder started just now has nothing to give back: asking would
	// wait for its start-up before the first service forks.
	if d.holder != nil && h == nil && !d.holder.fresh {
		d.holder.retrieve(d.log)
	}
	if d.notify, err = h.notify(filepath.Join(p.Runtime, "notify")); err != nil {
		d.log.Warn("Type=notify services will fail", "err", err)
		d.notify = nil
	}
	if h != nil && h.Syslog >= 0 {
		d.syslog = d.inheritSyslog(os.NewFile(uintptr(h.Syslog), "syslog"))
	} else {
		d.syslog = d.listenSyslog(p.Syslog)
	}
	if err := d.listenLogHost(); err != nil {
		jo.close()
		return nil, err
	}
	if d.svdir, err = newSvdirScan(d); err != nil {
		jo.close()
		return nil, fmt.Errorf("service directories: %w", err)
	}
	var hub *svdir.Hub
	if d.svdir != nil {
		hub = d.svdir.hub
	}
	pl, diags := d.loader.load()
	for _, dg := range diags {
		d.log.Warn(dg)
	}
	grown = growFDs(grown, 64+descriptorsPerUnit*pl.Len())
	d.fdsReserved = grown
	if h == nil {
		// The boot transaction is planned while the rest is set up; a
		// start that resumes a previous manager's units does not use it.
		d.bootTx = supervise.Prepare(pl, plan.Start, []string{cfg.Target}, plan.Replace)
		defer func() {
			if err != nil {
				d.bootTx.Wait()
			}
		}()
	}
	if d.journal, err = jo.wait(); err != nil {
		return nil, fmt.Errorf("cannot open journal: %w", err)
	}
	for _, dmg := range d.journal.Damage() {
		d.log.Warn("journal damage skipped", "detail", dmg.String())
	}
	if h != nil {
		if err := d.journal.AdoptPipes(h.Pipes); err != nil {
			d.log.Error("log pipes", "err", err)
		}
	}
	accounts := spawn.NewAccounts("")
	d.mgr = supervise.New(pl, supervise.Options{
		Logger:  d.log,
		Reaper:  d.reaper,
		Cgroups: d.cgroups,
		Logs:    &logSink{j: d.journal, accounts: accounts},
		Notify:  d.notify,
		Dirs:    p.Dirs,
		Forker:  d.forker,
		CondEnv: conditionEnv(cfg),
		BaseEnv: baseEnv(cfg),
		OnDead:  d.onDead,
		// A connection's instance logs into its template's journal
		// stream (no directory and segment of its own per connection),
		// and logs no more once it ended.
		Accounts:          accounts,
		OnInstanceCreated: d.journal.Share,
		OnInstanceEnded:   d.journal.Release,
		// Socket units' listeners go to the fd holder as they change.
		OnPersist: d.holder.syncFunc(),
		// Socket units: specifiers of [Socket], Accept=yes instances.
		SpecifierEnv: &d.loader.env,
		LoadUnit:     d.loader.loadUnit,
		// The state file lets a manager started after a crash adopt
		// what still runs (crash.go).
		StateFile: filepath.Join(p.Runtime, stateFileName),
		Instance:  p.Runtime,
		SvdirHub:  hub,
		Timers:    timerEnv(cfg, &d.zone),
	})
	if d.clock, err = d.watchTime(); err != nil {
		d.log.Warn("timers will not follow clock or time zone changes", "err", err)
	}
	if h != nil {
		d.mgr.Restore(h.State, true, h.unitFDs())
		d.restored = true
		d.log.Info("re-executed; took over the previous process's units", "units", len(h.State.Units))
	} else {
		d.restored = d.restoreState()
		d.drainHeld()
	}
	// Every kept pipe is read again; no unit started yet.
	d.journal.SweepSpool()
	aopts := api.Options{Socket: p.Socket, Owner: uint32(os.Getuid()), Logger: d.log,
		UserInstance: cfg.User, LogGroups: gids, LogGroupNames: groups, LookupGroups: lookupGroups,
		OnListenerClosed: func() { d.apiClosedOnce.Do(func() { close(d.apiClosed) }) }}
	if cfg.DebugPanicHook {
		aopts.DebugPanic = d.injectPanic
	}
	d.server = api.NewServer(&apiManager{d: d, since: time.Now()}, aopts)
	return d, nil
}

// journalOpen is journal.Open running on a goroutine of its own: it
// reads every segment's index and scans the segments a crashed manager
// left, a good part of a start after a crash, which need not wait for
// the fd holder's answer or the unit files, nor they for it.
type journalOpen struct {
	done chan struct{}
	j    *journal.Journal
	err  error
}

func openJournal(opts journal.Options) *journalOpen {
	jo := &journalOpen{done: make(chan struct{})}
	go func() {
		defer close(jo.done)
		jo.j, jo.err = journal.Open(opts)
	}()
	return jo
}

// wait returns the opened journal.
func (jo *journalOpen) wait() (*journal.Journal, error) {
	<-jo.done
	return jo.j, jo.err
}

// close waits for the journal and closes it, on a start that failed.
func (jo *journalOpen) close() {
	if j, err := jo.wait(); err == nil {
		j.Close()
	}
}

func (d *daemon) run(parent context.Context) (int, error) {
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		if d.gaveUp == 0 {
			wg.Wait()
		}
	}()

	goRun := func(name string, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer d.guard(name)
			fn()
		}()
	}
	// Before the first service starts: a SIGTERM from then on stops
	// the services rather than kill tend and leave them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	d.sigs = sigs // stopped by Run once close is done
	// The log files first: on a first run they start with what is
	// logged from here on, so the receivers and units start after.
	d.startLogFiles(ctx, &wg)
	goRun("reaper", func() { d.reaper.Run(ctx) })
	goRun("manager", func() { _ = d.mgr.Run(ctx) })
	if d.svdir != nil {
		d.svdir.start(ctx)
	}
	if d.syslog != nil {
		d.parts.syslog = d.parts.start(ctx, &wg, d.guard, "syslog", func(ctx context.Context) {
			var swg sync.WaitGroup
			d.syslog.serve(ctx, &swg)
			swg.Wait()
		})
	}
	if err := d.startForward(ctx, &wg); err != nil {
		return 1, err
	}
	// The boot transaction is planned and its first units start while
	// the servers below start (after the last step that can fail): their
	// sockets are bound already, in newDaemon, so what a service sends
	// them early waits there.
	if !d.restored {
		goRun("boot", func() { d.boot(ctx) })
	}
	d.serveLogHost(ctx, &wg)
	d.startKmsg(ctx, &wg)
	if d.notify != nil {
		d.parts.notify = d.parts.start(ctx, &wg, d.guard, "notify", func(ctx context.Context) { _ = d.notify.Serve(ctx, d.mgr.HandleNotify) })
	}
	if w := d.loader.watch; w != nil {
		goRun("crontab-watch", func() { w.run(ctx, d.crontabChanged(ctx)) })
	}
	d.parts.api = d.parts.start(ctx, &wg, d.guard, "api", func(ctx context.Context) {
		if err := d.server.Serve(ctx, d.ln); err != nil {
			d.log.Error("control API stopped", "err", err)
		}
	})

	d.log.Info("tend running", "pid", os.Getpid(), "socket", d.cfg.Paths.Socket, "target", d.cfg.Target)
	if d.restored {
		if d.bootTx != nil {
			d.bootTx.Wait()
			d.bootTx = nil
		}
		d.endBootGC()
		d.fdsGrown()
		// The groups an earlier run left and this one did not take up
		// again, once the units that could have are started: off the
		// way of the first start.
		d.cgroups.PruneStale()
		d.sdNotify("READY=1\nSTATUS=Resumed with the units of the previous manager")
	}
	if d.cfg.ExitWith != "" {
		if _, err := d.mgr.Status(ctx, d.cfg.ExitWith); err != nil {
			return 1, fmt.Errorf("--exit-with: %w", err)
		}
	}
	err := d.wait(ctx, sigs)
	d.svdir.stopWatching()
	if err != nil {
		// A re-exec failed after the state was handed over: exit
		// without stopping anything; the next start adopts the units.
		d.handedOff = true
		return 1, err
	}
	d.shuttingDown.Store(true)
	d.log.Info("shutting down")
	d.sdNotify("STOPPING=1")
	if d.gaveUp = d.shutdown(sigs); d.gaveUp != 0 {
		return 128 + int(d.gaveUp), nil
	}
	d.exitMu.Lock()
	defer d.exitMu.Unlock()
	return d.exitCode, nil
}

// boot starts the target and, once its jobs are done, tells a supervising
// manager (systemd, or another tend) that tend is ready.
func (d *daemon) boot(ctx context.Context) {
	var res []supervise.JobResult
	var err error
	if tx := d.bootTx; tx != nil {
		// Not kept once used: it holds the boot's plan and transaction,
		// a reload's old plan after the next daemon-reload.
		d.bootTx = nil
		res, err = d.mgr.JobsPrepared(ctx, tx, false)
	} else {
		res, err = d.mgr.Jobs(ctx, plan.Start, []string{d.cfg.Target}, plan.Replace, false)
	}
	if err != nil {
		d.log.Error("cannot start target", "target", d.cfg.Target, "err", err)
	}
	for _, r := range res {
		if r.Result != "done" {
			d.log.Warn("boot target did not start cleanly", "target", r.Unit, "result", r.Result, "err", r.Err)
		}
	}
	d.endBootGC()
	d.fdsGrown()
	if ctx.Err() == nil {
		// The groups an earlier run left and this one did not take up
		// again, once the units that could have are started: off the
		// way of the first start.
		d.cgroups.PruneStale()
		d.settle(ctx) // after the boot's state-file write
		d.sdNotify("READY=1\nSTATUS=Startup finished, " + d.cfg.Target + " reached")
	}
}

// fdsGrown waits for the descriptor table's growth newDaemon started.
func (d *daemon) fdsGrown() {
	if d.fdsReserved != nil {
		<-d.fdsReserved
		d.fdsReserved = nil
	}
}

// sdNotify sends a notification to $NOTIFY_SOCKET when tend itself runs
// under a manager that asked for one.
func (d *daemon) sdNotify(msg string) {
	getenv := d.cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.Dial("unixgram", path)
	if err != nil {
		d.log.Warn("cannot notify the supervising manager", "err", err)
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(msg))
}

// wait blocks until shutdown is asked for; SIGHUP reloads units,
// SIGUSR1 and the API re-execute tend. An error is a re-exec that
// failed too late to carry on.
func (d *daemon) wait(ctx context.Context, sigs <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.stop:
			return nil
		case ask := <-d.reexecReq:
			if err := d.reexec(ctx, ask); err != nil {
				return err
			}
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				// As syslogd does on SIGHUP, reopen the log files
				// (logrotate's postrotate), besides reloading units.
				d.reopenLogFiles()
				if _, err := d.reload(ctx); err != nil {
					d.log.Error("reload failed", "err", err)
				}
				continue
			case syscall.SIGUSR1:
				if err := d.reexec(ctx, reexecAsk{}); err != nil {
					return err
				}
				continue
			}
			d.log.Info("received signal", "signal", s)
			return nil
		}
	}
}

// requestStop begins shutdown with the given exit code.
func (d *daemon) requestStop(code int) {
	d.stopOnce.Do(func() {
		d.exitMu.Lock()
		d.exitCode = code
		d.exitMu.Unlock()
		close(d.stop)
	})
}

// onDead runs on the manager loop when a unit's run ended for good (no
// automatic restart follows).
func (d *daemon) onDead(name string, code int) {
	if d.cfg.ExitWith == "" {
		return
	}
	if pl := d.mgr.CurrentPlan(); pl != nil && pl.Canonical(d.cfg.ExitWith) == name {
		d.requestStop(code)
	}
}

// noteReaped is the reaper's hook for every reaped pid (on its goroutine).
func (d *daemon) noteReaped(e reaper.Exit) {
	d.cgroups.NoteExit(e.PID)
	select {
	case d.reaped <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// fds names the descriptors of the daemon's parts by role, for
// /v1/self/fds (the API server adds its own). Each part reads its own
// state safely, so this may run while they work.
func (d *daemon) fds() map[int]string {
	fds := d.journal.FDs()
	maps.Copy(fds, d.reaper.FDs())
	if d.notify != nil {
		maps.Copy(fds, d.notify.FDs())
	}
	maps.Copy(fds, d.loghostFDs())
	if d.syslog != nil {
		maps.Copy(fds, d.syslog.fds())
	}
	for _, f := range d.ruleForwards {
		maps.Copy(fds, f.FDs())
	}
	if d.forward != nil {
		maps.Copy(fds, d.forward.FDs())
	}
	return fds
}

func (d *daemon) close() {
	if d.clock != nil {
		d.clock.Close()
	}
	if d.notify != nil {
		d.notify.Close()
	}
	if d.journal != nil {
		if err := d.journal.Close(); err != nil {
			d.log.Error("journal close", "err", err)
		}
	}
	if d.holder != nil {
		d.holder.exit(d.log)
		// The pipes the holder kept are gone with it: so is what
		// their spools were for.
		_ = os.RemoveAll(filepath.Join(d.cfg.Paths.Runtime, spoolDirName))
	}
	if d.reaper != nil {
		d.reaper.Close()
	}
	d.forker.Close()
	d.pruneCgroups()
	if d.cgroups != nil {
		d.cgroups.Close()
	}
	_ = os.Remove(d.cfg.Paths.Socket)
	// Every unit was stopped: the next start boots afresh.
	_ = os.Remove(filepath.Join(d.cfg.Paths.Runtime, stateFileName))
	if d.syslog != nil {
		_ = os.Remove(d.cfg.Paths.Syslog)
	}
}

// abandonWait bounds the wait for the units' groups to empty when tend
// gives up its shutdown; a process stuck in the kernel keeps its group,
// which the next start of the instance prunes.
const abandonWait = time.Second

// pruneCgroups removes the units' groups and the instance's bases that
// are empty; a group whose processes are still dying stays, for the next
// start of the instance to prune.
func (d *daemon) pruneCgroups() {
	if d.cgroups == nil {
		return
	}
	if err := d.cgroups.Prune(); err != nil {
		d.log.Warn("cgroups left behind", "err", err)
	}
}
