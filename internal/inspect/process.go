// Package inspect builds the process views of tend — ps, tree, top, fds and
// the one-process inspect screen — from /proc (internal/procfs), the kernel's
// sock_diag interface, and, when a daemon runs, what it knows about units.
// It works without the daemon: units then come from cgroup paths alone.
package inspect

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/procfs"
)

// Process is one row of the process table.
type Process struct {
	PID     int      `json:"pid"`
	TID     int      `json:"tid,omitempty"` // the thread, in a per-thread listing (ps -L); else PID
	PPID    int      `json:"ppid"`
	PGID    int      `json:"pgid"`
	SID     int      `json:"sid"`
	TPGID   int      `json:"tpgid"`
	TTYDev  uint64   `json:"tty_dev"`
	TTY     string   `json:"tty"`
	State   string   `json:"state"`
	Stat    string   `json:"stat"` // state plus procps's flag letters
	UID     int      `json:"uid"`  // effective
	User    string   `json:"user"`
	RUID    int      `json:"ruid"`
	RUser   string   `json:"ruser"`
	Comm    string   `json:"comm"`
	Args    []string `json:"args,omitempty"`
	Kernel  bool     `json:"kernel_thread,omitempty"`
	Threads int      `json:"nlwp"`
	Nice    int      `json:"ni"`
	Prio    int      `json:"priority"`
	Policy  int      `json:"policy"`
	// Flags are the kernel's task flags (PF_*); Processor the CPU the
	// task last ran on.
	Flags     uint64 `json:"-"`
	Processor int    `json:"psr"`
	// Start is when the process started; StartTicks the same after boot.
	Start      time.Time `json:"start"`
	StartTicks uint64    `json:"-"`
	CPUTicks   uint64    `json:"cpu_ticks"` // utime+stime
	VSZ        uint64    `json:"vsz_kib"`
	RSS        uint64    `json:"rss_kib"`
	Shared     uint64    `json:"shr_kib,omitempty"`
	VmLck      uint64    `json:"-"`
	Wchan      string    `json:"wchan,omitempty"`
	Exe        string    `json:"exe,omitempty"`
	Cgroup     string    `json:"cgroup,omitempty"`
	Unit       string    `json:"unit,omitempty"`
	// Partial lists the files that could not be read (permission), so the
	// views can mark the fields as unknown instead of guessing.
	Partial []string `json:"unreadable,omitempty"`
}

// Need selects the per-process files beyond stat a view reads.
type Need uint

// Files a view may need; each costs one read per process.
const (
	NeedArgs   Need = 1 << iota // cmdline
	NeedStatus                  // status: real uid, VmLck, VmRSS
	NeedCgroup                  // cgroup: cgroup path and unit
	NeedStatm                   // statm: shared memory
	NeedWchan                   // wchan
	NeedExe                     // the exe link
	// NeedUser is the effective uid alone: from status when NeedStatus
	// is set, else the owner of /proc/PID, which the kernel keeps equal
	// to the euid even for non-dumpable processes (whose files it gives
	// to root) because ps used to read it there — a stat instead of a
	// read of status, a fifth of the cost.
	NeedUser
)

// Collector reads process tables. It holds caches (users, tty names) that
// make repeated snapshots cheaper; it is safe for use by one goroutine.
type Collector struct {
	FS    procfs.FS
	Units UnitSource // may be nil
	Now   func() time.Time
	users *Users
	ttys  *procfs.TTYNames
	cache *procCache // nil unless EnableCache
	// Workers is how many goroutines read processes; 0 picks one per CPU
	// (fastest wall time), 1 costs the least CPU (for refreshing views).
	Workers int
	// ASCII makes ps escape text as procps does outside a UTF-8 locale.
	ASCII bool
}

// procCache keeps what rarely changes in a process's life — owner,
// cgroup, command line, and shared memory while the resident size stays
// put — so a refreshing view reads only stat per process per frame.
type procCache struct {
	mu      sync.Mutex // guards entries and stats
	entries map[procKey]*Process
	// stats are the processes' stat files kept open between snapshots,
	// at most maxStats of them (half the descriptors the process may have),
	// from the second snapshot on: a single snapshot (top -b -n 1) would
	// only pay for holding thousands of files open.
	stats     map[int]*procfs.StatFile
	maxStats  int
	keepStats bool // set between snapshots, read by their workers
}

// procKey names one process incarnation: a pid is reused, a pid with its
// start time is not.
type procKey struct {
	pid   int
	start uint64
}

// EnableCache makes successive snapshots reuse the slow-changing fields
// of processes they already read (for top). A process that changes its
// user or cgroup after it started shows the old value until it restarts.
func (c *Collector) EnableCache() {
	c.cache = &procCache{entries: map[procKey]*Process{}, stats: map[int]*procfs.StatFile{}, maxStats: 512}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur/2 > 512 {
		c.cache.maxStats = int(min(lim.Cur/2, 1<<20))
	}
}

// Close releases what the cache holds open.
func (c *Collector) Close() {
	if c.cache == nil {
		return
	}
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	for pid, f := range c.cache.stats {
		f.Close()
		delete(c.cache.stats, pid)
	}
}

// stat reads pid's stat file, through the cache's open file when there is
// one, and opens one to keep otherwise.
func (c *Collector) stat(r *procfs.Reader, pid int) (procfs.Stat, error) {
	pc := c.cache
	if pc == nil || !pc.keepStats {
		return r.Stat(pid)
	}
	pc.mu.Lock()
	f := pc.stats[pid]
	full := len(pc.stats) >= pc.maxStats
	pc.mu.Unlock()
	if f == nil {
		if full {
			return r.Stat(pid)
		}
		var err error
		if f, err = r.OpenStat(pid); err != nil {
			return procfs.Stat{}, err
		}
		pc.mu.Lock()
		pc.stats[pid] = f
		pc.mu.Unlock()
	}
	st, err := r.ReadStat(f)
	if err != nil {
		pc.mu.Lock()
		delete(pc.stats, pid)
		pc.mu.Unlock()
		f.Close()
	}
	return st, err
}

// NewCollector returns a collector over the tree at fsys.
func NewCollector(fsys procfs.FS, units UnitSource) *Collector {
	return &Collector{FS: fsys, Units: units, Now: time.Now, users: NewUsers(), ttys: fsys.NewReader().TTYNames()}
}

// Users returns the collector's user-name cache.
func (c *Collector) Users() *Users { return c.users }

// Snapshot is a process table at one moment.
type Snapshot struct {
	At     time.Time
	Boot   time.Time // from btime
	Uptime float64   // seconds since boot
	// BootTicks is the uptime in clock ticks, truncated as procps does.
	BootTicks uint64
	MemTotal  uint64 // KiB
	UTF8      bool   // escape text for a UTF-8 terminal
	Procs     []*Process
	byPID     map[int]*Process
}

// Get returns the process with pid, or nil.
func (s *Snapshot) Get(pid int) *Process { return s.byPID[pid] }

// Snapshot reads every process (or only pids when given). Processes that
// exit while being read are left out; unreadable files are listed in
// Process.Partial.
func (c *Collector) Snapshot(ctx context.Context, need Need, pids []int) (*Snapshot, error) {
	r := c.FS.NewReader()
	sys, err := r.SysStat()
	if err != nil {
		return nil, err
	}
	up, err := r.Uptime()
	if err != nil {
		return nil, err
	}
	mem, err := r.MemInfo()
	if err != nil {
		return nil, err
	}
	s := &Snapshot{At: c.Now(), Boot: time.Unix(sys.BootTime, 0), Uptime: up, MemTotal: mem["MemTotal"],
		BootTicks: uint64(up * procfs.UserHZ), UTF8: !c.ASCII}
	if s.Procs, err = c.readAll(pids, need, s.Boot); err != nil {
		return nil, err
	}
	s.byPID = make(map[int]*Process, len(s.Procs))
	for _, p := range s.Procs {
		s.byPID[p.PID] = p
	}
	if c.cache != nil {
		c.cache.prune(s)
	}
	if need&(NeedCgroup) != 0 {
		c.addUnits(ctx, s)
	}
	return s, nil
}

// readAll reads pids, or every process when pids is nil, on up to
// GOMAXPROCS goroutines (the work is syscall bound), each with its own
// Reader, and returns them in pid order. Every process is listed while
// the workers already read the first batches.
func (c *Collector) readAll(pids []int, need Need, boot time.Time) ([]*Process, error) {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if c.Workers > 0 {
		workers = min(workers, c.Workers)
	}
	batches := make(chan []int, workers)
	var listErr error
	go func() {
		defer close(batches)
		if pids != nil {
			for len(pids) > 0 {
				n := min(len(pids), 128)
				batches <- pids[:n]
				pids = pids[n:]
			}
			return
		}
		listErr = c.FS.PIDBatches(func(b []int) bool {
			batches <- b
			return true
		})
	}()
	found := make([][]*Process, workers)
	var wg sync.WaitGroup
	for w := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.FS.NewReader()
			for b := range batches {
				for _, pid := range b {
					if p := c.read(r, pid, need, boot); p != nil {
						found[w] = append(found[w], p)
					}
				}
			}
		}()
	}
	wg.Wait()
	if listErr != nil {
		return nil, listErr
	}
	procs := slices.Concat(found...)
	slices.SortFunc(procs, func(a, b *Process) int { return a.PID - b.PID })
	return procs, nil
}

// read reads one process; nil when it is gone.
func (c *Collector) read(r *procfs.Reader, pid int, need Need, boot time.Time) *Process {
	st, err := c.stat(r, pid)
	if err != nil {
		return nil
	}
	p := fromStat(&st, boot)
	p.TTY = c.ttys.Name(st.TTY)
	if c.cache != nil {
		need = c.cache.fill(p, need)
	}
	mark := func(file string, err error) bool {
		if err == nil {
			return true
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		p.Partial = append(p.Partial, file)
		return true
	}
	if need&NeedStatus != 0 {
		ss, err := r.StatusIDs(pid)
		if !mark("status", err) {
			return nil
		}
		p.UID, p.RUID, p.VmLck = ss.UIDs[1], ss.UIDs[0], ss.VmLck
		// procps reports status's VmRSS, which sums the per-CPU counter
		// caches that stat's rss field may lag behind.
		p.RSS = ss.VmRSS
	} else if need&NeedUser != 0 {
		uid, _, err := r.Owner(pid)
		if !mark("owner", err) {
			return nil
		}
		p.UID, p.RUID = uid, uid
	}
	if need&(NeedStatus|NeedUser) != 0 {
		p.User, p.RUser = c.users.Name(p.UID), c.users.Name(p.RUID)
	}
	if need&NeedArgs != 0 {
		args, err := r.Cmdline(pid)
		if !mark("cmdline", err) {
			return nil
		}
		p.Args = args
	}
	if need&NeedCgroup != 0 {
		cg, err := r.Cgroups(pid)
		if !mark("cgroup", err) {
			return nil
		}
		p.Cgroup = procfs.MainCgroup(cg)
		p.Unit = UnitFromCgroup(p.Cgroup)
		if p.Unit == "" && p.Comm == "tend" {
			p.Unit = SelfLabel
		}
	}
	if need&NeedStatm != 0 {
		sm, err := r.Statm(pid)
		if !mark("statm", err) {
			return nil
		}
		p.Shared = sm.Shared * pageKiB
	}
	if need&NeedWchan != 0 {
		w, err := r.Wchan(pid)
		if !mark("wchan", err) {
			return nil
		}
		p.Wchan = w
	}
	if need&NeedExe != 0 {
		p.Exe, _ = os.Readlink(c.FS.Path(strconv.Itoa(pid), "exe")) // "-" when unreadable, as procps shows it
	}
	p.Stat = statLetters(p, &st)
	if c.cache != nil {
		c.cache.put(p)
	}
	return p
}

// fill copies cached fields into p and returns what is still to be read.
func (pc *procCache) fill(p *Process, need Need) Need {
	pc.mu.Lock()
	old := pc.entries[procKey{p.PID, p.StartTicks}]
	pc.mu.Unlock()
	if old == nil || len(old.Partial) > 0 {
		return need
	}
	p.UID, p.RUID, p.User, p.RUser, p.VmLck = old.UID, old.RUID, old.User, old.RUser, old.VmLck
	p.Cgroup, p.Unit, p.Args = old.Cgroup, old.Unit, old.Args
	need &^= NeedUser | NeedCgroup
	if old.Args != nil || need&NeedArgs != 0 && old.Kernel {
		need &^= NeedArgs
	}
	if old.RSS == p.RSS && need&NeedStatm != 0 {
		p.Shared = old.Shared
		need &^= NeedStatm
	}
	return need &^ NeedUser
}

func (pc *procCache) put(p *Process) {
	pc.mu.Lock()
	pc.entries[procKey{p.PID, p.StartTicks}] = p
	pc.mu.Unlock()
}

// prune forgets processes that are no longer in s.
func (pc *procCache) prune(s *Snapshot) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k := range pc.entries {
		if p := s.byPID[k.pid]; p == nil || p.StartTicks != k.start {
			delete(pc.entries, k)
		}
	}
	for pid, f := range pc.stats {
		if s.byPID[pid] == nil {
			f.Close()
			delete(pc.stats, pid)
		}
	}
	pc.keepStats = true
}

var pageKiB = uint64(os.Getpagesize() / 1024)

func fromStat(st *procfs.Stat, boot time.Time) *Process {
	return &Process{
		PID: st.PID, TID: st.PID, PPID: st.PPID, PGID: st.PGID, SID: st.SID, TPGID: st.TPGID, TTYDev: st.TTY,
		State: string(st.State), Comm: st.Comm, Kernel: st.Kernel(), Threads: st.Threads,
		Nice: st.Nice, Prio: st.Priority, Policy: st.Policy, Flags: st.Flags, Processor: st.Processor,
		StartTicks: st.StartTime,
		Start:      boot.Add(time.Duration(st.StartTime) * time.Second / procfs.UserHZ),
		CPUTicks:   st.UTime + st.STime,
		VSZ:        st.VSize / 1024, RSS: st.RSS * pageKiB,
	}
}

// statLetters builds the STAT column as procps does: the state, then '<'
// (negative nice) or 'N' (positive), 'L' (locked pages), 's' (session
// leader), 'l' (multi-threaded), '+' (in the terminal's foreground group).
func statLetters(p *Process, st *procfs.Stat) string {
	b := make([]byte, 0, 6)
	b = append(b, st.State)
	switch {
	case st.Nice < 0:
		b = append(b, '<')
	case st.Nice > 0:
		b = append(b, 'N')
	}
	if p.VmLck > 0 {
		b = append(b, 'L')
	}
	if st.SID == st.PID {
		b = append(b, 's')
	}
	if st.Threads > 1 {
		b = append(b, 'l')
	}
	if st.PGID == st.TPGID {
		b = append(b, '+')
	}
	return string(b)
}

// addUnits asks the daemon (when there is one) for units of processes the
// cgroups did not place. Its absence or failure is not an error: the views
// must work without it.
func (c *Collector) addUnits(ctx context.Context, s *Snapshot) {
	if c.Units == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := c.Units.ProcessUnits(ctx)
	if err != nil {
		return
	}
	for pid, u := range m {
		if p := s.byPID[pid]; p != nil && (p.Unit == "" || p.Unit == SelfLabel) {
			p.Unit = u
		}
	}
}
