package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/flock"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/syslog"
)

// daemon-reexec (docs/design.md, "Crash and re-exec"): the process
// stops taking work — API, notifications, syslog, exits — hands the
// manager's state, the log pipes' read ends and its listening sockets
// and locks to the binary on disk, and execs it in place: same pid, so
// the services stay its children.

// reexecEnv names the descriptor of the handoff (a memfd) in the new
// process's environment.
const reexecEnv = "TEND_REEXEC_STATE"

// handoff is what the old process gives the new one. Every number is a
// descriptor kept open across exec; -1 where there is none.
type handoff struct {
	State  supervise.SavedState `json:"state"`
	Pipes  []journal.PipeState  `json:"pipes,omitempty"`
	API    int                  `json:"api"`
	Notify int                  `json:"notify"`
	Syslog int                  `json:"syslog"`
	Locks  []int                `json:"locks"`
}

// reexecAsk is a re-exec asked for through the API: done gets nil once
// the API stopped accepting (the next connection waits for the new
// process), or why nothing was done.
type reexecAsk struct{ done chan error }

func (a reexecAsk) answer(err error) {
	if a.done != nil {
		a.done <- err
	}
}

// parts are the servers a re-exec stops one by one while the manager
// loop and the reaper still run.
type parts struct{ api, notify, syslog *part }

type part struct {
	stop context.CancelFunc
	done chan struct{}
}

func (parts) start(ctx context.Context, wg *sync.WaitGroup, guard func(string), name string, run func(context.Context)) *part {
	ctx, cancel := context.WithCancel(ctx)
	p := &part{stop: cancel, done: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(p.done)
		defer guard(name)
		run(ctx)
	}()
	return p
}

func (p *part) halt() {
	if p != nil {
		p.stop()
		<-p.done
	}
}

// reexec re-executes tend. An error before anything was stopped is
// answered to the asker and tend carries on (nil returned); an error
// after the state was handed over is returned, and tend must exit
// without stopping or cleaning anything.
func (d *daemon) reexec(ctx context.Context, ask reexecAsk) error {
	if err := unix.Access(d.exe, unix.X_OK); d.exe == "" || err != nil {
		err = fmt.Errorf("cannot re-execute %q: %v", d.exe, err)
		d.log.Error("daemon-reexec refused", "err", err)
		ask.answer(err)
		return nil
	}
	keep, h, err := d.dupListeners()
	if err != nil {
		d.log.Error("daemon-reexec refused", "err", err)
		ask.answer(err)
		for _, fd := range keep {
			unix.Close(fd)
		}
		return nil
	}
	d.log.Info("re-executing", "binary", d.exe)
	// The API first: connections from now on queue in the socket for
	// the next process. The asker hears back once that is so.
	d.parts.api.stop()
	<-d.apiClosed
	ask.answer(nil)
	<-d.parts.api.done
	// Then what feeds the manager, so that its last event comes before
	// the state is taken: notifications stay queued in their socket,
	// exits unreaped.
	d.parts.notify.halt()
	d.parts.syslog.halt()
	d.svdir.freeze()
	d.reaper.Freeze()
	st, err := d.mgr.Freeze(ctx)
	if err != nil {
		return fmt.Errorf("daemon-reexec: %w", err)
	}
	h.State = st
	h.Pipes = d.journal.DetachPipes()
	if err := d.journal.CloseForExec(); err != nil {
		d.log.Error("journal close", "err", err)
	}
	if d.lock != nil {
		for _, f := range d.lock.files {
			h.Locks = append(h.Locks, int(f.Fd()))
		}
	}
	fds := append([]int{}, h.State.KeepFDs()...)
	for _, p := range h.Pipes {
		fds = append(fds, p.FD)
	}
	fds = append(fds, h.Locks...)
	fds = append(fds, keep...)
	err = execWith(d.exe, h, fds)
	d.log.Error("cannot re-execute the binary on disk; trying the running one", "binary", d.exe, "err", err)
	err = errors.Join(err, execWith("/proc/self/exe", h, fds))
	// Still here: leave the state where a new start finds it.
	data, eerr := supervise.EncodeState(h.State)
	if eerr == nil {
		eerr = os.WriteFile(filepath.Join(d.cfg.Paths.Runtime, stateFileName), data, 0o600)
	}
	return fmt.Errorf("daemon-reexec failed; exiting and leaving the services to the next start: %w", errors.Join(err, eerr))
}

// dupListeners duplicates the listening sockets' descriptors, which
// outlive the servers that close theirs. The copies are bare numbers,
// not *os.Files: a file's Fd() puts the socket into blocking mode, and
// the copy shares that mode with the descriptor the server still reads.
// The API server's next accept then waited in the kernel, where closing
// the listener cannot end it, and the re-exec hung for good (once in a
// full test run, its accept loop having run late).
func (d *daemon) dupListeners() ([]int, *handoff, error) {
	h := &handoff{API: -1, Notify: -1, Syslog: -1}
	var keep []int
	ul, ok := d.ln.(*net.UnixListener)
	if !ok {
		return nil, nil, errors.New("control socket is not a unix listener")
	}
	fd, err := dupConn(ul)
	if err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	keep, h.API = append(keep, fd), fd
	if d.notify != nil {
		fd, err := dupConn(d.notify)
		if err != nil {
			return keep, nil, fmt.Errorf("notify socket: %w", err)
		}
		keep, h.Notify = append(keep, fd), fd
	}
	if d.syslog != nil {
		fd, err := dupConn(d.syslog.conn)
		if err != nil {
			return keep, nil, fmt.Errorf("syslog socket: %w", err)
		}
		keep, h.Syslog = append(keep, fd), fd
	}
	return keep, h, nil
}

// dupConn duplicates c's descriptor (close-on-exec, which execWith
// clears) and leaves its blocking mode as it is.
func dupConn(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// execWith writes h to a memfd and execs path with it; it returns only
// on failure.
func execWith(path string, h *handoff, fds []int) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	mfd, err := unix.MemfdCreate("tend-reexec", 0) // no CLOEXEC: the next process reads it
	if err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	defer unix.Close(mfd)
	f := os.NewFile(uintptr(mfd), "tend-reexec")
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	env := append(os.Environ(), reexecEnv+"="+strconv.Itoa(mfd))
	// No fork may run while the descriptors are inheritable: a child
	// started meanwhile (a spawn still under way) would keep the
	// instance locks, which then outlived tend.
	syscall.ForkLock.Lock()
	defer syscall.ForkLock.Unlock()
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("keep descriptor %d: %w", fd, err)
		}
	}
	return syscall.Exec(path, os.Args, env)
}

// takeHandoff reads what a previous process of this manager handed over
// across exec, if this process is a re-exec; nil otherwise.
func takeHandoff() (*handoff, error) {
	v, ok := os.LookupEnv(reexecEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(reexecEnv) // not for the services
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not a descriptor", reexecEnv, v)
	}
	f := os.NewFile(uintptr(fd), "tend-reexec")
	defer f.Close()
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	h := &handoff{}
	if err := json.NewDecoder(f).Decode(h); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	return h, nil
}

// listener is the inherited control socket, or a new one.
func (h *handoff) listener(path string) (net.Listener, error) {
	if h == nil || h.API < 0 {
		return api.Listen(path, 0o666)
	}
	f := os.NewFile(uintptr(h.API), "tend.sock")
	defer f.Close()
	return net.FileListener(f)
}

// notify is the inherited notify socket, or a new one.
func (h *handoff) notify(path string) (*notify.Socket, error) {
	if h == nil || h.Notify < 0 {
		return notify.Listen(path)
	}
	return notify.FromFile(path, os.NewFile(uintptr(h.Notify), "notify"))
}

// unitFDs wraps the descriptors of the units' fd stores.
func (h *handoff) unitFDs() map[int]*os.File {
	fds := map[int]*os.File{}
	for _, fd := range h.State.KeepFDs() {
		unix.CloseOnExec(fd)
		fds[fd] = os.NewFile(uintptr(fd), "fdstore")
	}
	return fds
}

// inheritSyslog serves the syslog socket the previous process bound.
func (d *daemon) inheritSyslog(f *os.File) *syslogIn {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		d.log.Warn("not capturing syslog", "err", err)
		return nil
	}
	conn, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		d.log.Warn("not capturing syslog: inherited descriptor is not a unix socket")
		return nil
	}
	s := &syslogIn{d: d, conn: conn}
	opts, _ := d.receiverOptions() // a bad limit is fatal in listenLogHost
	s.recv = syslog.NewReceiver(s.handle, opts)
	return s
}

// adoptLocks takes the instance locks over from the previous process:
// the same open files, so the locks never lapsed. Any that is not the
// lock file it should be is closed, and nil sends the caller to
// lockInstance.
func adoptLocks(p Paths, fds []int, log *slog.Logger) *instanceLock {
	paths := []string{filepath.Join(p.Runtime, runtimeLockName), filepath.Join(p.Journal, journalLockName)}
	l := &instanceLock{}
	ok := len(fds) == len(paths)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "lock")
		unix.CloseOnExec(fd)
		var a, b unix.Stat_t
		if !ok || unix.Fstat(fd, &a) != nil || unix.Stat(paths[i], &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino || flock.Try(f) != nil {
			ok = false
		}
		l.files = append(l.files, f)
	}
	if !ok {
		log.Warn("instance locks from the previous process are not this instance's; locking afresh")
		l.release()
		return nil
	}
	return l
}
