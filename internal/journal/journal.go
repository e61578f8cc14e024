package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure a journal. Zero values select the documented defaults.
type Options struct {
	Dir string // journal directory; created if missing

	// MaxUse caps the journal's total size (default: 10% of the file
	// system, at most 4 GiB). KeepFree is the free-space floor the journal
	// leaves on its file system (default: 15%, at most 4 GiB; negative:
	// none). MaxAge drops segments whose newest entry is older (0: no age
	// limit). See docs/journal.md for the order the rules apply in.
	MaxUse, KeepFree int64
	MaxAge           time.Duration
	// MaxFileSize is the size at which a unit's segment is rotated
	// (default: MaxUse/8, between 1 MiB and 32 MiB).
	MaxFileSize int64
	// PerUnitMaxUse caps one unit's share (default: MaxUse/4). Over the
	// global limits, the unit using most space loses its oldest segment
	// first, so a chatty unit cannot evict a quiet one's history.
	PerUnitMaxUse int64
	// LineMax splits longer lines into entries of this size, marked
	// Partial (default 48 KiB, like journald).
	LineMax int
	// RateLimitBurst lines per RateLimitInterval and pipe are kept; more
	// are dropped and counted, and a "Suppressed N messages" entry says
	// how many. Zero (the default) disables rate limiting: nothing is
	// dropped and a slow disk applies backpressure to the service.
	RateLimitInterval time.Duration
	RateLimitBurst    int
	// SyncInterval bounds how long written entries may stay only in the
	// page cache (default 5s). The timer runs only while data is unsynced.
	SyncInterval time.Duration

	// Holder, if set, keeps a duplicate of every pipe's read end outside
	// tend while the journal reads it (internal/fdholder), so that a
	// crash of tend loses no line (holder.go).
	Holder Holder
	// SpoolDir, with a Holder, is where the pipe reader moves what it
	// takes from a pipe before it is committed (spool.go), so that not
	// even a kill between a read and its commit loses a byte. Best on a
	// tmpfs (the runtime directory).
	SpoolDir string

	// OnPanic, if set, is called with what a panic of the pipe reader's
	// goroutine carried, instead of crashing the process: the daemon
	// restarts in place (internal/daemon/panic.go). It must not return.
	OnPanic func(goroutine string, v any)

	Logger    *slog.Logger
	Clock     func() time.Time     // realtime; default time.Now
	Monotonic func() time.Duration // default CLOCK_MONOTONIC
	BootID    string               // default /proc/sys/kernel/random/boot_id
}

// Journal is an open, writable journal. Its methods are safe for
// concurrent use.
type Journal struct {
	opts Options
	log  *slog.Logger
	lock *os.File // flock'ed: one writer per directory

	// wmu guards the write state: units, their segments and files, the
	// sequence counter's commits, pipes and closed. All appends are
	// serialised under it, so sequence order is commit order.
	wmu    sync.Mutex
	units  map[string]*unitLog
	shared map[string]sharedUnit // units stored in another's stream (shared.go)
	seq    uint64                // last sequence number committed
	in     *ingest               // the pipe reader, started by the first Pipe
	// closing refuses new pipes while Close stores what the open ones
	// hold; closed refuses everything.
	closing, closed bool
	syncTimer       *time.Timer // armed while some unit is dirty
	ageTimer        *time.Timer // armed to the next MaxAge expiry
	scratch         []byte      // encode buffer, reused under wmu
	taps            []*tap      // hear of each commit (Tap)
	// encodeLocked's and writePieces', reused under wmu; tapBuf is the
	// frames of a commit in one piece, for taps
	frames []frameNote
	pieces []piece
	cuts   []uint64
	iov    [][]byte
	tapBuf []byte
	// batchBufs holds AppendBatch's records and arenas between calls.
	batchBufs sync.Pool
	// Write failures: lines lost per unit, not yet reported; the last
	// error; and the retry schedule (backoff 0: writes work).
	lost       map[string]int64
	lostErr    error
	backoff    time.Duration
	retryAt    time.Time
	retryTimer *time.Timer // armed while writes fail and lines were lost

	committed  atomic.Uint64 // last committed seq, readable without wmu
	unreported atomic.Bool   // lost is not empty: a successful commit reports it

	ntfMu sync.Mutex    // guards ntf
	ntf   chan struct{} // closed and replaced after every commit

	retMu sync.Mutex // serialises retention runs
	repMu sync.Mutex // serialises loss reports; taken before wmu

	damage []Damage // found at Open; immutable afterwards

	timerWG sync.WaitGroup // the sync and age timers' callbacks

	// The sealer of released segments (release.go): its queue and
	// whether it runs, guarded by wmu; Close waits for it.
	sealQ   []*rotation
	sealing bool
	sealWG  sync.WaitGroup

	beforeWrite func() // test hook: runs before every write(2)
}

// unitLog is one unit's segments; guarded by Journal.wmu.
type unitLog struct {
	name   string
	dir    string
	segs   []*segment // oldest first; the last one is active when f != nil
	f      *os.File
	dirty  bool // written since the last fsync
	newDir bool // directory entry not yet synced
	// wbAt is where the active segment's early writeback stopped.
	wbAt int64
	// release: Release was called while pipes of the unit were still
	// read; the last one's end seals the active segment (release.go).
	release bool
	// resume: the last segment, left unsealed by an earlier run, takes
	// the unit's next appends; it is opened then (Journal.resumable).
	resume bool
}

func (o *Options) setDefaults() error {
	if o.Dir == "" {
		return errors.New("journal: no directory")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Monotonic == nil {
		o.Monotonic = monotonicNow
	}
	if o.BootID == "" {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			return fmt.Errorf("journal: boot id: %w", err)
		}
		o.BootID = strings.TrimSpace(string(b))
	}
	var fs unix.Statfs_t
	if o.MaxUse == 0 || o.KeepFree == 0 {
		if err := unix.Statfs(o.Dir, &fs); err != nil {
			return fmt.Errorf("journal %s: %w", o.Dir, err)
		}
	}
	total := int64(fs.Blocks) * fs.Bsize
	if o.MaxUse == 0 {
		o.MaxUse = min(total/10, 4<<30)
	}
	if o.KeepFree == 0 {
		o.KeepFree = min(total*15/100, 4<<30)
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = min(max(o.MaxUse/8, 1<<20), 32<<20)
	}
	if o.PerUnitMaxUse == 0 {
		o.PerUnitMaxUse = max(o.MaxUse/4, 2*o.MaxFileSize)
	}
	if o.LineMax <= 0 {
		o.LineMax = 48 << 10
	}
	o.LineMax = min(o.LineMax, maxRecPayload-recFixed-maxIdentLen-2-maxExtLen)
	if o.SyncInterval <= 0 {
		o.SyncInterval = 5 * time.Second
	}
	return nil
}

func monotonicNow() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// Open opens (creating if needed) the journal in opts.Dir. Segments left
// by an earlier run are checked: those without an intact index are scanned,
// damaged regions skipped and reported (Damage, and a warning on the
// logger), and then sealed, except each unit's last one when it is intact:
// the unit's next entries are appended to it (resumable).
func Open(opts Options) (*Journal, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	cat, dmg, err := loadCatalog(opts.Dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	j := &Journal{
		lock:  lock,
		opts:  opts,
		log:   opts.Logger,
		units: map[string]*unitLog{},
		ntf:   make(chan struct{}),
	}
	for _, d := range dmg {
		j.log.Warn("journal damage skipped", "file", d.Path, "offset", d.Offset, "bytes", d.Length, "reason", d.Reason)
	}
	j.damage = dmg
	var unsealed []*segment
	for name, segs := range cat {
		u := &unitLog{name: name, dir: filepath.Join(opts.Dir, escapeUnit(name))}
		for i, s := range segs {
			if !s.sealed {
				if s.empty() && !hasDamage(dmg, s.path) {
					os.Remove(s.path) // created but never written
					continue
				}
				if i == len(segs)-1 && j.resumable(s, dmg) {
					// What the earlier run wrote last may not be on
					// the disk yet: the sync timer sees to it.
					u.resume, u.dirty = true, true
					j.armSyncLocked()
				} else {
					unsealed = append(unsealed, s)
					s.sealed = true // its index is in memory: no more appends
				}
			}
			j.seq = max(j.seq, s.lastSeq())
			u.segs = append(u.segs, s)
		}
		j.units[name] = u
	}
	j.seq = max(j.seq, readSeqHint(lock))
	j.committed.Store(j.seq)
	j.sealLeft(unsealed)
	return j, nil
}

// resumable reports whether s, the last segment of its unit, left
// unsealed by an earlier run (a crash or a re-exec), may take this run's
// appends: it is intact to its end, of this boot and of this format
// version (a "TNDJSEG1" one holds no batch frames), and smaller than
// resumeMax. Resuming it costs nothing until the unit logs (then one
// open(2) of an existing file), where a new segment costs a file
// creation and the old one an index and its fsyncs; and the number of
// segments does not grow with every restart of the manager.
func (j *Journal) resumable(s *segment, dmg []Damage) bool {
	return s.hdrSize > 0 && !s.v1 && s.boot == j.opts.BootID && s.size < min(j.opts.MaxFileSize, resumeMax) &&
		!hasDamage(dmg, s.path)
}

// resumeMax bounds a segment that Open resumes: the next Open scans it
// whole (it has no index), so a chatty unit's segment, resumed at every
// restart, would cost a scan of up to MaxFileSize each time. Beyond
// this it is sealed as before (one index, in the background) and the
// unit starts a new one.
const resumeMax = 1 << 20

// sealLeft writes the indexes of the segments an earlier run left
// unsealed and this one does not resume (resumable), and then
// applies retention. Each index costs a few fsyncs; written in the
// background, they keep a manager taking over from reading pipes late.
// Retention waits for it (it holds retMu), Close joins it.
func (j *Journal) sealLeft(segs []*segment) {
	j.retMu.Lock()
	j.timerWG.Add(1)
	go func() {
		defer j.timerWG.Done()
		for _, s := range segs {
			if err := writeIndex(s); err != nil {
				j.log.Warn("journal: cannot seal segment", "file", s.path, "err", err)
			}
		}
		j.retMu.Unlock()
		j.enforceRetention()
	}()
}

func hasDamage(dmg []Damage, path string) bool {
	for _, d := range dmg {
		if d.Path == path {
			return true
		}
	}
	return false
}

// Damage returns the damaged regions found when the journal was opened.
func (j *Journal) Damage() []Damage { return j.damage }

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.opts.Dir }

// BootID returns the boot id new entries are written with.
func (j *Journal) BootID() string { return j.opts.BootID }

// Close stops every pipe reader, storing what the pipes hold then (up to
// a pipe's capacity each: what a unit still running writes later is
// lost, so stop units first), syncs and seals the active segments.
// Queries running meanwhile may fail.
func (j *Journal) Close() error {
	j.wmu.Lock()
	if j.closed || j.closing {
		j.wmu.Unlock()
		return nil
	}
	j.closing = true
	in := j.in
	j.wmu.Unlock()
	if in != nil {
		// Before closed: the loop's last read, and what the pipes still
		// hold, are committed, not dropped.
		in.stop()
	}
	j.wmu.Lock()
	j.closed = true
	j.wmu.Unlock()
	j.sealWG.Wait() // released segments are sealed before the lock goes
	// A last try to say what was lost, whatever the retry schedule.
	j.reportLost(true)

	defer j.timerWG.Wait() // after the unlock: the callback takes wmu
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.retryTimer != nil && j.retryTimer.Stop() {
		j.timerWG.Done()
	}
	j.retryTimer = nil
	if j.syncTimer != nil && j.syncTimer.Stop() {
		j.timerWG.Done()
	}
	j.syncTimer = nil
	if j.ageTimer != nil && j.ageTimer.Stop() {
		j.timerWG.Done()
	}
	j.ageTimer = nil
	var errs []error
	for _, u := range j.units {
		if err := u.sealLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	j.notify()
	errs = append(errs, writeSeqHint(j.lock, j.seq), j.lock.Close())
	return errors.Join(errs...)
}

// CloseForExec closes the journal for a re-exec of the same manager,
// after DetachPipes: the active segments are closed without the fsyncs
// and indexes of Close (the kernel that keeps their pages runs on; the
// next process seals them when it opens the journal), so that the pipes
// wait for a reader as short a time as can be.
func (j *Journal) CloseForExec() error {
	j.wmu.Lock()
	for _, u := range j.units {
		if u.f != nil {
			u.f.Close()
			u.f = nil
		}
		u.resume = false // left for the next process to resume
	}
	j.wmu.Unlock()
	return j.Close()
}

// lockDir takes the directory's writer lock, so two daemons never append
// to (or seal) the same segments.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("journal %s is in use by another process (a running tend?)", dir)
		}
		return nil, fmt.Errorf("journal %s: lock: %w", dir, err)
	}
	return f, nil
}

// The lock file also remembers the last sequence number at Close, so
// numbering (and thus cursors) never restarts even when retention or a
// vacuum removed every segment. After a crash the segments' own numbers
// are the fallback.
func readSeqHint(f *os.File) uint64 {
	var b [32]byte
	n, _ := f.ReadAt(b[:], 0)
	seq, err := strconv.ParseUint(strings.TrimSpace(string(b[:n])), 10, 64)
	if err != nil {
		return 0
	}
	return seq
}

func writeSeqHint(f *os.File, seq uint64) error {
	if _, err := f.WriteAt([]byte(fmt.Sprintf("%020d\n", seq)), 0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return f.Sync()
}

// VacuumDir is Journal.Vacuum on a directory no daemon has open, for
// `tend logs --vacuum-size/--vacuum-time`. It applies no other limit.
func VacuumDir(dir string, size int64, age time.Duration) (int64, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	const huge = math.MaxInt64 / 4
	j, err := Open(Options{Dir: dir, MaxUse: huge, PerUnitMaxUse: huge, KeepFree: -1, MaxFileSize: huge})
	if err != nil {
		return 0, err
	}
	defer j.Close()
	if size == 0 {
		size = huge
	}
	return j.Vacuum(size, age)
}

// notify wakes every follower.
func (j *Journal) notify() {
	j.ntfMu.Lock()
	close(j.ntf)
	j.ntf = make(chan struct{})
	j.ntfMu.Unlock()
}

// changed returns a channel closed at the next commit.
func (j *Journal) changed() <-chan struct{} {
	j.ntfMu.Lock()
	defer j.ntfMu.Unlock()
	return j.ntf
}
