package journal

import (
	"github.com/tendproject/tend/internal/fdrole"
)

// FDs names the descriptors the journal holds, for `tend fds`: the read
// end of every pipe it ingests ("journal: web.service stdout") and its
// spool file, the active segment of every unit, the directory lock and
// the pipe reader's own epoll and eventfd.
func (j *Journal) FDs() map[int]string {
	r := fdrole.Roles{}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.closed {
		return r
	}
	r.Add(j.lock, "journal lock "+j.lock.Name())
	for name, u := range j.units {
		if u.f != nil {
			r.Add(u.f, "journal segment "+name)
		}
	}
	if in := j.in; in != nil && in.epfd >= 0 {
		r[in.epfd] = "journal pipe reader (epoll)"
		r[in.wake] = "journal pipe reader (wake-up)"
		in.pipeFDs(r)
	}
	return r
}

// pipeFDs adds the pipes the loop reads. The loop deletes a pipe from byFD
// before it closes it, so a pipe found here under mu is still open.
func (in *ingest) pipeFDs(r fdrole.Roles) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for fd, p := range in.byFD {
		r[int(fd)] = "journal: " + p.src.Unit + " " + p.src.Stream.String()
		if p.sp != nil {
			r.Add(p.sp.f, "journal spool: "+p.src.Unit+" "+p.src.Stream.String())
			r.Add(p.sp.x, "journal spool pipe: "+p.src.Unit+" "+p.src.Stream.String())
		}
	}
}
