// Package svdir speaks the file formats and protocol of runit and
// daemontools service directories: the supervise/ directory that runit's
// runsv and daemontools' supervise maintain (status, stat, pid, the
// control and ok FIFOs, lock), the service directory itself (run, finish,
// down, check, env/, log/, control/X) and scan directories as runsvdir
// reads them. It has no runtime of its own: the service-directory engine
// decides what runs, and uses this package so that runit's sv and
// daemontools' svstat/svc work against tend unchanged.
package svdir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is what runsv reports about the service's process (status byte
// 19, and the first word of supervise/stat).
type State uint8

// States, numbered as in the status file.
const (
	StateDown   State = 0 // no process
	StateRun    State = 1 // ./run is running
	StateFinish State = 2 // ./finish is running after ./run exited
)

func (s State) String() string {
	switch s {
	case StateDown:
		return "down"
	case StateRun:
		return "run"
	case StateFinish:
		return "finish"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Want is what the supervisor was told to keep the service at.
type Want uint8

// Wants. The binary status has room for 'u' and 'd' only, so WantExit is
// written as 'd' there and only supervise/stat tells it apart.
const (
	WantUp   Want = iota // restart ./run when it exits
	WantDown             // do not restart (sv down, sv once)
	WantExit             // stop, then the supervisor goes away (sv exit)
)

func (w Want) String() string {
	switch w {
	case WantUp:
		return "up"
	case WantDown:
		return "down"
	case WantExit:
		return "exit"
	}
	return fmt.Sprintf("want(%d)", uint8(w))
}

// Sizes of the binary status file: runit's runsv writes StatusSize bytes,
// of which daemontools' supervise wrote (and its svstat reads) the first
// DaemontoolsSize.
const (
	StatusSize      = 20
	DaemontoolsSize = 18
)

// Status is the content of supervise/status (and of supervise/stat).
type Status struct {
	// Since is when the service last changed between up and down: runsv
	// stamps it when ./run starts and when the service is down again
	// (not when ./finish starts). sv prints the seconds since then.
	Since  time.Time
	PID    int   // the running ./run or ./finish; 0 when down
	Paused bool  // sent SIGSTOP with 'p' and not continued yet
	Want   Want  // up, down or exit
	Term   bool  // SIGTERM sent and the process has not exited yet
	State  State // down, run or finish
}

// tai64Base is the TAI64 label of the Unix epoch as libtai computes it
// (2^62 plus the 10 s TAI was ahead of UTC in 1970); runit and
// daemontools both use it, and sv subtracts two such labels.
const tai64Base = 1<<62 + 10

// Encode returns the 20 bytes runsv writes to supervise/status: a TAI64N
// stamp (8 bytes of seconds, 4 of nanoseconds, big-endian), the pid
// (4 bytes, little-endian), the paused flag, 'u' or 'd', the term flag
// and the state. The first 18 bytes are daemontools' format.
func (s Status) Encode() [StatusSize]byte {
	var b [StatusSize]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(s.Since.Unix()+tai64Base))
	binary.BigEndian.PutUint32(b[8:12], uint32(s.Since.Nanosecond()))
	binary.LittleEndian.PutUint32(b[12:16], uint32(s.PID))
	b[16] = flag(s.Paused)
	b[17] = 'd'
	if s.Want == WantUp {
		b[17] = 'u'
	}
	b[18] = flag(s.Term)
	b[19] = byte(s.State)
	return b
}

func flag(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// DecodeStatus reads a status file written by runit's runsv (20 bytes) or
// by daemontools' supervise (18 bytes, whose state follows from the pid).
// Flag bytes are true when non-zero, as the C readers treat them;
// daemontools writes want 0 for "once", read as WantDown.
func DecodeStatus(b []byte) (Status, error) {
	if len(b) != StatusSize && len(b) != DaemontoolsSize {
		return Status{}, fmt.Errorf("status: %d bytes; want %d (runit) or %d (daemontools)", len(b), StatusSize, DaemontoolsSize)
	}
	label := binary.BigEndian.Uint64(b[0:8])
	nano := binary.BigEndian.Uint32(b[8:12])
	if label < 1<<62 || label >= 1<<63 {
		return Status{}, fmt.Errorf("status: timestamp label %#x is not a TAI64 time", label)
	}
	if nano >= 1e9 {
		return Status{}, fmt.Errorf("status: %d nanoseconds", nano)
	}
	s := Status{
		Since:  time.Unix(int64(label)-tai64Base, int64(nano)),
		PID:    int(binary.LittleEndian.Uint32(b[12:16])),
		Paused: b[16] != 0,
	}
	switch b[17] {
	case 'u':
		s.Want = WantUp
	case 'd', 0:
		s.Want = WantDown
	default:
		return Status{}, fmt.Errorf("status: want byte %q is neither 'u' nor 'd'", b[17])
	}
	if len(b) == DaemontoolsSize {
		if s.PID != 0 {
			s.State = StateRun
		}
		return s, nil
	}
	s.Term = b[18] != 0
	if b[19] > byte(StateFinish) {
		return Status{}, fmt.Errorf("status: state byte %d is not 0 (down), 1 (run) or 2 (finish)", b[19])
	}
	s.State = State(b[19])
	return s, nil
}

// Stat returns the line runsv writes to supervise/stat, such as
// "run, got TERM, want down\n".
func (s Status) Stat() string {
	var b strings.Builder
	b.WriteString(s.State.String())
	if s.Paused {
		b.WriteString(", paused")
	}
	if s.Term {
		b.WriteString(", got TERM")
	}
	if s.State != StateDown {
		switch s.Want {
		case WantDown:
			b.WriteString(", want down")
		case WantExit:
			b.WriteString(", want exit")
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// ParseStat reads a supervise/stat line back into the fields it carries
// (State, Paused, Term, and Want when the service is not down; a down
// service's want is not written and comes back as WantUp). Monitoring
// scripts read this file; tend reads it from directories runsv runs.
func ParseStat(text string) (Status, error) {
	line, rest, _ := strings.Cut(text, "\n")
	if rest != "" {
		return Status{}, errors.New("stat: more than one line")
	}
	words := strings.Split(line, ", ")
	var s Status
	switch words[0] {
	case "down":
		s.State = StateDown
	case "run":
		s.State = StateRun
	case "finish":
		s.State = StateFinish
	default:
		return Status{}, fmt.Errorf("stat: unknown state %q", words[0])
	}
	for _, w := range words[1:] {
		switch {
		case w == "paused" && !s.Paused:
			s.Paused = true
		case w == "got TERM" && !s.Term:
			s.Term = true
		case (w == "want down" || w == "want exit") && s.Want == WantUp && s.State != StateDown:
			s.Want = WantDown
			if w == "want exit" {
				s.Want = WantExit
			}
		default:
			return Status{}, fmt.Errorf("stat: unexpected %q", w)
		}
	}
	return s, nil
}
