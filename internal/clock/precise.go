package clock

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Precise is a Clock that can also wake at a deadline to the
// microsecond. The Go runtime's timers wake late by up to a millisecond
// and more: its poller sleeps in whole milliseconds. A timer unit with
// AccuracySec=1us is due to the microsecond, so its alarm uses this.
type Precise interface {
	Clock
	// PreciseAfterFunc is AfterFunc woken by the kernel's
	// high-resolution timer.
	PreciseAfterFunc(d time.Duration, f func()) Timer
}

// PreciseAfterFunc arms a monotonic timerfd (Go's monotonic clock is
// CLOCK_MONOTONIC, so deadlines from Now line up) and waits for it
// through the runtime's poller: no thread is held while it waits, and
// the wake comes when the kernel's timer expires, not at the poller's
// next millisecond. Without timerfd it falls back to time.AfterFunc.
func (realClock) PreciseAfterFunc(d time.Duration, f func()) Timer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return time.AfterFunc(d, f)
	}
	// A zero value disarms a timerfd: a deadline that has passed is
	// armed a nanosecond ahead.
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if err := unix.TimerfdSettime(fd, 0, &spec, nil); err != nil {
		unix.Close(fd)
		return time.AfterFunc(d, f)
	}
	t := &preciseTimer{file: os.NewFile(uintptr(fd), "alarm")} // non-blocking: the poller waits
	go t.wait(f)
	return t
}

// preciseTimer is one PreciseAfterFunc. Its goroutine ends when the
// timer fires or Stop closes the descriptor under its read; whichever
// comes first settles state, and the descriptor is closed once.
type preciseTimer struct {
	file  *os.File
	state atomic.Int32 // preciseArmed, then preciseFired or preciseStopped
}

const (
	preciseArmed int32 = iota
	preciseFired
	preciseStopped
)

func (t *preciseTimer) wait(f func()) {
	var buf [8]byte
	_, err := t.file.Read(buf[:])
	if err != nil {
		return // closed by Stop
	}
	if t.state.CompareAndSwap(preciseArmed, preciseFired) {
		t.file.Close()
		f()
	}
}

// Stop prevents the call if the timer has not fired; the read then
// fails on the closed descriptor and the goroutine ends.
func (t *preciseTimer) Stop() bool {
	if !t.state.CompareAndSwap(preciseArmed, preciseStopped) {
		return false
	}
	t.file.Close()
	return true
}
