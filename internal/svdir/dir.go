package svdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/flock"
	"github.com/tendproject/tend/internal/nowait"
)

// LockedError reports a supervise/ directory that another supervisor (a
// runsv, a daemontools supervise, another tend) holds. runsv refuses such
// a directory the same way ("unable to lock supervise/lock").
type LockedError struct {
	Dir string // the service directory
	PID int    // the holder, 0 when unknown
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "pid " + strconv.Itoa(e.PID)
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(e.PID) + "/comm"); err == nil {
			who += " (" + strings.TrimSpace(string(comm)) + ")"
		}
	}
	return fmt.Sprintf("service directory %s: unable to lock supervise/lock: held by %s", e.Dir, who)
}

// Dir is a supervise/ directory tend maintains for one service directory
// (or for its log/ subservice: open "SVC/log"). It holds supervise/lock,
// both ends of supervise/control (so a writer never blocks and the read
// end never sees end-of-file) and, from its first Write on, the read end
// of supervise/ok (whose presence tells sv and svstat that a supervisor
// runs). Its control bytes
// arrive as Controls on the Hub it was opened with.
type Dir struct {
	svc  string // the service directory
	path string // its supervise directory
	hub  *Hub

	lock     *os.File
	ok       *os.File
	controlW *os.File
	controlR int // read end, owned by the hub's epoll set until Close

	garbage atomic.Uint64

	mu          sync.Mutex // guards ok (set once), last, pidWritten, statWritten, status, closed, made
	last        Status
	pidWritten  int    // pid in supervise/pid; -1 before the first write
	statWritten string // the line in supervise/stat; "" before the first write
	status      bool   // this Dir made supervise/status (20 bytes): it is written in place
	closed      bool
	// made are pid, stat and status as Prepare created them, empty, for
	// the first Write to fill (-1: not made, or written since).
	made [len(madeFiles)]int
}

// madeFiles are the files Prepare creates for the first Write: creating
// a file (its path looked up, its inode made) costs more than writing
// it, and Prepare runs on a worker, ahead of the start whose Write
// runs on the manager's loop.
var madeFiles = [...]string{"pid", "stat", "status"}

// Open creates SVC/supervise as runsv does (mode 0700; when supervise is
// a dangling symlink its target is created), locks supervise/lock, makes
// the control and ok FIFOs (0600, owned by tend's uid, so other users
// cannot write commands), writes st to status, stat and pid, and only then
// opens ok — so sv never sees a supervisor without a status. Commands
// written to control are delivered on h.
func Open(svc string, h *Hub, st Status) (*Dir, error) {
	d, err := Prepare(svc, h)
	if err != nil {
		return nil, err
	}
	if err := d.Write(st); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Prepare is Open without the first record: supervise/ is taken (the
// lock, both FIFOs made, control read, status, stat and pid created
// empty) but nothing is written and ok has no reader yet, so sv and
// svstat see no supervisor, as before runsv starts. The first Write
// writes status, stat and pid in place and then opens ok. A directory
// taken just before its service starts thus gets each file once, with
// the running state, instead of a "down" record first and then three
// replacements by rename at the start (at a bring-up of a thousand
// directories, the renames were most of the supervise/ work left on the
// manager's loop).
func Prepare(svc string, h *Hub) (*Dir, error) {
	sup := filepath.Join(svc, "supervise")
	if err := makeSuperviseDir(sup); err != nil {
		return nil, fmt.Errorf("service directory %s: %w", svc, err)
	}
	d := newDir(svc, sup, h)
	if err := d.open(); err != nil {
		d.closeFiles()
		return nil, err
	}
	d.makeFiles()
	return d, nil
}

func newDir(svc, sup string, h *Hub) *Dir {
	return &Dir{svc: svc, path: sup, hub: h, controlR: -1, pidWritten: -1, made: [...]int{-1, -1, -1}}
}

// makeFiles creates pid, stat and status empty (an earlier run's are
// emptied: only the lock, taken before, says no other supervisor uses
// them; ok has no reader yet, so sv reads none of them). A file that
// cannot be made now is made by the first Write.
func (d *Dir) makeFiles() {
	for i, name := range madeFiles {
		fd, err := unix.Open(filepath.Join(d.path, name), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
		if err == nil {
			d.made[i] = fd
		}
	}
}

// takeMade returns the descriptor of name as makeFiles created it, now
// the caller's, or -1.
func (d *Dir) takeMade(name string) int {
	for i, n := range madeFiles {
		if n == name {
			fd := d.made[i]
			d.made[i] = -1
			return fd
		}
	}
	return -1
}

// open is Prepare after the directory exists; the caller closes what it
// opened when it fails.
func (d *Dir) open() (err error) {
	svc, sup := d.svc, d.path
	// The lock and control's write end are bare descriptors wrapped in
	// blocking *os.Files, which Go's poller does not take in: os.OpenFile
	// would try (an epoll_ctl that fails for the lock) or register
	// control's write end, which is never written, for every directory.
	// A FIFO put in the lock's place must not hold the open (nowait).
	lock, err := nowait.Open(filepath.Join(sup, "lock"), unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NOCTTY, 0o600)
	if err != nil {
		return fmt.Errorf("service directory %s: unable to open supervise/lock: %w", svc, err)
	}
	d.lock = os.NewFile(uintptr(lock), filepath.Join(sup, "lock"))
	if err := flock.Try(d.lock); err != nil {
		var held *flock.HeldError
		if errors.As(err, &held) {
			return &LockedError{Dir: svc, PID: held.PID}
		}
		return fmt.Errorf("service directory %s: %w", svc, err)
	}
	if d.controlR, err = openFIFO(filepath.Join(sup, "control")); err != nil {
		return fmt.Errorf("service directory %s: %w", svc, err)
	}
	// Blocking, yet the open returns at once: we hold a reader.
	controlW, err := openBare(filepath.Join(sup, "control"), unix.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("service directory %s: unable to open supervise/control: %w", svc, err)
	}
	d.controlW = os.NewFile(uintptr(controlW), filepath.Join(sup, "control"))
	if err := makeFIFO(filepath.Join(sup, "ok")); err != nil {
		return fmt.Errorf("service directory %s: %w", svc, err)
	}
	if err := d.hub.add(d); err != nil {
		return fmt.Errorf("service directory %s: %w", svc, err)
	}
	return nil
}

// openOKLocked opens the read end of ok, which makes the supervisor visible to
// sv; Prepare made it a FIFO of ours.
func (d *Dir) openOKLocked() error {
	path := filepath.Join(d.path, "ok")
	fd, err := openBare(path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("service directory %s: unable to open supervise/ok: %w", d.svc, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return fmt.Errorf("service directory %s: supervise/ok is not a fifo any more", d.svc)
	}
	d.ok = os.NewFile(uintptr(fd), path)
	return nil
}

// makeSuperviseDir makes sup, or the target of a dangling symlink at sup
// (relative targets are relative to sup's directory), as runsv does for
// distributions that keep supervise/ under /run.
func makeSuperviseDir(sup string) error {
	err := os.Mkdir(sup, 0o700)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("unable to make supervise: %w", err)
	}
	if fi, err := os.Stat(sup); err == nil {
		if !fi.IsDir() {
			return errors.New("supervise exists but is not a directory")
		}
		return nil
	}
	target, err := os.Readlink(sup)
	if err != nil {
		return fmt.Errorf("unable to make supervise: %w", err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(sup), target)
	}
	if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("unable to make supervise (a symlink to %s): %w", target, err)
	}
	return nil
}

// openFIFO makes (if needed) and opens the read end of a FIFO without
// blocking, and makes it 0600 and owned by us whatever it was before: the
// control FIFO is an order channel, and only its owner may give orders.
func openFIFO(path string) (int, error) {
	name := "supervise/" + filepath.Base(path)
	if err := mkfifo(path, name); err != nil {
		return -1, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, fmt.Errorf("unable to open %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("unable to stat %s: %w", name, err)
	}
	err = restrictFIFO(name, &st, func() error { return unix.Fchown(fd, os.Geteuid(), os.Getegid()) },
		func() error { return unix.Fchmod(fd, 0o600) })
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// mkfifo makes the FIFO at path (name in messages) unless it exists.
func mkfifo(path, name string) error {
	if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("unable to make %s: %w", name, err)
	}
	return nil
}

// restrictFIFO checks that st is a FIFO and makes it 0600 and ours with
// chown and chmod, unless it is so already (as Mkfifo made it).
func restrictFIFO(name string, st *unix.Stat_t, chown, chmod func() error) error {
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("%s exists but is not a fifo", name)
	}
	if int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid() && st.Mode&0o7777 == 0o600 {
		return nil
	}
	err := chown()
	if err == nil {
		err = chmod()
	}
	if err != nil {
		return fmt.Errorf("unable to restrict %s: %w", name, err)
	}
	return nil
}

// openBare opens path (never a symlink, never as a controlling
// terminal) close-on-exec, retrying on EINTR, and returns the bare
// descriptor.
func openBare(path string, mode int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(path, mode|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NOCTTY, perm)
		if err != unix.EINTR {
			if err != nil {
				return -1, &os.PathError{Op: "open", Path: path, Err: err}
			}
			return fd, nil
		}
	}
}

// makeFIFO makes (if needed) the FIFO at path without opening it, and
// makes it 0600 and owned by us whatever it was before, as openFIFO does.
func makeFIFO(path string) error {
	name := "supervise/" + filepath.Base(path)
	if err := mkfifo(path, name); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("unable to stat %s: %w", name, err)
	}
	return restrictFIFO(name, &st, func() error { return unix.Lchown(path, os.Geteuid(), os.Getegid()) },
		func() error { return unix.Fchmodat(unix.AT_FDCWD, path, 0o600, 0) })
}

// Service returns the service directory d supervises.
func (d *Dir) Service() string { return d.svc }

// Path returns the supervise directory.
func (d *Dir) Path() string { return d.path }

// Status returns what d last wrote.
func (d *Dir) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Garbage counts the bytes written to control that were no command; they
// are ignored, as runsv ignores them.
func (d *Dir) Garbage() uint64 { return d.garbage.Load() }

// Write records st: supervise/pid when the pid changed, then stat when
// its line changed, each written to NAME.new and renamed over NAME as
// runsv does, so that a reader sees the old file or the new one, never a
// part; then status. The first status is made the same way (after
// Resume) or in place (the first Write after Prepare, below); later ones
// are one pwrite of the 20 bytes over the 20 bytes in place: a file made
// and another unlinked at every start and exit of every service was most
// of the cost of a restart's bookkeeping. The file never changes size, so
// sv and svstat, which read it with one read(2), always get a record of
// the right size. (No descriptor is kept for it: a directory holds four
// already, and 2000 directories must fit in a 20000-descriptor limit.)
//
// The first Write after Prepare is made before ok has a reader: sv and
// svstat read nothing while they cannot open ok, so the files are
// written in place, without a NAME.new and a rename each, and ok is
// opened after them. When ok cannot be opened, the error says so and the
// next Write tries again.
func (d *Dir) Write(st Status) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("service directory %s: supervise closed", d.svc)
	}
	first := d.ok == nil
	if first || st.PID != d.pidWritten {
		pid := ""
		if st.PID != 0 {
			pid = strconv.Itoa(st.PID) + "\n"
		}
		if err := d.put("pid", []byte(pid), first); err != nil {
			return err
		}
		d.pidWritten = st.PID
	}
	if line := st.Stat(); first || line != d.statWritten {
		if err := d.put("stat", []byte(line), first); err != nil {
			return err
		}
		d.statWritten = line
	}
	if err := d.writeStatus(st.Encode(), first); err != nil {
		return err
	}
	d.last = st
	if first {
		return d.openOKLocked()
	}
	return nil
}

// Written reports whether Write has made the files and opened ok, that
// is whether sv sees this supervisor.
func (d *Dir) Written() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ok != nil
}

func (d *Dir) writeStatus(b [StatusSize]byte, first bool) error {
	if !first && d.status {
		path := filepath.Join(d.path, "status")
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		for err == unix.EINTR {
			fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		}
		if err == nil {
			n, err := pwrite(fd, b[:])
			unix.Close(fd)
			if err == nil && n == len(b) {
				return nil
			}
		}
		// Whatever went wrong with the file in place, a new one is
		// made as the first was.
	}
	if err := d.put("status", b[:], first); err != nil {
		return err
	}
	d.status = true
	return nil
}

func pwrite(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Pwrite(fd, b, 0)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// put writes supervise/NAME (see create).
func (d *Dir) put(name string, b []byte, inPlace bool) error {
	fd, err := d.create(name, b, inPlace)
	if fd >= 0 {
		unix.Close(fd)
	}
	return err
}

// create writes b to supervise/NAME, in place or (so that a reader sees
// the old file or the new one, never a part) to NAME.new renamed over
// NAME; it returns the descriptor it wrote through, now NAME's, or -1 on
// failure.
func (d *Dir) create(name string, b []byte, inPlace bool) (int, error) {
	path := filepath.Join(d.path, name)
	if fd := d.takeMade(name); fd >= 0 {
		if n, err := pwrite(fd, b); err == nil && n == len(b) {
			return fd, nil
		}
		unix.Close(fd) // made anew below
	}
	if inPlace {
		fd, err := writeNew(path, b)
		if err != nil {
			return -1, fmt.Errorf("service directory %s: unable to write supervise/%s: %w", d.svc, name, err)
		}
		return fd, nil
	}
	fd, err := writeNew(path+".new", b)
	if err == nil {
		err = os.Rename(path+".new", path)
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		os.Remove(path + ".new")
		return -1, fmt.Errorf("service directory %s: unable to write supervise/%s: %w", d.svc, name, err)
	}
	return fd, nil
}

// writeNew creates path with b through the bare descriptor, which it
// returns open (-1 on failure): files are written at each start and exit,
// and an *os.File costs four fcntl, a failing epoll_ctl and a finalizer
// each time (a tenth of tend's CPU at the bring-up of a thousand service
// directories).
func writeNew(path string, b []byte) (int, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for len(b) > 0 && err == nil {
		var n int
		n, err = unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			err = nil
		case err == nil && n == 0:
			err = io.ErrShortWrite
		case err == nil:
			b = b[n:]
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "write", Path: path, Err: err}
	}
	return fd, nil
}

// Close stops reading commands and lets the directory go: the files stay
// (as runsv leaves them) but ok has no reader any more, so sv reports
// "runsv not running", and another supervisor may take the lock.
// Commands read before Close may still arrive on the hub.
func (d *Dir) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.hub.remove(d)
	d.closeFiles()
	return nil
}

// closeFiles closes what Open opened; the hub has forgotten controlR.
func (d *Dir) closeFiles() {
	if d.controlR >= 0 {
		unix.Close(d.controlR)
		d.controlR = -1
	}
	for _, name := range madeFiles {
		if fd := d.takeMade(name); fd >= 0 {
			unix.Close(fd)
		}
	}
	for _, f := range []*os.File{d.ok, d.controlW, d.lock} {
		if f != nil {
			f.Close()
		}
	}
}
