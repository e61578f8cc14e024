// Package supervise runs units: the per-unit state machine (inactive,
// activating, active, reloading, deactivating, failed), the jobs that move
// units between states in dependency order, restart policy with backoff and
// start limits, and timeouts.
//
// One goroutine, the manager loop, owns the state of every unit. The reaper,
// timers, the notify socket and API calls only post events to it, so no
// state is shared and a stale timer cannot fire into a later start: every
// timer carries the generation it was armed in.
package supervise

import (
	"golang.org/x/sys/unix"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/cgroup"
	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/condition"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/procfs"
	"github.com/tendproject/tend/internal/reaper"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/unit"
)

// Output is where one process's stdout and stderr go. SetPID, when not nil,
// tells the log reader the pid once the process exists, or 0 when it could
// not be started; the reader waits for it.
type Output struct {
	Stdout, Stderr *os.File
	SetPID         func(pid int)
	// Reusable says the files may serve the next main process of the
	// same unit too (journal pipes, whose read ends stay with tend):
	// the manager then keeps them open across automatic restarts, tells
	// SetPID each new pid, and closes them once no restart follows.
	Reusable bool
}

// LogSink is the journal as the supervisor sees it.
type LogSink interface {
	// Output opens the log pipes for a new process of u that runs cmd. The
	// caller closes the returned files once the child has them.
	Output(u *unit.Unit, cmd unit.Command) (Output, error)
	// Event records one of tend's own messages about a unit.
	Event(unitName string, pid int, priority int, msg string)
}

// EventBatcher is a LogSink that can record several of tend's messages
// at once: the manager hands it the messages of one event together (a
// restart says four or five things at once), which it may write in one
// go instead of one write each. It must not keep evs.
type EventBatcher interface {
	Events(evs []LogEvent)
}

// LogEvent is one of tend's own messages about a unit.
type LogEvent struct {
	Unit     string
	Priority int
	Message  string
	// instance: the unit is a per-connection instance, whose routine
	// messages (one set per connection) reach tend's own log only at
	// debug level, as systemd keeps them off the console.
	instance bool
	// format and args make Message when the event that caused the
	// message is done (flushEvents): formatting, an exit status's
	// above all, would otherwise come before a restart's fork.
	format string
	args   []any
}

// formatted fills Message from format and args once, and returns it.
func (e *LogEvent) formatted() string {
	if e.format != "" {
		e.Message = fmt.Sprintf(e.format, e.args...)
		e.format, e.args = "", nil
	}
	return e.Message
}

// Options are the manager's dependencies; all are required unless noted.
type Options struct {
	Logger  *slog.Logger
	Reaper  *reaper.Reaper
	Cgroups *cgroup.Manager
	Logs    LogSink
	Notify  *notify.Socket // nil disables Type=notify readiness
	Dirs    spawn.Dirs
	SelfExe string // tend's own binary, for spawn's exec helper
	// Forker, if set, forks services from a thread with a small
	// descriptor table (spawn.Forker); nil forks on the loop's thread.
	Forker  *spawn.Forker
	CondEnv condition.Env // what Condition*= checks run against
	// BaseEnv is the environment every process starts from (PATH, LANG…).
	BaseEnv []string
	// OnDead, if set, runs on the loop when a unit's run ended and no
	// automatic restart follows, with the exit status tend would use for
	// it (the main process's code, 128+signal, or 1 for other failures).
	OnDead func(unit string, code int)
	// Accounts is the account database starts resolve User= and Group=
	// in; nil: /etc's, read by the manager.
	Accounts *spawn.Accounts
	// OnInstanceCreated, if set, runs on the loop when an Accept=yes
	// instance is created (before it logs anything) or restored after a
	// re-exec or crash: the daemon has the journal store its entries in
	// its template's stream.
	OnInstanceCreated func(unit, template string)
	// OnInstanceEnded, if set, runs on the loop when an Accept=yes
	// instance's run ended (it is removed, or kept failed for status):
	// its name is never used again, so the daemon lets the journal close
	// its segment.
	OnInstanceEnded func(unit string)
	// OnPersist, if set, runs on the loop after the state file was
	// written, when the socket units' listeners may have changed (a
	// socket's state changed, a reload, a call), with the state of the
	// socket units (their listeners open while it runs): the daemon
	// gives the listeners to the fd holder from it.
	OnPersist func(SavedState)
	// OnChange, if set, runs on the loop after every state change of a
	// unit; it must not block.
	OnChange func(unit string, active ActiveState, sub string)
	// Clock is the time source of every timestamp and deadline; nil is
	// the real clock. Tests pass a clock.Fake to walk timeouts and
	// restart delays without waiting.
	Clock clock.Clock
	// SpecifierEnv resolves specifiers (%t, %n, …) in socket units'
	// [Socket] sections; nil knows only the unit's own names.
	SpecifierEnv *unit.Env
	// LoadUnit, if set, loads a unit the plan does not hold: the
	// per-connection instances of Accept=yes sockets.
	LoadUnit func(name string) (*unit.Unit, error)
	// StateFile, if set, is rewritten after every event batch that
	// changed a unit, for a manager started after a crash (persist.go).
	StateFile string
	// Instance names this instance in saved state (its cgroup base).
	Instance string
	// Proc is the /proc tree (default "/proc").
	Proc string
	// SvdirHub reads the control FIFOs of service directories (.svdir
	// units); nil when tend supervises none. The caller owns it and
	// forwards its commands to SvdirControl.
	SvdirHub *svdir.Hub
	// Timers is what timer units take from the machine (timer.go).
	Timers TimerEnv
}

// Manager owns every unit's runtime state.
type Manager struct {
	opts  Options
	clock clock.Clock
	box   *mailbox
	// toArm: units whose state deadline arm left for armDeadlines.
	toArm []*rt
	// procs starts and signals processes; tests replace it so that the
	// state machine can be walked without real processes.
	procs processes
	// accounts is passwd and group, split once for every start.
	accounts *spawn.Accounts

	// current mirrors plan for readers outside the loop.
	current atomic.Pointer[plan.Plan]

	// Everything below is owned by the loop goroutine.
	plan  *plan.Plan
	units map[string]*rt
	pids  map[int]pidRef
	jobs  *jobQueue
	// pending holds tend's own log messages until the current event is done.
	pending   []LogEvent
	stateSize int64    // the state file body's size at the last write
	alarms    alarms   // every unit's alarm, on one clock timer (hooks.go)
	fds       *fdWatch // descriptors engines watch; started on first use
	// evSeq numbers the events handled, from 1, so that answers read once
	// per event can be told from older ones (see groupBusy).
	evSeq uint64
	// dirty: a unit changed since the state file was written.
	dirty bool
	// listenersMoved: a socket unit changed state (binding or releasing
	// its listeners) since OnPersist was last called; after calls (which
	// reload and restore) every unit is saved and OnPersist called too.
	listenersMoved bool
	// saved, changed and changedAll keep the state file's parts between
	// writes (persist.go).
	saved      map[*rt]*savedUnit
	changed    map[*rt]struct{}
	changedAll bool
	// frozen: the state was handed to a re-exec (Freeze); the loop
	// handles nothing more.
	frozen bool
	// svdirs maps open supervise/ directories to their units (svdir.go).
	svdirs map[*svdir.Dir]*svdirUnit
	// workers counts the goroutines that make cgroups and supervise/
	// ahead of starts (prepareGroups, svdirOpenAhead); Run waits for them.
	workers sync.WaitGroup
	// oomWatches are the units' open OOM watches and oomWatchers the
	// goroutines waiting on them (oom.go); endLoop closes the watches
	// and waits for the goroutines.
	oomWatches  map[*cgroup.OOMWatch]struct{}
	oomWatchers sync.WaitGroup
	// supPending: units whose supervise/ a worker is opening (svdir_open.go).
	supPending map[*svdirUnit]struct{}
	// forkTicks are the start times of processes started since the
	// state was last saved, where the spawn's clock bracket gave them
	// (starttime.go).
	forkTicks map[int]uint64
	// proc reads processes' start times (procStart), every restart's
	// new main process among them: one reader and its buffer, kept.
	proc *procfs.Reader
}

type pidRef struct {
	u    *rt
	role role
}

type role uint8

const (
	roleMain role = iota + 1
	roleControl
)

// event is anything the loop reacts to.
type event interface{}

type evExit struct {
	exit reaper.Exit
}

type evNotify struct{ msg notify.Message }

type evCall struct {
	fn   func()
	done chan struct{}
}

// New returns a manager for the units of p. Nothing runs until Run.
func New(p *plan.Plan, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	m := &Manager{
		opts:  opts,
		clock: opts.Clock,
		box:   newMailbox(),
		units: map[string]*rt{},
		pids:  map[int]pidRef{},

		accounts: opts.Accounts,
	}
	if m.accounts == nil {
		m.accounts = spawn.NewAccounts("")
	}
	m.jobs = newJobQueue(m)
	m.procs = realProcesses{m}
	m.setPlan(p)
	return m
}

// Run is the manager loop. It returns when ctx ends; call Shutdown first
// to stop the units in order.
func (m *Manager) Run(ctx context.Context) error {
	for {
		m.armDeadlines() // those of what ran before the loop, or in this round
		select {
		case <-ctx.Done():
			m.endLoop()
			if m.fds != nil {
				m.fds.close()
				m.fds = nil
			}
			return nil
		case <-m.box.wake:
			// Events a batch queues for the loop itself (a job that
			// finished at once lets the next one run: a timer's start
			// of its service) are handled before the state file is
			// written, so that such a start forks without a write
			// ahead of it; a few rounds at most, so that a stream of
			// events cannot hold the write back.
			for round := 0; round == 0 || round < followRounds && m.box.pending(); round++ {
				if m.handleBatch(m.box.take()) {
					m.endLoop()
					return nil // the rest is the next process's
				}
			}
			m.persist()
		}
	}
}

// endLoop ends what the loop started besides the units: the workers
// preparing groups and directories ahead (a re-exec must not hand over
// while one still makes a cgroup), the alarm timer and the OOM watches
// of units still running (nobody is left to hear them).
func (m *Manager) endLoop() {
	m.workers.Wait()
	m.stopAlarms()
	m.stopOOMWatches()
}

// followRounds bounds the batches handled between two writes of the
// state file.
const followRounds = 4

// handleBatch handles a batch of events in order; true: the manager
// froze for a re-exec and handles nothing more.
func (m *Manager) handleBatch(batch []event) bool {
	for i, ev := range batch {
		if ev == nil {
			continue // a notification handled ahead of an exit
		}
		if e, ok := ev.(evExit); ok && m.mayHaveNotified(e.exit.PID) {
			m.notifiedFirst(batch[i+1:])
		}
		m.handle(ev)
		m.flushEvents()
		if m.frozen {
			return true
		}
	}
	return false
}

// notifiedFirst handles, before a process's exit, every notification
// that may have been sent before it: those later in this batch, those
// queued since, and those still in the socket. A service that says
// STOPPING=1 and then exits must be seen stopping first (systemd orders
// its notify socket before SIGCHLD for the same reason).
func (m *Manager) notifiedFirst(rest []event) {
	ahead := func() {
		for j, ev := range rest {
			if n, ok := ev.(evNotify); ok {
				rest[j] = nil
				m.handle(n)
			}
		}
		for _, n := range m.box.takeNotified() {
			m.handle(n)
		}
	}
	if m.opts.Notify == nil {
		ahead()
		return
	}
	m.opts.Notify.Sync(ahead, func(msg notify.Message) { m.handle(evNotify{msg}) })
}

// mayHaveNotified reports whether the unit of an exited pid listens to
// notifications, which must then be handled before the exit; a service
// with NotifyAccess=none (the default of most types) and a service
// directory (its processes get no NOTIFY_SOCKET, and its engine has no
// use for a message) ignore them, and their restarts skip the notify
// socket's drain.
func (m *Manager) mayHaveNotified(pid int) bool {
	ref, ok := m.pids[pid]
	if !ok {
		return false // nobody's: the exit changes nothing
	}
	switch u := ref.u.eng.(type) {
	case *service:
		return notifyAccess(u.svc()) != "none"
	case *svdirUnit:
		return false
	}
	return true
}

// HandleNotify is the notify socket's handler: it forwards to the loop.
func (m *Manager) HandleNotify(msg notify.Message) { m.box.put(evNotify{msg}) }

func (m *Manager) handle(ev event) {
	m.evSeq++
	if len(m.supPending) > 0 {
		switch ev.(type) {
		case evJobCheck, evSvdirOpened:
		default:
			m.svdirTakeAll()
		}
	}
	m.eventMayChange(ev)
	switch e := ev.(type) {
	case evSvdirOpened:
		if e.u.supNext != nil {
			m.svdirTake(e.u)
		}
	case evCall:
		e.fn()
		close(e.done)
	case evJobCheck:
		m.jobs.check(e.u)
	case evExit:
		m.onExit(e.exit)
	case evNotify:
		if u, r := m.notifySender(e.msg); u != nil {
			m.mayChange(u) // FDSTORE=, STATUS=… change no state
			u.eng.event(m, notified{msg: e.msg, role: r})
		}
		if e.msg.PIDFD > 0 {
			unix.Close(e.msg.PIDFD) // the loop owns it from the socket on
		}
	case evFor:
		if e.gen == e.u.gen {
			e.u.eng.event(m, e.ev)
		}
	case evKind:
		e.u.eng.event(m, e.ev)
	case evUphold:
		m.uphold(e.u)
	case evAlarms:
		m.onAlarms()
	default:
		m.opts.Logger.Error("supervise: unknown event", "event", fmt.Sprintf("%T", ev))
	}
}

// eventMayChange marks what ev may change to be saved again (persist.go):
// the unit an event is for (notifications: see handle), every unit for
// calls; alarms mark the units they are delivered to (onAlarms), so
// a timer's elapse among ten thousand timers encodes only what it
// changes.
func (m *Manager) eventMayChange(ev event) {
	switch e := ev.(type) {
	case evCall:
		m.changedAll = true
	case evJobCheck:
		m.mayChange(e.u)
	case evFor:
		m.mayChange(e.u)
	case evKind:
		m.mayChange(e.u)
	case evUphold:
		m.mayChange(e.u)
	case evSvdirOpened:
		m.mayChange(e.u.rt)
	case evExit:
		if ref, ok := m.pids[e.exit.PID]; ok {
			m.mayChange(ref.u)
		}
	}
}

// do runs fn on the loop and waits for it, so API calls read and change
// state without locks.
func (m *Manager) do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	m.box.put(evCall{fn: fn, done: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setPlan installs a new plan, keeping the runtime state of units that
// still exist and giving them their new definitions.
func (m *Manager) setPlan(p *plan.Plan) {
	m.plan = p
	m.current.Store(p)
	seen := map[string]bool{}
	for _, name := range p.Names() {
		def, ok := p.Unit(name)
		if !ok || def.Name != name {
			continue // alias
		}
		seen[name] = true
		if u, ok := m.units[name]; ok {
			u.def = keptDef(u, def)
			continue
		}
		u := &rt{name: name, def: def, state: Dead}
		u.eng = newEngine(u)
		m.units[name] = u
	}
	for name, u := range m.units {
		switch {
		case seen[name]:
		case u.state.Active() == Inactive:
			m.setAlarm(u, time.Time{})
			delete(m.units, name)
		case u.transient == nil && u.def != nil && u.def.Load != unit.NotFound:
			u.def = notFound(u.def)
		}
	}
	m.resolveUpholds(p)
}

// keptDef is u's definition under a new plan that defines it as def. A
// unit that runs keeps its settings when its file is gone (deleted, then
// daemon-reload), as systemd keeps a not-found unit that runs: shown as
// not-found, it can be stopped with its own stop commands and kill
// settings, but not started again.
func keptDef(u *rt, def *unit.Unit) *unit.Unit {
	if def.Load != unit.NotFound || u.state.Active() == Inactive || u.def == nil {
		return def
	}
	return notFound(u.def)
}

// notFound is a copy of def marked as not found.
func notFound(def *unit.Unit) *unit.Unit {
	kept := *def
	kept.Load = unit.NotFound
	return &kept
}

// unplanned: u runs though the plan no longer defines it (see keptDef).
func (m *Manager) unplanned(u *rt) bool {
	def, ok := m.plan.Unit(u.name)
	return !ok || def.Load == unit.NotFound
}

// onExit routes a reaped process to the unit that registered it.
func (m *Manager) onExit(e reaper.Exit) {
	ref, ok := m.pids[e.PID]
	if !ok {
		return
	}
	delete(m.pids, e.PID)
	ref.u.eng.event(m, procExit{pid: e.PID, role: ref.role, st: fromWait(e.Status)})
}

// processes is how the state machine touches the outside world.
type processes interface {
	spawn(u *service, cmd unit.Command, r role) (int, error)
	kill(pid int, sig syscall.Signal) error
}

type realProcesses struct{ m *Manager }

func (p realProcesses) spawn(u *service, cmd unit.Command, r role) (int, error) {
	return p.m.spawnProcess(u, cmd, r)
}

func (realProcesses) kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// CurrentPlan returns the plan in force; safe from any goroutine.
func (m *Manager) CurrentPlan() *plan.Plan { return m.current.Load() }

// lookup resolves a name or alias to its runtime unit.
func (m *Manager) lookup(name string) (*rt, error) {
	if u, ok := m.units[name]; ok {
		return u, nil
	}
	if def, ok := m.plan.Unit(name); ok {
		if u, ok := m.units[def.Name]; ok {
			return u, nil
		}
	}
	return nil, fmt.Errorf("unit %s: %w", name, ErrNoSuchUnit)
}

// ErrNoSuchUnit is wrapped by errors about unknown unit names.
var ErrNoSuchUnit = errors.New("unit not found")

// event queues one of tend's own messages about a unit. Messages are
// written, and formatted, once the event that caused them is handled,
// so that logging never delays the spawn of a replacement process
// (restart latency). The arguments are formatted then: pass values, not
// what the rest of the event's handling changes.
func (m *Manager) event(u *rt, prio int, format string, args ...any) {
	m.pending = append(m.pending, LogEvent{Unit: u.name, Priority: prio, format: format, args: args,
		instance: u.transient != nil})
}

// flushEvents writes the queued messages to tend's log and the journal.
// Debug messages reach the journal only when tend logs at debug level,
// as systemd's LogLevel= decides what its journal gets.
func (m *Manager) flushEvents() {
	if len(m.pending) == 0 {
		return
	}
	ctx := context.Background()
	debug := m.opts.Logger.Enabled(ctx, slog.LevelDebug)
	journal := m.pending[:0] // filtered in place: each is read before it may be overwritten
	for i := range m.pending {
		e := &m.pending[i]
		level := slogLevel(e.Priority)
		if e.instance && level == slog.LevelInfo {
			level = slog.LevelDebug
		}
		journaled := e.Priority < prioDebug || debug
		if !journaled && !m.opts.Logger.Enabled(ctx, level) {
			continue // said nowhere: not even formatted
		}
		m.opts.Logger.Log(ctx, level, e.formatted(), "unit", e.Unit)
		if journaled {
			journal = append(journal, *e)
		}
	}
	switch logs := m.opts.Logs.(type) {
	case nil:
	case EventBatcher:
		if len(journal) > 0 {
			logs.Events(journal)
		}
	default:
		for _, e := range journal {
			logs.Event(e.Unit, 0, e.Priority, e.Message)
		}
	}
	clear(m.pending)
	m.pending = m.pending[:0]
}

func slogLevel(prio int) slog.Level {
	switch {
	case prio <= 3:
		return slog.LevelError
	case prio == 4:
		return slog.LevelWarn
	case prio == 7:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// Syslog priorities used for tend's own messages.
const (
	prioErr    = 3
	prioWarn   = 4
	prioNotice = 5
	prioInfo   = 6
	prioDebug  = 7
)

// InjectPanic panics on the manager loop: the hook of the panic
// recovery test (`tend run --debug-panic-hook`). It returns when ctx
// ends, as the loop never answers.
func (m *Manager) InjectPanic(ctx context.Context) error {
	return m.do(ctx, func() { panic("injected panic on the manager loop (--debug-panic-hook)") })
}
