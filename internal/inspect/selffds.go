package inspect

import (
	"context"
	"time"
)

// SelfFDSource is a UnitSource that can also say what the daemon's own
// descriptors are for (the CLI's client can). The other end of a service's
// stdout, of its /dev/log datagrams or of a client's API connection is
// usually tend itself; with the roles, tend fds shows
// "tend (journal: web.service stdout) pid 412 fd 9" instead of
// "tend pid 412 fd 9".
type SelfFDSource interface {
	SelfFDs(ctx context.Context) (pid int, roles map[int]string, err error)
}

// selfFDsTimeout bounds the question to the daemon: the listing is
// complete without the roles, so a slow or hung daemon must not hold it up.
const selfFDsTimeout = time.Second

// selfRoles is the daemon's answer for one listing. It is asked for at
// most once, and only when some peer is a tend process, so listings that
// never meet tend cost no round trip.
type selfRoles struct {
	asked bool
	pid   int // 0: no daemon answered
	roles map[int]string
}

// role returns what fd of pid is for when pid is the daemon, else "".
func (s *selfRoles) role(ctx context.Context, units UnitSource, pid, fd int) string {
	if !s.asked {
		s.asked = true
		if src, ok := units.(SelfFDSource); ok {
			ctx, cancel := context.WithTimeout(ctx, selfFDsTimeout)
			defer cancel()
			if p, roles, err := src.SelfFDs(ctx); err == nil {
				s.pid, s.roles = p, roles
			}
		}
	}
	if s.pid == 0 || pid != s.pid {
		return ""
	}
	return s.roles[fd]
}

// peer is the Peer for fd of pid, with the descriptor's role when pid is
// the daemon.
func (r *peerResolver) peer(pid int, comm, unit string, fd int) *Peer {
	p := &Peer{PID: pid, Comm: comm, Unit: unit, FD: fd}
	// The askers' own rows carry only the cgroup's label, hence the comm.
	if unit != SelfLabel && comm != "tend" {
		return p
	}
	p.Role = r.self.role(r.ctx, r.c.Units, pid, fd)
	return p
}
