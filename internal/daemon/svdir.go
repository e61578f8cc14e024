package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/tendproject/tend/internal/svdir"
	"github.com/tendproject/tend/internal/unit"
)

// svdirScan runs the service directories of the --svdir scan directories
// as runsvdir does: each directory becomes a .svdir unit (and one for its
// log/), is taken over as soon as it appears (inotify) and let go of when
// it disappears. The units are added to the loader's set and a plan is
// built from the unit files already read plus the directories, without
// reading unit files again; so After=/Requires= of unit files can name
// them, and a daemon-reload keeps them.
type svdirScan struct {
	d        *daemon
	hub      *svdir.Hub
	watchers []*svdir.Watcher
	events   chan svdir.Event
	finished chan string   // a directory removed earlier is let go of (its unit name)
	fwdDone  chan struct{} // closed when every command the hub read is with the manager
	stop     chan struct{}
	cancel   context.CancelFunc // ends the waits of removals under way
	wg       sync.WaitGroup

	// Owned by the run goroutine.
	known    map[string]svdir.Entry // main unit name → its directory
	units    map[string][]string    // main unit name → its units' names, as admitted
	removing map[string]bool
	pending  map[string]svdir.Entry // came back while it was being removed
}

// svdirDirs decides which scan directories to watch: those named, or for
// the host's system instance (the standard unit directories, no --units)
// /etc/service and /var/service where they exist. An instance given its
// own unit directories leaves the host's service directories alone, as
// it would otherwise run them a second time beside the host's supervisor.
func svdirDirs(cfg Config) []string {
	if cfg.Svdirs != nil {
		return cfg.Svdirs
	}
	if !cfg.hostInstance() {
		return nil
	}
	var out []string
	for _, d := range []string{"/etc/service", "/var/service"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// newSvdirScan watches the scan directories and puts what they hold into
// the loader's set before the first plan is built; nil when there are
// none.
func newSvdirScan(d *daemon) (*svdirScan, error) {
	dirs := svdirDirs(d.cfg)
	if len(dirs) == 0 {
		return nil, nil
	}
	hub, err := svdir.NewHub()
	if err != nil {
		return nil, err
	}
	s := &svdirScan{d: d, hub: hub, events: make(chan svdir.Event), finished: make(chan string),
		stop: make(chan struct{}), fwdDone: make(chan struct{}), known: map[string]svdir.Entry{}, units: map[string][]string{}, removing: map[string]bool{},
		pending: map[string]svdir.Entry{}}
	for _, dir := range dirs {
		w, err := svdir.Watch(dir)
		if err != nil {
			d.log.Warn("not scanning for service directories", "err", err)
			continue
		}
		s.watchers = append(s.watchers, w)
		for _, e := range w.Initial() { // the watcher reports them too; known ones are no change
			s.admit(e)
		}
	}
	return s, nil
}

// admit records e as a directory to run and gives the loader its units;
// it reports their names (the log's first), nil when e is not taken.
// They are kept (s.units) rather than made again from e: that looks for
// log/ once more, a stat per directory before the first start, and a
// directory being removed may have lost its log/ already.
func (s *svdirScan) admit(e svdir.Entry) []string {
	if e.Err != nil {
		s.d.log.Warn("not a service directory", "err", e.Err)
		return nil
	}
	name := svdir.UnitName(e.Name, false)
	if old, ok := s.known[name]; ok {
		if old.Path != e.Path {
			s.d.log.Warn("service directory ignored: a directory of the same name is supervised", "dir", e.Path, "unit", name, "other", old.Path)
		}
		return nil
	}
	s.known[name] = e
	units := svdirUnits(e)
	names := make([]string, len(units))
	l := s.d.loader
	l.mu.Lock()
	if l.svdirs == nil {
		l.svdirs = map[string]*unit.Unit{}
	}
	for i, u := range units {
		l.svdirs[u.Name] = u
		names[i] = u.Name
	}
	l.mu.Unlock()
	s.units[name] = names
	return names
}

// svdirUnits are the units of one service directory: NAME.svdir, and
// NAME:log.svdir when it has log/, which the main unit wants and is
// ordered after (runsv starts the logger first and stops it last).
func svdirUnits(e svdir.Entry) []*unit.Unit {
	main := &unit.Unit{Name: svdir.UnitName(e.Name, false), Kind: unit.KindSvdir, Load: unit.Loaded,
		Path: filepath.Join(e.Path, "run"), Description: "service directory " + e.Path}
	logDir := filepath.Join(e.Path, "log")
	fi, err := os.Stat(logDir)
	if err != nil || !fi.IsDir() {
		return []*unit.Unit{main}
	}
	lg := &unit.Unit{Name: svdir.UnitName(e.Name, true), Kind: unit.KindSvdir, Load: unit.Loaded,
		Path: filepath.Join(logDir, "run"), Description: "log service of " + e.Path}
	main.EnsureDeps().Wants = []string{lg.Name}
	main.Deps.After = []string{lg.Name}
	return []*unit.Unit{lg, main}
}

// start begins the scan's goroutines: the watchers' events, the control
// FIFOs' commands, and the take-over of the directories found so far.
func (s *svdirScan) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	s.cancel = cancel
	for _, w := range s.watchers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for ev := range w.Events() {
				select {
				case s.events <- ev:
				case <-s.stop:
					return
				}
			}
			if err := w.Err(); err != nil {
				s.d.log.Warn("scan directory no longer watched", "err", err)
			}
		}()
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		defer close(s.fwdDone)
		for c := range s.hub.Controls() {
			s.d.mgr.SvdirControl(c)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.run(ctx)
	}()
}

func (s *svdirScan) run(ctx context.Context) {
	var first []string
	for name := range s.known {
		first = append(first, s.units[name]...)
	}
	sort.Strings(first)
	if err := s.d.mgr.SvdirAdd(ctx, first); err != nil && ctx.Err() == nil {
		s.d.log.Warn("cannot start service directories", "err", err)
	}
	for {
		select {
		case <-s.stop:
			return
		case name := <-s.finished:
			s.letGo(ctx, name)
		case ev := <-s.events:
			batch := []svdir.Event{ev}
			for more := true; more && len(batch) < 4096; {
				select {
				case ev := <-s.events:
					batch = append(batch, ev)
				default:
					more = false
				}
			}
			s.apply(ctx, batch)
		}
	}
}

// apply takes a batch of watcher events: new directories are added in
// one plan and taken over; removed ones are stopped (in the background:
// a service may take its time) and dropped once let go of.
func (s *svdirScan) apply(ctx context.Context, batch []svdir.Event) {
	var added []string
	for _, ev := range batch {
		name := svdir.UnitName(ev.Entry.Name, false)
		switch ev.Kind {
		case svdir.Added:
			// First: a directory made again while the old one is being
			// let go of may even have the old one's inode number.
			if s.removing[name] {
				s.pending[name] = ev.Entry
				continue
			}
			if old, ok := s.known[name]; ok && old.Path == ev.Entry.Path && old.Dev == ev.Entry.Dev && old.Ino == ev.Entry.Ino {
				continue // found by the first scan
			}
			added = append(added, s.admit(ev.Entry)...)
		case svdir.Removed:
			old, ok := s.known[name]
			if !ok || old.Path != ev.Entry.Path || s.removing[name] {
				delete(s.pending, name)
				continue
			}
			s.removing[name] = true
			names := s.units[name]
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.d.mgr.SvdirExit(ctx, names); err != nil && ctx.Err() == nil {
					s.d.log.Warn("cannot stop service directory", "unit", name, "err", err)
				}
				select {
				case s.finished <- name:
				case <-s.stop:
				}
			}()
		}
	}
	if len(added) > 0 && s.install(ctx) {
		if err := s.d.mgr.SvdirAdd(ctx, added); err != nil && ctx.Err() == nil {
			s.d.log.Warn("cannot start service directories", "err", err)
		}
	}
}

// letGo drops a removed directory's units, and takes over the directory
// that came back under its name meanwhile.
func (s *svdirScan) letGo(ctx context.Context, name string) {
	old := s.known[name]
	delete(s.known, name)
	delete(s.removing, name)
	l := s.d.loader
	l.mu.Lock()
	for _, n := range s.units[name] {
		delete(l.svdirs, n)
	}
	delete(s.units, name)
	delete(l.svdirs, name)
	delete(l.svdirs, svdir.UnitName(old.Name, true))
	l.mu.Unlock()
	var added []string
	if e, ok := s.pending[name]; ok {
		delete(s.pending, name)
		added = s.admit(e)
	}
	if s.install(ctx) && len(added) > 0 {
		if err := s.d.mgr.SvdirAdd(ctx, added); err != nil && ctx.Err() == nil {
			s.d.log.Warn("cannot start service directories", "err", err)
		}
	}
}

// install builds the plan with the directories as they are now and
// hands it to the supervisor.
func (s *svdirScan) install(ctx context.Context) bool {
	l := s.d.loader
	l.install.Lock()
	defer l.install.Unlock()
	l.mu.Lock()
	pl := l.buildLocked()
	l.mu.Unlock()
	if _, err := s.d.mgr.Reload(ctx, pl); err != nil {
		if !errors.Is(err, context.Canceled) {
			s.d.log.Warn("cannot add service directories", "err", err)
		}
		return false
	}
	return true
}

// stopWatching ends the scan: no directory is taken over or let go of
// from here on (at shutdown, the units are stopped like the others).
func (s *svdirScan) stopWatching() {
	if s == nil {
		return
	}
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	if s.cancel != nil {
		s.cancel()
	}
	for _, w := range s.watchers {
		w.Close()
	}
}

// freeze stops reading the control FIFOs before a re-exec and waits
// until every command read is with the manager, which saves after
// handling them; what sv writes from now on waits in the FIFOs, which
// the units keep open through exec.
func (s *svdirScan) freeze() {
	if s == nil {
		return
	}
	s.hub.Close()
	<-s.fwdDone
}

// beginShutdown stops taking directories over and has the manager stop
// them as runsv does on its way out: each main service first, then its
// logger once it has read its pipe to the end.
func (s *svdirScan) beginShutdown(ctx context.Context) {
	if s == nil {
		return
	}
	s.stopWatching()
	if err := s.d.mgr.SvdirShutdown(ctx); err != nil {
		s.d.log.Warn("service directories not prepared for shutdown", "err", err)
	}
}

// close releases every supervise/ (sv then reports that no supervisor
// runs) and ends the control hub; after the units were stopped.
func (s *svdirScan) close(ctx context.Context) {
	if s == nil {
		return
	}
	s.stopWatching()
	if err := s.d.mgr.SvdirCloseAll(ctx); err != nil {
		s.d.log.Warn("service directories not released", "err", err)
	}
	s.hub.Close()
	s.wg.Wait()
}
