package logroute

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/syslogconf"
)

// Journal is what the Router reads; *journal.Journal is one.
type Journal interface {
	Query(ctx context.Context, q journal.Query, fn func(journal.Entry) error) error
	Tap(fn func(journal.Frames)) (stop func())
}

// Options configure a Router.
type Options struct {
	Config  *syslogconf.Config
	Journal Journal
	// StateFile keeps the cursor and the files' sizes at that cursor.
	StateFile string
	// Hostname is written in each line for this machine's entries.
	Hostname string
	// Utmp and DevDir locate logged-in users and their terminals for
	// "*" and user rules (defaults /run/utmp and /dev).
	Utmp, DevDir string
	Logger       *slog.Logger
	// Location is the zone of the timestamps (default time.Local).
	Location *time.Location
	// onReopen, for tests, hears of each file the watch reopened.
	onReopen func(path string)
	// feedLimit, for tests, replaces maxFeed.
	feedLimit int
}

// flushAt is the buffered size at which a file is written before the
// journal's backlog is done, bounding memory on a long catch-up.
const flushAt = 256 << 10

// Router writes journal entries to the destinations of syslog.conf rules.
type Router struct {
	opts Options
	log  *slog.Logger
	// feed brings committed batches from the journal's tap (follow).
	feed  *feed
	fopts fileOpts
	rules []route
	term  *terminals

	// mu guards the files' descriptors, sizes and failures (not buf),
	// and reopenAll.
	mu    sync.Mutex
	files []*file
	pipes []*pipe

	// last is the newest entry routed but not yet in a saved state; only
	// the Run goroutine touches it, as seen. Only what a cursor needs: a
	// whole Entry stored per line costs a write barrier per field.
	last mark
	// seen is the sequence number of the newest entry routed: what the
	// feed and a catch-up from the journal both hold is routed once.
	seen uint64
	// synced records whether a file that syncs was written since the
	// last save.
	synced bool
	saved  time.Time // when the state was last saved
	// begin is where a first run starts, fixed by Begin (begun).
	begin string
	begun bool
	line  []byte
	// stamp is the formatted timestamp of second stampSec (format).
	stamp    []byte
	stampSec int64
}

// mark is the position of an entry routed, for the saved cursor.
type mark struct {
	seq  uint64
	rt   int64 // realtime, Unix nanoseconds
	boot string
}

// route is one rule as the Router carries it out.
type route struct {
	rule *syslogconf.Rule
	file *file
	pipe *pipe
}

// New prepares a Router; nothing is opened before Run.
func New(opts Options) *Router {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	r := &Router{opts: opts, log: opts.Logger, feed: newFeed(opts.feedLimit)}
	r.fopts = fileOpts{mode: opts.Config.FileMode, uid: lookupID(opts.Config.FileOwner, true), gid: lookupID(opts.Config.FileGroup, false)}
	r.term = &terminals{utmp: opts.Utmp, dev: opts.DevDir}
	byPath := map[string]*file{}
	pipes := map[string]*pipe{}
	for i := range opts.Config.Rules {
		rule := &opts.Config.Rules[i]
		rt := route{rule: rule}
		switch rule.Kind {
		case syslogconf.File:
			f := byPath[rule.Path]
			if f == nil {
				f = &file{path: rule.Path, noSync: true}
				byPath[rule.Path] = f
				r.files = append(r.files, f)
			}
			// One rule wanting sync makes the file synced.
			f.noSync = f.noSync && rule.NoSync
			rt.file = f
		case syslogconf.Pipe:
			p := pipes[rule.Path]
			if p == nil {
				p = &pipe{path: rule.Path}
				pipes[rule.Path] = p
				r.pipes = append(r.pipes, p)
			}
			rt.pipe = p
		case syslogconf.ForwardUDP, syslogconf.ForwardTCP:
			continue // the daemon's forwarders carry these out
		}
		r.rules = append(r.rules, rt)
	}
	return r
}

// lookupID resolves $FileOwner/$FileGroup; -1 leaves the creator's.
func lookupID(name string, isUser bool) int {
	if name == "" {
		return -1
	}
	if n, err := strconv.Atoi(name); err == nil {
		return n
	}
	var id string
	if isUser {
		if u, err := user.Lookup(name); err == nil {
			id = u.Uid
		}
	} else if g, err := user.LookupGroup(name); err == nil {
		id = g.Gid
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return -1
	}
	return n
}

// Paths lists the files written, for the inotify watch and for tests.
func (r *Router) Paths() []string {
	var out []string
	for _, f := range r.files {
		out = append(out, f.path)
	}
	return out
}

// Begin fixes where a first run (no saved state) starts: after the
// journal's newest entry now. Call it before the receivers whose
// messages the files must get start; otherwise Run fixes it when it
// starts, and what was committed in between never reaches the files
// (the first recvmmsg's worth of a burst sent at once did not).
func (r *Router) Begin(ctx context.Context) {
	r.begin, r.begun = r.lastCursor(ctx), true
}

// Run writes entries until ctx ends. Without a saved state it starts with
// the entries written from now on (or since Begin), not the journal's
// whole history.
func (r *Router) Run(ctx context.Context) error {
	st, err := loadState(r.opts.StateFile)
	if err != nil {
		return err
	}
	r.openAll(st)
	defer r.closeAll()
	w, err := newWatch(r.files, r.fileChanged)
	if err != nil {
		r.log.Warn("log files: not watching for rotation; logrotate needs a postrotate SIGHUP or tend reload-logs", "err", err)
	} else {
		defer w.start(ctx)()
	}
	after := st.cursor
	if !st.saved {
		if !r.begun {
			r.Begin(ctx)
		}
		after = r.begin
		if err := saveState(r.opts.StateFile, r.snapshot(after), false); err != nil {
			return err
		}
	}
	err = r.follow(ctx, after)
	if ferr := r.flush(true); err == nil {
		err = ferr
	}
	return err
}

// follow routes the entries after the cursor until ctx ends. Entries
// come from memory as the journal commits them (its tap), read back from
// the journal's files only for what was committed before (a restart) or
// what the feed dropped while the Router fell behind.
func (r *Router) follow(ctx context.Context, after string) error {
	fd := r.feed
	stop := r.opts.Journal.Tap(fd.put)
	defer stop()
	if after != "" {
		if seq, err := journal.ParseCursor(after); err == nil {
			r.seen = seq
		}
	}
	for {
		// Catch up: everything committed before the tap, or since the
		// feed overflowed, is in the journal; the feed may hold some of
		// it too, which routeNew skips.
		if err := r.opts.Journal.Query(ctx, journal.Query{AfterCursor: after}, r.routeRead); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for {
			if err := r.flush(false); err != nil {
				return err
			}
			bs, overflow, ok := fd.take(ctx)
			if !ok {
				// Route what was committed before the end too: the
				// next start need not read it back.
				bs, overflow = fd.takeNow()
			}
			for _, b := range bs {
				if err := b.Each(r.routeNew); err != nil {
					return err
				}
			}
			if !ok {
				return nil
			}
			if overflow {
				after = journal.FormatCursor(journal.Entry{Seq: r.seen})
				break
			}
		}
	}
}

// WaitFeed holds the caller, for at most limit, while the Router is
// behind the journal: its in-memory feed is more than half full, and more
// commits would overflow it and make the Router read them back from the
// journal's files (decoding, checking CRCs), the costliest way to get
// them. A writer that can hold its entries back without losing any (the
// syslog receivers: their senders wait, or the socket buffers them) calls
// it before each commit. A Router stuck on a slow file holds writers back
// once per limit, not per commit: it must not stop the journal.
func (r *Router) WaitFeed(limit time.Duration) { r.feed.waitRoom(limit) }

// routeNew routes e unless it was routed already.
func (r *Router) routeNew(e *journal.Entry) error {
	if e.Seq <= r.seen {
		return nil
	}
	r.seen = e.Seq
	return r.route(e)
}

// routeRead is routeNew for an entry read back from the journal.
func (r *Router) routeRead(e journal.Entry) error { return r.routeNew(&e) }

// lastCursor is the cursor of the newest entry, "" for an empty journal.
func (r *Router) lastCursor(ctx context.Context) string {
	c := ""
	_ = r.opts.Journal.Query(ctx, journal.Query{Lines: 1}, func(e journal.Entry) error {
		c = journal.FormatCursor(e)
		return nil
	})
	return c
}

// openAll opens every file and trims what each got past the cursor.
func (r *Router) openAll(st state) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		if err := f.open(r.fopts); err != nil {
			r.fail(f, err)
			continue
		}
		saved, ok := st.files[f.path]
		if st.saved {
			if cut := f.resume(saved, ok); cut > 0 {
				r.log.Info("log file: cut the lines written after the saved cursor; writing them again", "file", f.path, "bytes", cut)
			}
		}
	}
}

func (r *Router) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		f.close()
	}
	for _, p := range r.pipes {
		p.close()
	}
}

// fail records that f cannot be written, logging it once per failure.
// Called with mu held.
func (r *Router) fail(f *file, err error) {
	if f.failed == nil {
		r.log.Error("log file: lines for it are dropped until it can be opened (SIGHUP or tend reload-logs retries)", "err", err)
	}
	f.failed = err
	f.close()
}

// Reopen closes and reopens every file and pipe: after logrotate moved
// them away, or to retry one that failed. Buffered lines go to the new
// files. It returns the files that still cannot be opened.
func (r *Router) Reopen() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, f := range r.files {
		f.close()
		if err := f.open(r.fopts); err != nil {
			r.fail(f, err)
			errs = append(errs, err)
			continue
		}
		f.failed = nil
	}
	for _, p := range r.pipes {
		p.close()
	}
	return errs
}

// fileChanged is the watch's report that f's path was removed or now
// names another file: reopen it.
func (r *Router) fileChanged(f *file) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !f.replaced() {
		return
	}
	f.close()
	if err := f.open(r.fopts); err != nil {
		r.fail(f, err)
		return
	}
	f.failed = nil
	if r.opts.onReopen != nil {
		r.opts.onReopen(f.path)
	}
}

// route formats e for every rule that selects it.
func (r *Router) route(e *journal.Entry) error {
	r.last.seq, r.last.rt = e.Seq, e.Realtime.UnixNano()
	if r.last.boot != e.BootID {
		r.last.boot = e.BootID
	}
	r.line = r.line[:0]
	for _, rt := range r.rules {
		if !rt.rule.Selector.Match(e.Facility, e.Priority) {
			continue
		}
		if rt.rule.Kind == syslogconf.Discard {
			break
		}
		if len(r.line) == 0 {
			r.line = r.format(r.line, e)
		}
		switch {
		case rt.file != nil:
			rt.file.buf = append(rt.file.buf, r.line...)
			if len(rt.file.buf) >= flushAt {
				r.writeFile(rt.file)
			}
		case rt.pipe != nil:
			rt.pipe.buf = append(rt.pipe.buf, r.line...)
		default:
			r.term.write(rt.rule, r.opts.Hostname, e.Realtime, r.line)
		}
	}
	return nil
}

// writeFile writes f's buffer.
func (r *Router) writeFile(f *file) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.f != nil {
		if err := f.write(f.buf); err != nil {
			r.fail(f, fmt.Errorf("%s: write: %w", f.path, err))
		} else if !f.noSync {
			r.synced = true
		}
	}
	f.buf = f.buf[:0]
}

// saveEvery bounds how often the state is saved while lines flow. The
// state only decides how much is cut and written again after a crash, so
// saving it less often loses nothing; it spares a file replacement per
// batch when messages come one by one.
const saveEvery = time.Second

// flush writes every buffer and syncs the files that want it: the moment
// the journal has nothing more to give. It saves the state when saveEvery
// passed since the last save, or with final (at the end of Run).
func (r *Router) flush(final bool) error {
	if r.last.seq == 0 {
		return nil
	}
	r.mu.Lock()
	for _, p := range r.pipes {
		p.flush(r.log)
	}
	r.mu.Unlock()
	for _, f := range r.files {
		if len(f.buf) > 0 {
			r.writeFile(f)
		}
	}
	r.mu.Lock()
	for _, f := range r.files {
		if f.f != nil && f.dirty && !f.noSync {
			_ = f.f.Sync()
			f.dirty = false
		}
	}
	r.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(r.saved) < saveEvery {
		return nil
	}
	st := r.snapshot(journal.FormatCursor(journal.Entry{Seq: r.last.seq, BootID: r.last.boot, Realtime: time.Unix(0, r.last.rt)}))
	sync := r.synced
	r.last.seq, r.synced, r.saved = 0, false, now
	return saveState(r.opts.StateFile, st, sync)
}

// snapshot is the state to save with cursor.
func (r *Router) snapshot(cursor string) state {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := state{cursor: cursor, files: map[string]fileState{}}
	for _, f := range r.files {
		if f.f != nil {
			st.files[f.path] = fileState{dev: f.dev, ino: f.ino, size: f.size}
		}
	}
	return st
}
