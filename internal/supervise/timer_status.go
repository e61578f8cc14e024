package supervise

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	timerspec "github.com/tendproject/tend/internal/timer"
)

// TimerStatus is what status and show say about a timer unit, under
// systemd's property names.
type TimerStatus struct {
	Unit string // what it triggers
	// NextElapseRealtime is the next elapse on the wall clock (zero:
	// none); NextElapseMonotonic the next monotonic one, since boot
	// (0: none). Both include the random delay, not the coalescing.
	NextElapseRealtime  time.Time
	NextElapseMonotonic time.Duration
	// NextElapse is the earlier of the two on the wall clock.
	NextElapse      time.Time
	LastTrigger     time.Time // zero: never (since the start, or per the stamp)
	Persistent      bool
	Accuracy        time.Duration
	RandomizedDelay time.Duration
	Calendar        []TimerCalendar
	Monotonic       []TimerMonotonic
}

// TimerCalendar is one OnCalendar= line and its next elapse.
type TimerCalendar struct {
	Spec string // normalized
	Next time.Time
}

// TimerMonotonic is one OnActiveSec=… line and its next elapse since boot.
type TimerMonotonic struct {
	Base string // "OnBootUSec", as systemd's TimersMonotonic names it
	Span time.Duration
	Next time.Duration // 0: spent or not known yet
}

func (t *timer) status(st *Status) {
	if t.reason != "" && (t.state == Dead || t.state == Failed) {
		st.StatusText = t.reason
	}
	spec := t.spec
	if spec == nil || t.state == Dead || t.state == Failed {
		var ok bool
		if spec, _, ok = timerspec.ParseSpec(t.def, nil, time.Local); !ok {
			return // bad-setting: nothing to show
		}
	}
	ts := &TimerStatus{Unit: spec.Unit, NextElapseRealtime: t.next, Persistent: spec.Persistent,
		Accuracy: spec.Accuracy, RandomizedDelay: spec.RandomizedDelay}
	if !t.last.IsZero() {
		ts.LastTrigger = t.last.Round(0)
	}
	waiting := t.state == Waiting && t.env != nil
	if waiting && !t.nextMono.IsZero() {
		ts.NextElapseMonotonic = t.nextMono.Sub(t.env.Boot)
	}
	ts.NextElapse = t.next
	if m := t.nextMono.Round(0); waiting && !t.nextMono.IsZero() && (ts.NextElapse.IsZero() || m.Before(ts.NextElapse)) {
		ts.NextElapse = m
	}
	var cals []timerspec.Calendar
	if t.env != nil {
		cals = spec.Calendars(t.env.specifiers, t.env.Local(), &t.env.calendars)
	} else {
		cals = spec.Calendars(nil, time.Local, nil)
	}
	for _, c := range cals {
		tc := TimerCalendar{Spec: c.Schedule.String()}
		if waiting {
			base := t.last
			if base.IsZero() {
				base = t.since
			}
			tc.Next = c.Schedule.Next(base.Round(0))
		}
		ts.Calendar = append(ts.Calendar, tc)
	}
	for i, v := range spec.Monotonic {
		tm := TimerMonotonic{Base: v.Base.USecName(), Span: v.Span}
		if waiting && (i >= 32 || t.spent&(1<<i) == 0) {
			if base := t.monoBase(v.Base, t.since); !base.IsZero() {
				tm.Next = addSpan(base, v.Span).Sub(t.env.Boot)
			}
		}
		ts.Monotonic = append(ts.Monotonic, tm)
	}
	st.Timer = ts
}

// stampPath is where the Persistent= stamp of t lives ("" for none).
func (t *timer) stampPath(m *Manager) string {
	dir := m.opts.Timers.StampDir
	if dir == "" || t.spec == nil || !t.spec.Persistent {
		return ""
	}
	return filepath.Join(dir, "stamp-"+t.name)
}

// readStamp takes the last trigger from the stamp, as systemd's
// timer_start does: a stamp in the future is not used; a timer that
// never ran gets one now, so that its first run is not taken as missed
// at the next start.
func (t *timer) readStamp(m *Manager) {
	p := t.stampPath(m)
	if p == "" {
		return
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		if mt := fi.ModTime(); mt.Before(m.clock.Now().Round(0)) {
			t.last, t.lastWall = mt, true
		} else {
			m.event(t.rt, prioWarn, "%s: Not using persistent file timestamp %s as it is in the future.", t.name, mt.Format(time.RFC3339))
		}
	case errors.Is(err, fs.ErrNotExist):
		t.touch(m, p, m.clock.Now())
	default:
		m.event(t.rt, prioWarn, "%s: cannot read %s: %v", t.name, p, err)
	}
}

// writeStamp records a trigger now.
func (t *timer) writeStamp(m *Manager) {
	if p := t.stampPath(m); p != "" {
		t.touch(m, p, t.last)
	}
}

func (t *timer) touch(m *Manager, p string, at time.Time) {
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
			f.Close()
			err = os.Chtimes(p, at, at)
		}
	}
	if err != nil {
		m.event(t.rt, prioWarn, "%s: cannot write the Persistent= stamp: %v", t.name, err)
	}
}
