package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdholder"
	"github.com/tendproject/tend/internal/fdholder/holderproc"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/supervise"
)

// The fd holder (internal/fdholder) keeps duplicates of the journal's
// pipe read ends and the socket units' listeners in a process of its
// own, so that after a crash of tend nothing is lost: services writing
// meanwhile block at worst, clients connecting meanwhile are queued, and
// the next tend takes everything back (docs/design.md, "Crash and
// re-exec").

const holderSocket = "fdholder.sock"

// DefaultHolderGrace is how long the fd holder outlives a tend that
// ended without a clean exit, waiting for the next one: longer than any
// supervisor's restart delay (systemd's RestartSec= and s6's second,
// Docker's backoff capped at a minute, Kubernetes' CrashLoopBackOff at
// five), short enough that nothing is held for hours for a tend that
// will not come back (docs/decisions.md).
const DefaultHolderGrace = 10 * time.Minute

// holderPrefixSocket begins the holder names of listeners:
// "socket:UNIT:KEY", KEY as in the unit's fd store.
const holderPrefixSocket = "socket:"

// holder is tend's side of the fd holder.
type holder struct {
	c    *fdholder.Client
	q    *fdholder.Queue
	path string
	// listeners maps the holder names of listeners to their inode, to
	// store each once; it is used on the manager loop only.
	listeners map[string]uint64
	// kept is what the holder held at start-up, until restore takes it;
	// keptPipes names the journal pipes among them by inode. retrieve
	// sets both, and listeners, on its goroutine before closing
	// retrieved; nothing reads them before awaitKept.
	kept      map[string]*os.File
	keptPipes map[uint64]string
	retrieved chan struct{}
	// fresh: this tend started the holder, which holds nothing yet.
	fresh bool
	// grace is how long the holder waits for a new manager once this
	// one is gone (0: for ever).
	grace time.Duration
	// pid is the holder's when this tend started it (it is then one of
	// tend's children, which the shutdown must not kill: exit ends it,
	// after the last drops); 0 for a holder taken over.
	pid int
}

// openHolder connects to the holder a previous tend left running, or
// starts one. Without one tend runs as before (a crash then loses what
// the holder would have kept), so a failure is only a warning.
func openHolder(runtime string, grace time.Duration, log *slog.Logger) *holder {
	path := filepath.Join(runtime, holderSocket)
	c, err := fdholder.Dial(path)
	fresh, pid := false, 0
	if err != nil {
		if pid, err = startHolder(path, grace); err == nil {
			c, err = fdholder.Dial(path)
			fresh = true
		}
	}
	if err != nil {
		log.Warn("no fd holder: a crash of tend would lose log lines and refuse connections", "err", err)
		return nil
	}
	return &holder{c: c, q: fdholder.NewQueue(c, log), path: path, listeners: map[string]uint64{}, fresh: fresh, grace: grace, pid: pid}
}

// startHolder binds the holder's socket (so that it accepts as soon as
// this returns) and starts the holder on it, in a session of its own: a
// signal to tend's process group does not reach it. The holder is a fork
// of tend that needs no Go runtime (holderproc.Fork), and this tend is
// its manager: it exits grace after this tend ends unless another takes
// it over (takeKept).
func startHolder(path string, grace time.Duration) (int, error) {
	_ = os.Remove(path) // a holder that died left it
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return 0, err
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	ln.Close()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return 0, err
	}
	// The reaper collects the holder when it exits; it is not waited
	// for here.
	pid, err := holderproc.Fork(int(f.Fd()), os.Getuid(), grace)
	if err != nil {
		return 0, fmt.Errorf("starting the fd holder: %w", err)
	}
	return pid, nil
}

// retrieve takes a copy of everything the holder kept, for restore, on
// a goroutine of its own: the holder's answer (a process to be woken,
// hundreds of descriptors) need not hold up the rest of the start.
// awaitKept waits for it.
func (h *holder) retrieve(log *slog.Logger) {
	h.retrieved = make(chan struct{})
	go func() {
		defer close(h.retrieved)
		h.takeKept(log)
	}()
}

// awaitKept waits for retrieve, if it was called.
func (h *holder) awaitKept() {
	if h != nil && h.retrieved != nil {
		<-h.retrieved
	}
}

func (h *holder) takeKept(log *slog.Logger) {
	// The holder a crashed tend left counts down to its exit: this tend
	// manages it from now on. A holder of a tend from before the grace
	// period refuses, and outlives this tend as it did.
	if err := h.c.Manage(h.grace); err != nil {
		log.Info("the fd holder does not take a manager; it outlives tend", "err", err)
	}
	kept, err := h.c.Retrieve()
	if err != nil {
		log.Warn("cannot take back what the fd holder kept", "err", err)
		return
	}
	h.kept, h.keptPipes = kept, map[uint64]string{}
	for name := range kept {
		if strings.HasPrefix(name, holderPrefixSocket) {
			h.listeners[name] = 0 // stored again, or dropped, at the next persist
		} else if _, _, ino, ok := journal.ParseHeldName(name); ok {
			h.keptPipes[ino] = name
		}
	}
}

// listenerFDs moves the listeners the holder kept into st: each socket
// unit's fd store names them by key, and the returned map by descriptor,
// as Restore takes them after a re-exec. Other descriptors the state
// names died with the crashed manager and are forgotten.
func (h *holder) listenerFDs(st *supervise.SavedState) map[int]*os.File {
	fds := map[int]*os.File{}
	for i := range st.Units {
		su := &st.Units[i]
		old := su.FDs
		su.FDs = nil
		if su.Kind != "socket" || su.Transient != nil {
			continue
		}
		for key := range old {
			name := holderPrefixSocket + su.Name + ":" + key
			if f := h.kept[name]; f != nil {
				delete(h.kept, name)
				if su.FDs == nil {
					su.FDs = map[string]int{}
				}
				su.FDs[key] = int(f.Fd())
				fds[int(f.Fd())] = f
			}
		}
	}
	return fds
}

// takePipe returns the kept journal pipe of inode ino, if any.
func (h *holder) takePipe(ino uint64) (string, *os.File) {
	name, ok := h.keptPipes[ino]
	if !ok {
		return "", nil
	}
	delete(h.keptPipes, ino)
	f := h.kept[name]
	delete(h.kept, name)
	return name, f
}

// drainRest reads the kept pipes no adopted process claimed (their
// writer is gone, or was a control process or a child): what they hold
// still reaches the journal, under their unit. The rest of what was
// kept is closed and dropped.
func (h *holder) drainRest(j *journal.Journal, log *slog.Logger) {
	for name, f := range h.kept {
		delete(h.kept, name)
		unit, stream, _, ok := journal.ParseHeldName(name)
		if !ok {
			f.Close()
			continue
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			continue
		}
		src := journal.Source{Unit: unit, UID: -1, Stream: stream,
			Identifier: strings.TrimSuffix(unit, ".service"), Facility: 3, Priority: 6}
		if err := j.AdoptPipes([]journal.PipeState{{FD: fd, Source: src}}); err != nil {
			log.Warn("fd holder: kept descriptor is not a pipe; dropped", "name", name, "err", err)
			h.q.Release(name)
		}
	}
}

// syncListeners gives the holder the listeners of the state just
// written (on the manager loop, while they are open) and drops those
// that are gone.
func (h *holder) syncListeners(st supervise.SavedState) {
	seen := map[string]bool{}
	for _, su := range st.Units {
		if su.Kind != "socket" || su.Transient != nil {
			continue
		}
		for key, fd := range su.FDs {
			name := holderPrefixSocket + su.Name + ":" + key
			seen[name] = true
			var s unix.Stat_t
			if unix.Fstat(fd, &s) != nil || h.listeners[name] == s.Ino {
				continue
			}
			h.listeners[name] = s.Ino
			h.q.Hold(name, fd)
		}
	}
	for name := range h.listeners {
		if !seen[name] {
			delete(h.listeners, name)
			h.q.Release(name)
		}
	}
}

// closeKept closes what restore did not take.
func (h *holder) closeKept() {
	for name, f := range h.kept {
		f.Close()
		delete(h.kept, name)
	}
}

// exit ends the holder at a clean exit of tend: every unit stopped, so
// nothing it holds is needed.
func (h *holder) exit(log *slog.Logger) {
	h.q.Close()
	// A holder whose connection is already gone has nothing left to
	// serve: it ends when its client does.
	if err := h.c.Exit(); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		log.Warn("fd holder did not exit", "err", err)
	}
	h.c.Close()
	_ = os.Remove(h.path)
}

// kill ends the holder this tend started when its stop was given up, as
// exit does at a clean one: its grace period is for a crash, and the
// units whose pipes and listeners it holds were just killed. It is
// waited for (or found reaped: ECHILD), so that tend's exit means its
// copies are closed. A holder taken over (pid 0) is left to its grace
// period.
func (h *holder) kill() {
	if h != nil && h.pid > 0 && syscall.Kill(h.pid, syscall.SIGKILL) == nil {
		_, _ = syscall.Wait4(h.pid, nil, 0, nil)
	}
}

// syncFunc is the manager's OnPersist hook; nil without a holder.
func (h *holder) syncFunc() func(supervise.SavedState) {
	if h == nil {
		return nil
	}
	return h.syncListeners
}
