package clock

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Precise is a Clock that can also wake at a deadline to the
// microsecond. The Go runtime's timers wake late by up to a millisecond
// and more: its poller sleeps in whole milliseconds. A timer unit with
// AccuracySec=1us is due to the microsecond, so its alarm uses this.
type Precise interface {
	Clock
	// NewAlarm returns a disarmed Alarm that calls f each time it
	// fires. Its owner closes it.
	NewAlarm(f func()) (Alarm, error)
}

// Alarm is a one-shot timer that is re-armed rather than made anew: one
// kernel timer and one waiting goroutine for its whole life, however
// often the deadline moves.
type Alarm interface {
	// Reset arms the alarm to call f once d has passed, replacing a
	// deadline not yet reached.
	Reset(d time.Duration)
	// Stop disarms it; it reports whether that prevented a call.
	Stop() bool
	// Close disarms it for good and ends its goroutine.
	Close() error
}

// NewAlarm makes a monotonic timerfd (Go's monotonic clock is
// CLOCK_MONOTONIC, so deadlines from Now line up) and waits for it
// through the runtime's poller: no thread is held while it waits, and
// the wake comes when the kernel's timer expires, not at the poller's
// next millisecond.
func (realClock) NewAlarm(f func()) (Alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("cannot create alarm timer: %w", err)
	}
	a := &preciseAlarm{file: os.NewFile(uintptr(fd), "alarm"), fd: fd, f: f, done: make(chan struct{})}
	go a.wait()
	return a, nil
}

// preciseAlarm is NewAlarm's timerfd and the goroutine reading it.
type preciseAlarm struct {
	file *os.File // non-blocking: the poller waits
	fd   int
	f    func()
	done chan struct{} // closed when wait returns

	mu     sync.Mutex // guards armed, at, closed
	armed  bool
	closed bool // the descriptor's number may name another file now
	// at is no later than the kernel's expiry: a read that returns
	// before it is of an earlier arming, which Reset replaced.
	at time.Time
}

func (a *preciseAlarm) Reset(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.at = time.Now().Add(d)
	a.armed = true
	// A zero value disarms a timerfd: a deadline that has passed is
	// armed a nanosecond ahead. Setting the time also clears an expiry
	// not yet read.
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if err := unix.TimerfdSettime(a.fd, 0, &spec, nil); err != nil {
		// Only a closed descriptor fails here (the spec is valid).
		a.armed = false
	}
}

func (a *preciseAlarm) Stop() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	was := a.armed
	a.armed = false
	if !a.closed {
		// Disarmed, the kernel timer does not wake the process at all.
		_ = unix.TimerfdSettime(a.fd, 0, &unix.ItimerSpec{}, nil)
	}
	return was
}

// Close must not be called from f: it waits for the goroutine that
// calls f to end.
func (a *preciseAlarm) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed, a.armed = true, false
	a.mu.Unlock()
	err := a.file.Close() // fails the pending read: wait returns
	<-a.done
	return err
}

func (a *preciseAlarm) wait() {
	defer close(a.done)
	var buf [8]byte
	for {
		if _, err := a.file.Read(buf[:]); err != nil {
			return // closed by Close
		}
		if a.due() {
			a.f()
		}
	}
}

// due reports, once per arming, that the current deadline has come.
func (a *preciseAlarm) due() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.armed || time.Now().Before(a.at) {
		return false
	}
	a.armed = false
	return true
}
