package daemon

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shutdown stops every unit in order, then what they left behind. While
// it waits, repeated SIGINT/SIGTERM hurry it (see escalation). It reports
// the signal that made tend give up waiting, or 0.
func (d *daemon) shutdown(sigs <-chan os.Signal) syscall.Signal {
	sctx, scancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer scancel()
	hurry := make(chan struct{})
	esc := &escalation{log: d.log, kill: d.killAll, abort: func() { scancel(); close(hurry) }}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if esc.on(s) {
					return
				}
			}
		}
	}()
	d.svdir.beginShutdown(sctx)
	if err := d.mgr.Shutdown(sctx); err != nil {
		d.log.Warn("orderly shutdown incomplete", "err", err)
	}
	d.svdir.close(sctx)
	d.killRemaining(hurry)
	close(done)
	<-finished
	return esc.gaveUp
}

// escalation hurries a shutdown when SIGINT or SIGTERM comes again, as
// systemd and container inits do: the orderly stop began with the first
// signal; the second SIGKILLs every process left, and the third (or the
// second, when nothing was left to kill) stops waiting altogether.
type escalation struct {
	log    *slog.Logger
	kill   func() int // SIGKILLs what is left, returning how much there was
	abort  func()     // ends every wait of the shutdown
	killed bool
	gaveUp syscall.Signal // the signal that ended the waiting
}

// on handles one signal; it reports whether the waiting is over.
func (e *escalation) on(s os.Signal) bool {
	sig, _ := s.(syscall.Signal)
	name := unix.SignalName(sig)
	if sig != syscall.SIGINT && sig != syscall.SIGTERM {
		e.log.Info("ignoring signal during shutdown", "signal", name)
		return false
	}
	if !e.killed {
		e.killed = true
		if n := e.kill(); n > 0 {
			e.log.Warn("received "+name+" again: killing remaining processes", "left", n)
			return false
		}
		e.log.Warn("received " + name + " again: nothing left to kill, exiting at once")
	} else {
		e.log.Warn("received " + name + " again: exiting at once")
	}
	e.gaveUp = sig
	e.abort()
	return true
}

// remainingChildren lists tend's children but the fd holder it started:
// close ends the holder once the journal's last drops reached it (killed
// here, it made every drop of the shutdown fail, each with a warning).
func (d *daemon) remainingChildren() []int {
	pids := remainingChildren()
	if d.holder == nil || d.holder.pid == 0 {
		return pids
	}
	return slices.DeleteFunc(pids, func(pid int) bool { return pid == d.holder.pid })
}

// killAll SIGKILLs every unit's processes and tend's other children, and
// returns how many groups and children there were.
func (d *daemon) killAll() int {
	n, err := d.cgroups.KillAll(unix.SIGKILL)
	if err != nil {
		d.log.Warn("cannot kill every process", "err", err)
	}
	for _, pid := range d.remainingChildren() {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// killRemaining ends what the units left behind. As PID 1 that is every
// other process; elsewhere, only our own descendants (orphans reparented
// to us as subreaper), so nothing tend did not start is touched. It waits
// for their exits (woken by the reaper), SIGKILLing what is left after
// 5 s, and stops waiting when hurry is closed.
func (d *daemon) killRemaining(hurry <-chan struct{}) {
	pids := d.remainingChildren()
	if len(pids) == 0 {
		return
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for len(d.remainingChildren()) > 0 {
		select {
		case <-d.reaped:
		case <-hurry:
			return
		case <-deadline.C:
			for _, pid := range d.remainingChildren() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
	}
}
