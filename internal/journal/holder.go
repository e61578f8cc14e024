package journal

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Holder keeps descriptors outside tend (internal/fdholder). Hold and
// Release must not block: the journal calls them when it creates a
// pipe, on a unit's start path, and when it closes one.
type Holder interface {
	Hold(name string, fd int)
	Release(name string)
}

// HeldPrefix begins the holder names of the journal's pipes:
// "journal:UNIT:STREAM:INODE". The inode tells one pipe from another
// (it is unique while the pipe exists) and matches the pipe to the
// /proc/PID/fd/N of the process that writes to it.
const HeldPrefix = "journal:"

// HeldName is the holder name of a pipe of unit and stream with inode ino.
func HeldName(unit string, stream Stream, ino uint64) string {
	return fmt.Sprintf("%s%s:%s:%d", HeldPrefix, unit, stream, ino)
}

// ParseHeldName takes a holder name apart; ok is false for a name that
// is not a journal pipe's.
func ParseHeldName(name string) (unit string, stream Stream, ino uint64, ok bool) {
	rest, found := strings.CutPrefix(name, HeldPrefix)
	if !found {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	ino, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, ':')
	if j <= 0 {
		return "", 0, 0, false
	}
	switch rest[j+1:] {
	case StreamStdout.String():
		stream = StreamStdout
	case StreamStderr.String():
		stream = StreamStderr
	default:
		return "", 0, 0, false
	}
	return rest[:j], stream, ino, true
}

// hold gives the holder a duplicate of p's read end.
func (p *Pipe) hold() {
	h := p.j.opts.Holder
	if h == nil {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(p.fd, &st) != nil {
		return
	}
	p.held = HeldName(p.src.Unit, p.src.Stream, st.Ino)
	h.Hold(p.held, p.fd)
}

// spool gives p a spool (spool.go) when the journal has a spool
// directory and a holder (without one, the pipe dies with tend and a
// spool saves nothing): the one a previous manager left for the same
// pipe when adopting it, whose uncommitted rest is read first; a new one
// holding pending; or, with nothing pending, one made at the first read,
// so that a pipe nobody writes to costs no file and no descriptor.
// Called before the loop polls p.
func (p *Pipe) spool(adopt bool, pending []byte) {
	j := p.j
	if j.opts.SpoolDir == "" || j.opts.Holder == nil || p.in.epfd < 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(p.fd, &st) != nil {
		return
	}
	p.ino = st.Ino
	if sp := p.takeSpool(adopt, st.Ino, pending); sp != nil {
		// The spool's bytes from its committed offset on are read
		// before the pipe's; pending (the same bytes) is dropped.
		if p.pid.Load() == 0 {
			p.pid.Store(int64(sp.pid))
		}
		p.sp, p.pending = sp, nil
		if sp.backlog() { // else nothing is replayed, nothing skipped
			p.skip = j.pipeRecords(p.src.Unit, sp.pid, sp.stream, sp.lastSeq)
		}
		sp.pid, sp.stream = int(p.pid.Load()), p.src.Stream
		return
	}
	p.lazy = true
	if len(pending) > 0 {
		p.makeSpool(pending)
	}
}

// takeSpool is Journal.takeSpool with what spools share.
func (p *Pipe) takeSpool(adopt bool, ino uint64, pending []byte) *spool {
	if !adopt {
		return nil
	}
	p.in.spoolMu.Lock()
	defer p.in.spoolMu.Unlock()
	sio, err := p.in.spoolIO()
	if err != nil {
		return nil
	}
	sp := p.j.takeSpool(sio, ino, pending)
	if sp == nil {
		p.in.spoolDone()
	}
	return sp
}

// makeSpool creates p's spool holding pending (p's pending bytes then
// live in it); without one, p is read with read(2).
func (p *Pipe) makeSpool(pending []byte) {
	p.lazy = false
	p.in.spoolMu.Lock()
	defer p.in.spoolMu.Unlock()
	sio, err := p.in.spoolIO()
	if err != nil {
		p.j.log.Warn("journal: no spool for a pipe; a crash may lose what was read of it", "unit", p.src.Unit, "err", err)
		return
	}
	sp, err := p.j.newSpool(sio, p.ino, int(p.pid.Load()), p.src.Stream, pending)
	if err != nil {
		p.in.spoolDone()
		p.j.log.Warn("journal: no spool for a pipe; a crash may lose what was read of it", "unit", p.src.Unit, "err", err)
		return
	}
	p.in.mu.Lock() // FDs reads sp under it
	p.sp = sp
	p.in.mu.Unlock()
	p.pending = nil
}

// release tells the holder the pipe is done with: its writers are gone
// and every line it carried is stored.
func (p *Pipe) release() {
	if p.held != "" {
		p.j.opts.Holder.Release(p.held)
	}
}
