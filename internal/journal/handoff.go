package journal

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A re-exec'd manager takes the pipes over from the old one without a
// byte lost or reordered: the old process stops its reader between two
// reads (every line it read is committed by then) and hands over each
// read end with the unterminated rest it had read; what the services
// write meanwhile waits in the pipe, and the new process goes on reading
// where the old one stopped.

// PipeState is one pipe's read end as handed to the next process.
type PipeState struct {
	FD      int    `json:"fd"`
	Source  Source `json:"source"`
	PID     int    `json:"pid"`
	Pending []byte `json:"pending,omitempty"`
	// Held: the fd holder keeps this pipe already, under HeldName of
	// its source and inode (it came from there after a crash), so it is
	// not given to it again.
	Held bool `json:"-"`
}

// DetachPipes stops reading every pipe and returns their read ends,
// still open, for a re-exec. The caller keeps them across exec (clears
// close-on-exec) and closes the journal; Close then leaves them open.
func (j *Journal) DetachPipes() []PipeState {
	j.wmu.Lock()
	in := j.in
	j.in = nil
	j.wmu.Unlock()
	if in == nil || in.epfd < 0 {
		return nil
	}
	in.mu.Lock()
	in.stopping = true
	in.mu.Unlock()
	one := [8]byte{1}
	_, _ = unix.Write(in.wake, one[:])
	<-in.done // the loop stops between reads: what it read is committed
	in.mu.Lock()
	var out []PipeState
	for fd, p := range in.byFD {
		out = append(out, PipeState{FD: int(fd), Source: p.src, PID: int(p.pid.Load()), Pending: p.pending})
		if p.sp != nil {
			// The next process takes the spool back from its header.
			_ = p.sp.mark()
			p.sp.x.Close() // the holder keeps it
			p.sp.f.Close()
		}
	}
	in.byFD = nil
	in.mu.Unlock()
	in.closeFDs()
	return out
}

// AdoptPipes reads the pipes a previous process handed over, from where
// it stopped. A descriptor that is not a pipe's read end is refused and
// closed: nothing else may be read as a service's output.
func (j *Journal) AdoptPipes(ps []PipeState) error {
	var bad []int
	for _, s := range ps {
		var st unix.Stat_t
		if unix.Fstat(s.FD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			unix.Close(s.FD)
			bad = append(bad, s.FD)
			continue
		}
		fl, err := unix.FcntlInt(uintptr(s.FD), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_ACCMODE != unix.O_RDONLY {
			unix.Close(s.FD)
			bad = append(bad, s.FD)
			continue
		}
		unix.CloseOnExec(s.FD)
		_ = unix.SetNonblock(s.FD, true)
		p := &Pipe{fd: s.FD, j: j, src: s.Source, done: make(chan struct{}), lb: newLineBatcher(j, s.Source),
			pending: s.Pending}
		p.pid.Store(int64(s.PID))
		p.armed.Store(true)
		j.wmu.Lock()
		if j.closed || j.closing {
			j.wmu.Unlock()
			unix.Close(s.FD)
			return errClosed
		}
		p.in = j.ingestLocked()
		j.wmu.Unlock()
		if s.Held && j.opts.Holder != nil {
			p.held = HeldName(s.Source.Unit, s.Source.Stream, st.Ino)
		} else {
			p.hold() // before the loop may see EOF and release it
		}
		p.spool(true, s.Pending)
		if err := p.in.add(p, true); err != nil {
			p.release()
			unix.Close(s.FD)
			bad = append(bad, s.FD)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("journal: descriptors %v handed over are not pipes' read ends; not read", bad)
	}
	return nil
}
